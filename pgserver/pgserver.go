package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults applied by Ensure when an Options field is zero.
const (
	DefaultPort     = 54329
	DefaultDatabase = "infowork"
	// User is the superuser created by initdb; local connections are trusted.
	User = "infowork"
)

// ErrNotInstalled is returned (wrapped) when no PostgreSQL server binaries can be found
// and they cannot be installed automatically.
var ErrNotInstalled = errors.New("PostgreSQL server not found: install it with `sudo apt-get install postgresql` (Debian/Ubuntu) or set INFOWORK_DATABASE_URL")

// ErrPortInUse is returned (wrapped) when the cluster is not running and its port is
// already taken by another process.
var ErrPortInUse = errors.New("port already in use")

// Options configure Ensure.
type Options struct {
	// Dir holds the cluster: data in Dir/data, unix socket, postgres.log and the generated
	// settings in Dir. Created if missing. Required.
	Dir string
	// Port is the TCP port on 127.0.0.1; DefaultPort when zero.
	Port int
	// Database is created if missing; DefaultDatabase when empty.
	Database string
	// Fast trades durability for speed (fsync, synchronous_commit and full_page_writes off).
	// Only for throw-away test clusters: a crash can corrupt the data.
	Fast bool
	// Logger receives structured progress; slog.Default() when nil.
	Logger *slog.Logger
	// Out receives progress lines for humans (installing, initialising, starting); may be nil.
	Out io.Writer
}

const (
	dataSubdir    = "data"
	logFile       = "postgres.log"
	settingsFile  = "infowork.conf" // inside the data directory, included from postgresql.conf
	startTimeout  = 120 * time.Second
	readyTimeout  = 60 * time.Second
	maxLogSize    = 64 << 20
	maxSocketPath = 107 // sizeof(sun_path) - 1 on Linux
)

// Ensure finds the PostgreSQL server binaries (installing them when possible), initialises
// the cluster in opts.Dir if needed, starts it unless it is already running, creates
// opts.Database if missing, and returns its DSN, for example
// "postgres://infowork@127.0.0.1:54329/infowork?sslmode=disable".
// It is idempotent: a cluster already running on opts.Dir is reused.
func Ensure(ctx context.Context, opts Options) (string, error) {
	s, err := newServer(ctx, opts)
	if err != nil {
		return "", err
	}
	if err := s.initdb(ctx); err != nil {
		return "", err
	}
	if err := s.start(ctx); err != nil {
		return "", err
	}
	if err := s.waitReady(ctx); err != nil {
		return "", err
	}
	if err := s.createDatabase(ctx); err != nil {
		return "", err
	}
	return DSN(s.opts.Port, s.opts.Database), nil
}

// DSN returns the URL of database db on a pgserver cluster listening on port.
func DSN(port int, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(User),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts down the cluster in dir (pg_ctl stop -m fast) and waits until it is gone.
// Stopping a cluster that is not running is not an error.
func Stop(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pgserver: resolve dir: %w", err)
	}
	data := filepath.Join(dir, dataSubdir)
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		return nil // never initialised
	}
	if pid, _, ok := runningPostmaster(data); !ok || pid == 0 {
		return nil
	}
	bin, err := FindBinaries()
	if err != nil {
		return err
	}
	r, err := newRunner(ctx, io.Discard, slog.Default())
	if err != nil {
		return err
	}
	out, err := r.run(ctx, dir, filepath.Join(bin, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		if _, _, ok := runningPostmaster(data); !ok {
			return nil // stopped by someone else meanwhile
		}
		return fmt.Errorf("pgserver: stop cluster in %s: %w\n%s", dir, err, out)
	}
	return nil
}

type server struct {
	dir    string
	bin    string
	opts   Options
	log    *slog.Logger
	out    io.Writer
	runner *runner
}

func (s *server) data() string { return filepath.Join(s.dir, dataSubdir) }

func (s *server) printf(format string, args ...any) {
	fmt.Fprintf(s.out, "pgserver: "+format+"\n", args...)
}

// prepareDir creates Dir and, when running as root, hands it to the postgres user and
// makes sure that user can reach it.
func (s *server) prepareDir() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil { // #nosec G301 -- parents must stay traversable by the postgres user; the data dir itself is 0700 (initdb)
		return fmt.Errorf("pgserver: create %s: %w", s.dir, err)
	}
	if s.runner.asUser == nil {
		return nil
	}
	u := s.runner.asUser
	if err := chownTree(s.dir, u.uid, u.gid); err != nil {
		return fmt.Errorf("pgserver: hand %s to user %s: %w", s.dir, u.name, err)
	}
	fixed, err := ensureSearchable(s.dir, u)
	if err != nil {
		return fmt.Errorf("pgserver: make %s reachable for user %s: %w", s.dir, u.name, err)
	}
	for _, d := range fixed {
		s.printf("added o+x to %s so that user %s can reach the cluster", d, u.name)
		s.log.Info("added search permission", "path", d, "user", u.name)
	}
	return nil
}

// initdb creates the cluster unless Dir/data already holds one. It initialises into a
// temporary directory and renames it, so an interrupted initdb never leaves a half-made
// cluster behind.
func (s *server) initdb(ctx context.Context) error {
	data := s.data()
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		return nil
	}
	if entries, err := os.ReadDir(data); err == nil && len(entries) > 0 {
		return fmt.Errorf("pgserver: %s exists but is not a PostgreSQL data directory; remove it or choose another Dir", data)
	}
	tmp := data + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("pgserver: remove leftover %s: %w", tmp, err)
	}
	locale := "C"
	if hasCUTF8() {
		locale = "C.UTF-8"
	}
	s.printf("initialising a PostgreSQL cluster in %s (binaries %s)", data, s.bin)
	s.log.Info("initdb", "bin", s.bin, "locale", locale)
	args := []string{"-D", tmp, "--auth=trust", "--username=" + User, "--encoding=UTF8"}
	out, err := s.runner.run(ctx, s.dir, filepath.Join(s.bin, "initdb"), append(args, "--locale="+locale)...)
	if err != nil && locale != "C" {
		s.log.Warn("initdb with C.UTF-8 failed, retrying with locale C", "err", err)
		_ = os.RemoveAll(tmp)
		out, err = s.runner.run(ctx, s.dir, filepath.Join(s.bin, "initdb"), append(args, "--locale=C")...)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("pgserver: initdb in %s: %w\n%s", tmp, err, tail(out, 20))
	}
	conf := filepath.Join(tmp, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0) // #nosec G304 -- postgresql.conf inside the data directory initdb just created
	if err != nil {
		return fmt.Errorf("pgserver: open %s: %w", conf, err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings managed by infowork's pgserver, rewritten before every start.\ninclude_if_exists = '%s'\n", settingsFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgserver: write %s: %w", conf, err)
	}
	_ = os.Remove(data) // an empty directory left by hand
	if err := os.Rename(tmp, data); err != nil {
		return fmt.Errorf("pgserver: move %s to %s: %w", tmp, data, err)
	}
	return nil
}

// settings returns the contents of the managed settings file.
func (s *server) settings() string {
	sock := s.dir
	if len(filepath.Join(sock, ".s.PGSQL."+strconv.Itoa(s.opts.Port))) > maxSocketPath {
		sock = "" // too long for a unix socket path: TCP only
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by infowork pgserver; edits are overwritten at the next start.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", s.opts.Port)
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", strings.ReplaceAll(sock, "'", "''"))
	fmt.Fprintf(&b, "max_connections = 200\n")
	fmt.Fprintf(&b, "shared_buffers = 256MB\n")
	fmt.Fprintf(&b, "effective_cache_size = 1GB\n")
	fmt.Fprintf(&b, "random_page_cost = 1.1\n")
	fmt.Fprintf(&b, "logging_collector = off\n")
	fmt.Fprintf(&b, "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n")
	fmt.Fprintf(&b, "log_min_duration_statement = 1000\n")
	if s.opts.Fast {
		fmt.Fprintf(&b, "# Fast: throw-away test cluster, durability off.\n")
		fmt.Fprintf(&b, "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	} else {
		fmt.Fprintf(&b, "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
	}
	return b.String()
}

// start starts the postmaster unless one is already running on the data directory.
func (s *server) start(ctx context.Context) error {
	data := s.data()
	if pid, port, ok := runningPostmaster(data); ok {
		if port != 0 && port != s.opts.Port {
			return fmt.Errorf("pgserver: the cluster in %s is already running (pid %d) on port %d, not %d; stop it first with pgserver.Stop or use port %d", s.dir, pid, port, s.opts.Port, port)
		}
		s.log.Debug("cluster already running", "pid", pid)
		return nil
	}
	if pid, _, _ := runningPostmaster(data); pid != 0 {
		// The pid in postmaster.pid is gone or now belongs to another program (the machine
		// was restarted or the server killed). PostgreSQL would refuse to start if that pid
		// happened to be a live process of the same user, so clear it here.
		s.log.Warn("removing stale postmaster.pid", "stale_pid", pid)
		if err := os.Remove(filepath.Join(data, "postmaster.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pgserver: remove stale postmaster.pid: %w", err)
		}
	}
	if err := portFree(s.opts.Port); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, settingsFile), []byte(s.settings()), 0o600); err != nil {
		return fmt.Errorf("pgserver: write settings: %w", err)
	}
	logPath := filepath.Join(s.dir, logFile)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(logPath, logPath+".1")
	}
	if u := s.runner.asUser; u != nil {
		for _, p := range []string{filepath.Join(data, settingsFile), logPath} {
			if err := os.Lchown(p, u.uid, u.gid); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("pgserver: chown %s: %w", p, err)
			}
		}
	}
	s.printf("starting PostgreSQL on 127.0.0.1:%d (log %s)", s.opts.Port, logPath)
	s.log.Info("starting cluster", "fast", s.opts.Fast)
	out, err := s.runner.run(ctx, s.dir, filepath.Join(s.bin, "pg_ctl"), "start", "-D", data, "-l", logPath,
		"-w", "-t", strconv.Itoa(int(startTimeout/time.Second)), "-s")
	if err != nil {
		return fmt.Errorf("pgserver: start cluster in %s on port %d: %w\n%s\n--- tail of %s ---\n%s",
			s.dir, s.opts.Port, err, tail(out, 10), logPath, tailFile(logPath, 30))
	}
	return nil
}

// waitReady connects over TCP until the server answers or readyTimeout passes.
func (s *server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	dsn := DSN(s.opts.Port, "postgres") + "&connect_timeout=5"
	var last error
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgserver: PostgreSQL on 127.0.0.1:%d did not become ready within %s: %w\n--- tail of %s ---\n%s",
				s.opts.Port, readyTimeout, last, filepath.Join(s.dir, logFile), tailFile(filepath.Join(s.dir, logFile), 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, DSN(s.opts.Port, "postgres"))
	if err != nil {
		return fmt.Errorf("pgserver: connect to create database %q: %w", s.opts.Database, err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.opts.Database).Scan(&exists); err != nil {
		return fmt.Errorf("pgserver: look up database %q: %w", s.opts.Database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.opts.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgserver: create database %q: %w", s.opts.Database, err)
	}
	s.printf("created database %s", s.opts.Database)
	return nil
}

// runningPostmaster reports whether a live postmaster owns the data directory, with its
// pid and port from postmaster.pid. A postmaster.pid whose process is gone or is no
// longer a postgres process is stale; PostgreSQL itself copes with that on start.
func runningPostmaster(data string) (pid, port int, ok bool) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid")) // #nosec G304 -- fixed file name in the configured data directory
	if err != nil {
		return 0, 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 1 {
		return 0, 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, 0, false
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return pid, port, false
	}
	name := strings.TrimSpace(string(comm))
	return pid, port, name == "postgres" || name == "postmaster"
}

// portFree fails with ErrPortInUse when something already listens on 127.0.0.1:port.
func portFree(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pgserver: cannot start PostgreSQL on %s: %w by another process (%v); stop that process or choose another port", addr, ErrPortInUse, err)
	}
	return l.Close()
}

func hasCUTF8() bool {
	out, err := runQuiet("locale", "-a")
	if err != nil {
		return true // glibc 2.35+ always has C.UTF-8 built in; initdb falls back otherwise
	}
	for _, l := range strings.Fields(strings.ToLower(string(out))) {
		if l == "c.utf8" || l == "c.utf-8" {
			return true
		}
	}
	return false
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailFile(path string, n int) string {
	f, err := os.Open(path) // #nosec G304 -- the server's own log file in its data directory
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return tail(b, n)
}
