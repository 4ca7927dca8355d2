// Package ha keeps writes correct across a database failover.
//
// The application connects with a multi-host DSN and target_session_attrs=read-write, for
// example
//
//	postgres://infowork@db1:5432,db2:5432/infowork?target_session_attrs=read-write&connect_timeout=3
//
// so that pgx opens new connections only on the node that currently accepts writes. When the
// primary goes away, the transactions running on it fail; Retry runs them again (on a new
// connection, which lands on the promoted standby) with a capped exponential backoff.
//
// # Unknown outcome
//
// A transaction that loses its connection while COMMIT is in flight may or may not have
// committed: the server may have written the commit record (and, with synchronous
// replication, the standby may have it) but the acknowledgement never arrived. PostgreSQL
// documents that such a commit is kept. Retry therefore reruns fn only when fn is
// idempotent by key: running it again must find the row a lost acknowledgement left behind
// instead of inserting a second one. submission.Service.Create with Input.IdempotencyKey is
// (unique (author_id, idempotency_key); a retried create returns the first id with
// Duplicate=true). Never wrap a plain INSERT without such a key in Retry.
//
// If Retry gives up after an unknown outcome, the returned error wraps ErrOutcomeUnknown:
// the caller must not report failure as "not saved"; it should tell the user to check, or
// retry later with the same key.
package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrOutcomeUnknown is wrapped by Retry's error when the last attempt failed in a way that
// leaves open whether its transaction committed.
var ErrOutcomeUnknown = errors.New("ha: transaction outcome unknown (connection lost while it may have been committing)")

// Class says what a failed attempt means for a retry.
type Class int

const (
	// Permanent errors are returned at once (constraint violations, bad input, ErrNoRows…).
	Permanent Class = iota
	// NotApplied errors guarantee the transaction did not commit: the connection could not
	// be made, nothing was sent, or the server rejected the statement (read-only node,
	// shutdown before commit, serialization failure). Safe to retry for any fn.
	NotApplied
	// Unknown errors are connection losses after something was sent: the transaction may
	// have committed. Retrying is only correct when fn is idempotent by key.
	Unknown
)

func (c Class) String() string {
	switch c {
	case NotApplied:
		return "not-applied"
	case Unknown:
		return "unknown-outcome"
	default:
		return "permanent"
	}
}

// Retryable SQLSTATEs.
const (
	codeAdminShutdown    = "57P01" // admin_shutdown: terminated by pg_ctl stop -m fast or pg_terminate_backend
	codeCrashShutdown    = "57P02" // crash_shutdown: another backend crashed, or pg_ctl stop -m immediate
	codeCannotConnectNow = "57P03" // cannot_connect_now: starting up, shutting down, in recovery
	codeReadOnly         = "25006" // read_only_sql_transaction: the node is (now) a standby
	codeSerialization    = "40001" // serialization_failure
	codeDeadlock         = "40P01" // deadlock_detected
)

// Classify sorts err into Permanent, NotApplied or Unknown.
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	// A failed connection attempt never ran anything, whatever its cause (refused, timeout,
	// the only reachable node is read-only under target_session_attrs=read-write, 57P03).
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return NotApplied
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeReadOnly, pe.Code == codeCannotConnectNow,
			pe.Code == codeSerialization, pe.Code == codeDeadlock:
			// The server rejected the statement; the transaction is aborted.
			return NotApplied
		case pe.Code == codeAdminShutdown, pe.Code == codeCrashShutdown, strings.HasPrefix(pe.Code, "08"):
			// The backend was terminated. If that happened while COMMIT waited for the
			// synchronous standby, the commit is already durable locally: unknown.
			return Unknown
		default:
			return Permanent
		}
	}
	if pgconn.SafeToRetry(err) {
		return NotApplied
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// pgx reports its own connect/statement timeouts as timeouts (below); a bare context
		// error is the caller's context, and Retry checks that itself.
		if pgconn.Timeout(err) {
			return Unknown
		}
		return Permanent
	}
	if pgconn.Timeout(err) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed) {
		return Unknown
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Unknown
	}
	// pgx sometimes reports a dead connection only by text.
	msg := err.Error()
	for _, s := range []string{"conn closed", "unexpected EOF", "connection reset", "broken pipe", "failed to deallocate cached statement"} {
		if strings.Contains(msg, s) {
			return Unknown
		}
	}
	return Permanent
}

// Options tune Retry. Zero values take the defaults.
type Options struct {
	// MaxElapsed bounds the total time spent retrying (default 30 s: longer than a
	// promotion should take).
	MaxElapsed time.Duration
	// InitialBackoff is the first pause (default 50 ms); it doubles up to MaxBackoff
	// (default 1 s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// OnRetry, when set, is called before each retry with the attempt number (1 = the
	// first attempt failed), the error and its class (for logs and metrics).
	OnRetry func(attempt int, err error, class Class)
}

// Retry runs fn until it succeeds, fails with a Permanent error, ctx ends or
// opts.MaxElapsed passes. Errors of class NotApplied and Unknown are retried; fn must be
// idempotent by key (see the package documentation) because after an Unknown failure its
// earlier attempt may have committed. The error returned after giving up wraps the last
// error, and ErrOutcomeUnknown when any attempt ended with an unknown outcome.
func Retry(ctx context.Context, fn func(ctx context.Context) error, opts Options) error {
	if opts.MaxElapsed <= 0 {
		opts.MaxElapsed = 30 * time.Second
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	deadline := time.Now().Add(opts.MaxElapsed)
	backoff := opts.InitialBackoff
	unknown := false
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		class := Classify(err)
		if class == Unknown {
			unknown = true
		}
		giveUp := func(reason string) error {
			if unknown {
				return fmt.Errorf("ha: %s after %d attempt(s): %w (%w)", reason, attempt, err, ErrOutcomeUnknown)
			}
			return fmt.Errorf("ha: %s after %d attempt(s): %w", reason, attempt, err)
		}
		if class == Permanent {
			if attempt == 1 {
				return err
			}
			return giveUp("permanent error")
		}
		if ctx.Err() != nil {
			return giveUp("context ended")
		}
		if time.Now().Add(backoff).After(deadline) {
			return giveUp(fmt.Sprintf("gave up after %s", opts.MaxElapsed))
		}
		if opts.OnRetry != nil {
			opts.OnRetry(attempt, err, class)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return giveUp("context ended")
		case <-t.C:
		}
		backoff *= 2
		if backoff > opts.MaxBackoff {
			backoff = opts.MaxBackoff
		}
	}
}
