package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A real connect error: nothing listens on port 1.
	_, connErr := pgconn.Connect(ctx, "host=127.0.0.1 port=1 user=x dbname=x sslmode=disable connect_timeout=2")
	if connErr == nil {
		t.Fatal("connected to port 1?")
	}
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }
	wrap := func(err error) error { return fmt.Errorf("submission: create: %w", err) }
	for _, c := range []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Permanent},
		{"connect refused", connErr, NotApplied},
		{"wrapped connect", wrap(connErr), NotApplied},
		{"read-only 25006", wrap(pg("25006")), NotApplied},
		{"cannot connect now 57P03", pg("57P03"), NotApplied},
		{"serialization 40001", pg("40001"), NotApplied},
		{"deadlock 40P01", pg("40P01"), NotApplied},
		{"admin shutdown 57P01", wrap(pg("57P01")), Unknown},
		{"crash shutdown 57P02", pg("57P02"), Unknown},
		{"connection failure 08006", pg("08006"), Unknown},
		{"connection exception 08000", pg("08000"), Unknown},
		{"unique violation", pg("23505"), Permanent},
		{"check violation", wrap(pg("23514")), Permanent},
		{"no rows", pgx.ErrNoRows, Permanent},
		{"plain error", errors.New("submission: validation failed"), Permanent},
		{"caller canceled", wrap(context.Canceled), Permanent},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), Unknown},
		{"EOF", io.EOF, Unknown},
		{"conn closed sentinel", wrap(pgconn.ErrConnClosed), Unknown},
		{"conn closed text", errors.New("commit: conn closed"), Unknown},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, Unknown},
		{"broken pipe", wrap(syscall.EPIPE), Unknown},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

func TestRetry(t *testing.T) {
	fast := Options{InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxElapsed: time.Second}
	ctx := context.Background()

	calls := 0
	err := Retry(ctx, func(context.Context) error {
		calls++
		if calls < 3 {
			return &pgconn.PgError{Code: "57P01"}
		}
		return nil
	}, fast)
	if err != nil || calls != 3 {
		t.Errorf("transient errors: err %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	perm := &pgconn.PgError{Code: "23505"}
	err = Retry(ctx, func(context.Context) error { calls++; return perm }, fast)
	if calls != 1 || !errors.Is(err, perm) {
		t.Errorf("permanent error: %v after %d calls, want it returned after 1", err, calls)
	}

	calls = 0
	opts := fast
	opts.MaxElapsed = 30 * time.Millisecond
	var classes []Class
	opts.OnRetry = func(_ int, _ error, c Class) { classes = append(classes, c) }
	err = Retry(ctx, func(context.Context) error { calls++; return io.ErrUnexpectedEOF }, opts)
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, io.ErrUnexpectedEOF) || calls < 2 {
		t.Errorf("unknown outcome until the deadline: %v after %d calls, want ErrOutcomeUnknown", err, calls)
	}
	if len(classes) == 0 || classes[0] != Unknown {
		t.Errorf("OnRetry classes %v", classes)
	}

	err = Retry(ctx, func(context.Context) error { return &pgconn.PgError{Code: "25006"} }, Options{MaxElapsed: 20 * time.Millisecond, InitialBackoff: time.Millisecond})
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("read-only until the deadline: %v, want an error without ErrOutcomeUnknown", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	err = Retry(cctx, func(context.Context) error {
		calls++
		cancel()
		return &pgconn.PgError{Code: "57P03"}
	}, Options{InitialBackoff: time.Hour})
	if err == nil || calls != 1 {
		t.Errorf("canceled context: %v after %d calls, want an error after 1", err, calls)
	}
}
