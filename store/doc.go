// Package store owns the PostgreSQL connection pool and the schema migrations of infowork.
//
// The database is the system of record. Migrations are numbered SQL files embedded in the
// binary; each runs in its own transaction and the runner holds an advisory lock so that several
// processes starting at once migrate exactly once. All SQL stays within what PostgreSQL 12 accepts
// (KingbaseES V8R6 compatibility).
package store
