package testpg

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"infowork/pgserver"
)

// Pair is a primary and a streaming hot standby (application name "s1") on loopback, for the
// failover, indexer-failover, web-failover and read-only-standby tests.
type Pair struct {
	PrimaryDir, StandbyDir   string
	PrimaryPort, StandbyPort int
}

// StartPair starts a primary and a standby in a temporary directory, waits until the standby
// streams (synchronously when synchronous is true) and stops both with -m immediate at cleanup.
func StartPair(ctx context.Context, t testing.TB, synchronous bool, log *slog.Logger) Pair {
	t.Helper()
	base := t.TempDir()
	p := Pair{PrimaryDir: filepath.Join(base, "primary"), StandbyDir: filepath.Join(base, "standby"),
		PrimaryPort: FreePort(t), StandbyPort: FreePort(t)}
	t.Cleanup(func() {
		// Immediate stops: the clusters are thrown away with the temp dir.
		_ = pgserver.StopImmediate(context.Background(), p.PrimaryDir)
		_ = pgserver.StopImmediate(context.Background(), p.StandbyDir)
	})
	t.Cleanup(func() { // runs before the stops: the logs explain a failure
		if !t.Failed() {
			return
		}
		for _, d := range []string{p.PrimaryDir, p.StandbyDir} {
			b, _ := os.ReadFile(pgserver.LogPath(d))
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- tail of %s ---\n%s", pgserver.LogPath(d), b)
		}
	})
	if _, err := pgserver.EnsurePrimary(ctx, pgserver.Options{Dir: p.PrimaryDir, Port: p.PrimaryPort, Logger: log}, pgserver.Replication{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pgserver.EnsureStandby(ctx, pgserver.Options{Dir: p.StandbyDir, Port: p.StandbyPort, Logger: log}, p.PrimaryPort, "s1"); err != nil {
		t.Fatal(err)
	}
	if synchronous {
		if err := pgserver.SetSynchronousStandbyNames(ctx, p.PrimaryPort, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgserver.WaitStreaming(ctx, p.PrimaryPort, "s1", synchronous); err != nil {
		t.Fatal(err)
	}
	return p
}

// DSN is a multi-host DSN over both nodes with the given target_session_attrs
// (read-write for the application, prefer-standby for read-only work).
func (p Pair) DSN(targetSessionAttrs string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d,127.0.0.1:%d/infowork?sslmode=disable&target_session_attrs=%s&connect_timeout=2",
		pgserver.User, p.PrimaryPort, p.StandbyPort, targetSessionAttrs)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
