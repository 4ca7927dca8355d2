// Package testenv gives integration tests a migrated database of their own on the shared test
// cluster (see internal/testpg). A template database migrated once per schema version is cloned
// for each test, which takes a few tens of milliseconds.
package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/internal/testpg"
	"infowork/store"
)

var (
	once     sync.Once
	template string
	onceErr  error
)

// templateName is derived from the migrations, so a schema change gets a fresh template.
func templateName() (string, error) {
	ms, err := store.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s\n%s\n", m.Version, m.Name, m.SQL)
	}
	return "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func withDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + db
	return u.String()
}

func ensureTemplate(t testing.TB) (string, error) {
	admin := testpg.AdminDSN(t)
	name, err := templateName()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// Several test processes may get here at once: serialize on an advisory lock.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7305202611250099)`); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7305202611250099)`) //nolint:errcheck
	var ready bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&ready)
	if err != nil || ready {
		return name, err
	}
	// A half-made template from an interrupted run is dropped and rebuilt.
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDatabase(admin, name))
	if err != nil {
		return "", err
	}
	_, err = store.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pool.Close()
	if err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, `UPDATE pg_database SET datistemplate = true WHERE datname = $1`, name)
	return name, err
}

// DSN returns the DSN of a fresh migrated database, dropped at cleanup.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { template, onceErr = ensureTemplate(t) })
	if onceErr != nil {
		t.Fatalf("testenv: prepare migrated template database: %v", onceErr)
	}
	return testpg.NewDatabaseFromTemplate(t, template)
}

// DB returns a pool on a fresh migrated database, closed and dropped at cleanup.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := DSN(t)
	pool, err := store.Open(context.Background(), dsn, 20)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Logger discards output unless the test runs with -v, where it writes through t.Log.
func Logger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
