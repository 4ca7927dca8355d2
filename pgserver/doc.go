// Package pgserver runs a private PostgreSQL cluster for development (`make run`) and tests.
//
// The cluster lives entirely inside one directory (data in Dir/data, unix socket and
// postgres.log in Dir), listens only on 127.0.0.1 and trusts local connections as the
// user "infowork". It uses the server binaries of the operating system's packages
// (Debian's /usr/lib/postgresql/<version>/bin); when they are missing and the process
// runs as root on a Debian-like system, Ensure installs the `postgresql` package.
//
// PostgreSQL refuses to run as root. When the caller is root, the cluster directory is
// handed to the "postgres" system user (created if missing) and initdb/pg_ctl run through
// runuser (or su). Every ancestor of the directory must then be searchable by that user;
// Ensure adds the search bit (o+x, never read) where one is missing, because Go's
// t.TempDir and many CI checkouts live under mode-0700 directories.
//
// Nothing here is needed in production, where INFOWORK_DATABASE_URL points at a managed
// PostgreSQL or KingbaseES.
package pgserver
