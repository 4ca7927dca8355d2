// Package testpg gives integration tests a real PostgreSQL database.
//
// All test processes of one checkout share a single private cluster in
// <repo root>/.data/testpg on 127.0.0.1:55432 (fsync off), started on first use by
// whichever `go test` package process gets there first; an flock on
// <repo root>/.data/testpg.lock makes the others wait instead of racing. The cluster is
// left running for the next test run; `make clean` stops it. Set
// INFOWORK_TEST_DATABASE_URL to use another server instead (its user must be allowed to
// create databases), or INFOWORK_TEST_PG_PORT to move the shared cluster off 55432 (for a
// second checkout on the same machine).
//
// Each test gets its own database from NewDatabase or NewDatabaseFromTemplate, dropped
// when the test ends, so tests may commit, LISTEN/NOTIFY and run in parallel.
//
// PostgreSQL missing is a test failure, not a skip: CI always installs it.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"infowork/pgserver"
)

// EnvURL names the environment variable that points tests at an existing server.
const EnvURL = "INFOWORK_TEST_DATABASE_URL"

// Port is where the shared test cluster listens unless $INFOWORK_TEST_PG_PORT says
// otherwise (for a second checkout on the same machine).
const Port = 55432

// EnvPort names the environment variable that moves the shared test cluster's port.
const EnvPort = "INFOWORK_TEST_PG_PORT"

var (
	adminMu  sync.Mutex
	adminDSN string
	adminErr error
	counter  atomic.Int64
)

// AdminDSN returns a DSN to the shared test cluster (database "postgres"), starting the
// cluster if needed, or $INFOWORK_TEST_DATABASE_URL when set. It fails the test with the
// reason when no server can be had.
func AdminDSN(t testing.TB) string {
	t.Helper()
	adminMu.Lock()
	defer adminMu.Unlock()
	if adminDSN == "" && adminErr == nil {
		adminDSN, adminErr = ensureCluster(t)
	}
	if adminErr != nil {
		t.Fatalf("testpg: no PostgreSQL for tests: %v", adminErr)
	}
	return adminDSN
}

func ensureCluster(t testing.TB) (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dataDir := filepath.Join(root, ".data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil { // #nosec G301 -- .data must be traversable by the postgres user that owns .data/testpg
		return "", err
	}
	port := Port
	if p := os.Getenv(EnvPort); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("%s=%q is not a port number", EnvPort, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	unlock, err := lockFile(ctx, filepath.Join(dataDir, "testpg.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	dsn, err := pgserver.Ensure(ctx, pgserver.Options{
		Dir:      filepath.Join(dataDir, "testpg"),
		Port:     port,
		Database: "postgres",
		Fast:     true,
		Out:      logWriter{t},
		Logger:   slog.New(slog.NewTextHandler(logWriter{t}, nil)),
	})
	if err != nil {
		return "", fmt.Errorf("%w (set %s to use another server, or %s to move the test cluster)", err, EnvURL, EnvPort)
	}
	return dsn, nil
}

// repoRoot is the directory of the go.mod found by walking up from the working directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// lockFile takes an exclusive flock, polling so that a stuck holder turns into an error
// rather than a hung test run.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- the lock file path is built from the repository root
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waited too long for the lock %s held by another test process: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NewDatabase creates an empty database with a unique name and returns its DSN. The
// database is dropped when the test ends, after its remaining connections are terminated.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// NewDatabaseFromTemplate is NewDatabase cloning template (CREATE DATABASE … TEMPLATE …),
// for example a database migrated once per package. The template must have no open
// connections while it is cloned; the clone is retried for a few seconds while it has.
func NewDatabaseFromTemplate(t testing.TB, template string) string {
	t.Helper()
	if template == "" {
		t.Fatal("testpg: NewDatabaseFromTemplate: empty template name")
	}
	return newDatabase(t, template)
}

func newDatabase(t testing.TB, template string) string {
	t.Helper()
	admin := AdminDSN(t)
	name := uniqueName()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testpg: connect to %s: %v", redact(admin), err)
	}
	defer conn.Close(context.Background())

	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil || !isCode(err, "55006") || attempt >= 100 { // object_in_use: template busy
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testpg: %s: %v", sql, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	return dsn
}

// dropDatabase terminates the database's connections and drops it. It uses only SQL that
// PostgreSQL 12 accepts (DROP DATABASE … WITH (FORCE) is 13+).
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("testpg: drop database %s: connect: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	// Forbid new connections first so a pool cannot reconnect between terminate and drop.
	_, _ = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS false")
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		}
		if err == nil || !isCode(err, "55006") || attempt >= 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("testpg: drop database %s: %v", name, err)
	}
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// uniqueName is unique across the parallel test processes of one run and across runs.
func uniqueName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("t_%d_%d_%s", os.Getpid(), counter.Add(1), hex.EncodeToString(b[:]))
}

// withDatabase returns dsn with its database replaced by db. It accepts URLs and
// keyword/value strings.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvURL, err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil // later keywords win
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}

// logWriter sends pgserver's progress lines to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
