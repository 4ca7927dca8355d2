package pgserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newCluster(t *testing.T) (dir string, port int) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "pg")
	port = freePort(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := Stop(ctx, dir); err != nil {
			t.Errorf("Stop at cleanup: %v", err)
		}
	})
	return dir, port
}

func selectOne(t *testing.T, ctx context.Context, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestEnsureIdempotentStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, port := newCluster(t)
	var out bytes.Buffer
	opts := Options{Dir: dir, Port: port, Database: "app", Fast: true, Out: &out, Logger: quiet}

	dsn, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	if want := DSN(port, "app"); dsn != want {
		t.Fatalf("DSN = %q, want %q", dsn, want)
	}
	selectOne(t, ctx, dsn)
	if !strings.Contains(out.String(), "initialising") || !strings.Contains(out.String(), "starting") {
		t.Errorf("first Ensure printed no progress:\n%s", out.String())
	}
	pid1, _, running := runningPostmaster(filepath.Join(dir, "data"))
	if !running {
		t.Fatal("postmaster not running after Ensure")
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Errorf("no postgres.log in Dir: %v", err)
	}

	out.Reset()
	dsn2, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if dsn2 != dsn {
		t.Errorf("second Ensure DSN = %q, want %q", dsn2, dsn)
	}
	if pid2, _, _ := runningPostmaster(filepath.Join(dir, "data")); pid2 != pid1 {
		t.Errorf("second Ensure restarted the server: pid %d, was %d", pid2, pid1)
	}
	if out.Len() != 0 {
		t.Errorf("second Ensure should be silent, printed:\n%s", out.String())
	}

	if err := Stop(ctx, dir); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, _, running := runningPostmaster(filepath.Join(dir, "data")); running {
		t.Fatal("postmaster still running after Stop")
	}
	if conn, err := pgx.Connect(ctx, dsn+"&connect_timeout=2"); err == nil {
		conn.Close(ctx)
		t.Fatal("connected after Stop")
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatalf("Stop of a stopped cluster: %v", err)
	}

	dsn3, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatalf("Ensure after Stop: %v", err)
	}
	selectOne(t, ctx, dsn3)
	// The database made by the first Ensure survived the restart; a second one is added.
	dsnOther, err := Ensure(ctx, Options{Dir: dir, Port: port, Database: "other", Fast: true, Logger: quiet})
	if err != nil {
		t.Fatalf("Ensure with another database: %v", err)
	}
	selectOne(t, ctx, dsnOther)
}

func TestEnsureStalePidFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, port := newCluster(t)
	opts := Options{Dir: dir, Port: port, Fast: true, Logger: quiet}
	if _, err := Ensure(ctx, opts); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "data", "postmaster.pid")
	orig, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatal(err)
	}
	// Simulate a killed server whose pid now belongs to another program: this test process.
	lines := strings.SplitN(string(orig), "\n", 2)
	stale := strconv.Itoa(os.Getpid()) + "\n" + lines[1]
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatalf("Ensure with a stale postmaster.pid: %v", err)
	}
	selectOne(t, ctx, dsn)
}

func TestEnsurePortTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir, _ := newCluster(t)

	_, err = Ensure(ctx, Options{Dir: dir, Port: port, Fast: true, Logger: quiet})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("Ensure on a taken port: err = %v, want ErrPortInUse", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("error does not name the port: %v", err)
	}
}

func TestEnsureRunningOnOtherPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, port := newCluster(t)
	if _, err := Ensure(ctx, Options{Dir: dir, Port: port, Fast: true, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	other := freePort(t)
	_, err := Ensure(ctx, Options{Dir: dir, Port: other, Fast: true, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Ensure with a different port on a running cluster: err = %v, want one naming port %d", err, port)
	}
}

func TestOptionsValidation(t *testing.T) {
	ctx := context.Background()
	if _, err := Ensure(ctx, Options{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("empty Dir: err = %v", err)
	}
	if _, err := Ensure(ctx, Options{Dir: t.TempDir(), Port: 70000}); err == nil || !strings.Contains(err.Error(), "Port") {
		t.Errorf("bad Port: err = %v", err)
	}
}

func TestStopNeverInitialised(t *testing.T) {
	if err := Stop(context.Background(), t.TempDir()); err != nil {
		t.Fatalf("Stop on an empty dir: %v", err)
	}
}

func TestFindBinaries(t *testing.T) {
	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServerBinaries(dir) {
		t.Fatalf("FindBinaries returned %s without server binaries", dir)
	}

	t.Setenv("PG_BINDIR", t.TempDir())
	if _, err := FindBinaries(); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "PG_BINDIR") {
		t.Errorf("bad PG_BINDIR: err = %v", err)
	}
	t.Setenv("PG_BINDIR", dir)
	if got, err := FindBinaries(); err != nil || got != dir {
		t.Errorf("PG_BINDIR=%s: got %q, %v", dir, got, err)
	}
}

func TestDSN(t *testing.T) {
	if got, want := DSN(54329, "infowork"), "postgres://infowork@127.0.0.1:54329/infowork?sslmode=disable"; got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
}

func TestSettings(t *testing.T) {
	s := &server{dir: "/x/y", opts: Options{Port: 5555, Fast: true}}
	conf := s.settings()
	for _, want := range []string{"port = 5555", "listen_addresses = '127.0.0.1'", "unix_socket_directories = '/x/y'",
		"max_connections = 200", "shared_buffers = 256MB", "random_page_cost = 1.1", "fsync = off", "full_page_writes = off"} {
		if !strings.Contains(conf, want) {
			t.Errorf("settings lack %q:\n%s", want, conf)
		}
	}
	s.opts.Fast = false
	if conf := s.settings(); !strings.Contains(conf, "fsync = on") {
		t.Errorf("durable cluster without fsync:\n%s", conf)
	}
	s.dir = "/" + strings.Repeat("d", 120)
	if conf := s.settings(); !strings.Contains(conf, "unix_socket_directories = ''") {
		t.Errorf("over-long socket path kept:\n%s", conf)
	}
}
