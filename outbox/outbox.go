// Package outbox is the transactional outbox between the system of record and the search index.
//
// Every transaction that changes something searchable calls Enqueue with the same transaction, so
// the change and its outbox row commit or roll back together. Consumers Claim rows with
// FOR UPDATE SKIP LOCKED inside a transaction they hold while they write to the engine, then Ack
// (delete) or Retry them before committing; a consumer that dies releases its rows when its
// transaction aborts. There is no high-water mark: a row whose transaction commits late is simply
// claimed later, so it can never be skipped. Delivery is at least once; consumers must be
// idempotent (the indexer writes with the row version as an external version).
package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Channel is the LISTEN/NOTIFY channel a statement-level trigger on outbox notifies at commit.
const Channel = "infowork_outbox"

// Enqueue records that entity/id changed. Call it inside the transaction that made the change.
func Enqueue(ctx context.Context, tx pgx.Tx, entity string, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (entity, entity_id) SELECT $1, unnest($2::bigint[])`, entity, ids)
	if err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", entity, err)
	}
	return nil
}

// Item is one claimed outbox row.
type Item struct {
	ID        int64
	Entity    string
	EntityID  int64
	CreatedAt time.Time
	Attempts  int
}

// Claim locks up to limit ready rows in tx, oldest first, skipping rows other consumers hold.
func Claim(ctx context.Context, tx pgx.Tx, limit int) ([]Item, error) {
	rows, err := tx.Query(ctx, `SELECT id, entity, entity_id, created_at, attempts FROM outbox
		WHERE dead_at IS NULL AND next_attempt_at <= clock_timestamp()
		ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.ID, &it.Entity, &it.EntityID, &it.CreatedAt, &it.Attempts)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return items, nil
}

// Ack removes rows whose change the consumer has applied.
func Ack(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1::bigint[])`, ids); err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	return nil
}

// Retry schedules rows for another attempt after delay and records the error.
func Retry(ctx context.Context, tx pgx.Tx, ids []int64, delay time.Duration, cause string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1,
		next_attempt_at = clock_timestamp() + $2 * interval '1 millisecond', last_error = $3
		WHERE id = ANY($1::bigint[])`, ids, delay.Milliseconds(), truncate(cause, 2000))
	if err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	return nil
}

// Postpone schedules rows for another attempt after delay without counting an attempt: the
// whole batch failed because the engine could not be reached, which says nothing about the rows,
// so an outage of any length never moves them towards the dead-letter state.
func Postpone(ctx context.Context, tx pgx.Tx, ids []int64, delay time.Duration, cause string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE outbox SET next_attempt_at = clock_timestamp() + $2 * interval '1 millisecond', last_error = $3
		WHERE id = ANY($1::bigint[])`, ids, delay.Milliseconds(), truncate(cause, 2000))
	if err != nil {
		return fmt.Errorf("outbox: postpone: %w", err)
	}
	return nil
}

// Bury moves rows to the dead-letter state; an operator can see and Replay them.
func Bury(ctx context.Context, tx pgx.Tx, ids []int64, cause string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, dead_at = clock_timestamp(), last_error = $2
		WHERE id = ANY($1::bigint[])`, ids, truncate(cause, 2000))
	if err != nil {
		return fmt.Errorf("outbox: bury: %w", err)
	}
	return nil
}

// Replay returns every dead-letter row to the queue and reports how many.
func Replay(ctx context.Context, db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) (int64, error) {
	tag, err := db.Exec(ctx, `UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = clock_timestamp() WHERE dead_at IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("outbox: replay: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Stats describes the queue for metrics and /readyz.
type Stats struct {
	Backlog   int64         // rows waiting (not dead)
	Dead      int64         // rows in the dead-letter state
	OldestAge time.Duration // age of the oldest waiting row; 0 when empty
}

// ReadStats reads queue statistics.
func ReadStats(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (Stats, error) {
	var s Stats
	var age float64
	err := db.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE dead_at IS NULL),
		count(*) FILTER (WHERE dead_at IS NOT NULL),
		COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0)
		FROM outbox`).Scan(&s.Backlog, &s.Dead, &age)
	if err != nil {
		return s, fmt.Errorf("outbox: stats: %w", err)
	}
	s.OldestAge = time.Duration(age * float64(time.Second))
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// DeadLetter is one row in the dead-letter state.
type DeadLetter struct {
	ID        int64
	Entity    string
	EntityID  int64
	Attempts  int
	LastError string
	CreatedAt time.Time
	DeadAt    time.Time
}

// DeadLetters lists up to limit dead-letter rows, newest first.
func DeadLetters(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, limit int) ([]DeadLetter, error) {
	rows, err := db.Query(ctx, `SELECT id, entity, entity_id, attempts, COALESCE(last_error, ''), created_at, dead_at
		FROM outbox WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.Entity, &d.EntityID, &d.Attempts, &d.LastError, &d.CreatedAt, &d.DeadAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters: %w", err)
	}
	return out, nil
}
