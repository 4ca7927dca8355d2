// Package audit writes the append-only, hash-chained audit log and verifies the chain.
//
// Each row's hash is SHA-256 over the previous row's hash and the row's canonical fields, so
// changing, deleting or reordering any row breaks verification from that row on. Writers take a
// transaction-scoped advisory lock so the chain stays linear with several web replicas.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/store"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Event is one audited action.
type Event struct {
	UserID   int64 // 0 when unknown (failed login of an unknown name)
	Username string
	ClientIP string
	Action   string // e.g. login, logout, submission.create, submission.read
	Object   string // e.g. submission:42
	Label    *int   // classification level of the object, when it has one
	Outcome  string
	Detail   string
}

const lockKey = 7305202611250002

var genesis = make([]byte, sha256.Size)

// Record appends e to the log inside tx.
func Record(ctx context.Context, tx pgx.Tx, e Event) error {
	if e.Outcome == "" {
		e.Outcome = Success
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockKey)); err != nil {
		return fmt.Errorf("audit: lock: %w", err)
	}
	prev := genesis
	err := tx.QueryRow(ctx, `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&prev)
	if err != nil && err != pgx.ErrNoRows {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	var uid *int64
	if e.UserID != 0 {
		uid = &e.UserID
	}
	var id int64
	if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('audit_log', 'id'))`).Scan(&id); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	h := hashRow(prev, id, at, e)
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (id, at, user_id, username, client_ip, action, object, label, outcome, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		id, at, uid, e.Username, e.ClientIP, e.Action, e.Object, e.Label, e.Outcome, e.Detail, prev, h)
	if err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}

// Write appends e in a transaction of its own.
func Write(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, e Event) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := Record(ctx, tx, e); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func hashRow(prev []byte, id int64, at time.Time, e Event) []byte {
	var b bytes.Buffer
	b.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(id)) // #nosec G115 -- hash input: the int64's two's-complement bit pattern, by design
	b.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(at.UnixMicro())) // #nosec G115 -- hash input: bit pattern, by design
	b.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.UserID)) // #nosec G115 -- hash input: bit pattern, by design
	b.Write(n[:])
	label := int64(-1)
	if e.Label != nil {
		label = int64(*e.Label)
	}
	binary.BigEndian.PutUint64(n[:], uint64(label)) // #nosec G115 -- hash input: bit pattern (-1 encodes "no label"), by design
	b.Write(n[:])
	for _, s := range []string{e.Username, e.ClientIP, e.Action, e.Object, e.Outcome, e.Detail} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Rows     int64
	BrokenAt int64 // id of the first row that does not verify; 0 when the chain is intact
	Reason   string
}

// Verify walks the whole chain in id order.
func Verify(ctx context.Context, db store.DB) (VerifyResult, error) {
	rows, err := db.Query(ctx, `SELECT id, at, COALESCE(user_id, 0), username, client_ip, action, object, label, outcome, detail, prev_hash, hash
		FROM audit_log ORDER BY id`)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var res VerifyResult
	prev := genesis
	for rows.Next() {
		var (
			id         int64
			at         time.Time
			e          Event
			label      *int16
			prevH, hsh []byte
		)
		if err := rows.Scan(&id, &at, &e.UserID, &e.Username, &e.ClientIP, &e.Action, &e.Object, &label, &e.Outcome, &e.Detail, &prevH, &hsh); err != nil {
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		if label != nil {
			l := int(*label)
			e.Label = &l
		}
		res.Rows++
		if res.BrokenAt != 0 {
			continue
		}
		if !bytes.Equal(prevH, prev) {
			res.BrokenAt, res.Reason = id, "previous-hash link does not match the preceding row (a row was removed, inserted or reordered)"
			continue
		}
		if !bytes.Equal(hashRow(prevH, id, at.UTC(), e), hsh) {
			res.BrokenAt, res.Reason = id, "row content does not match its hash (the row was modified)"
			continue
		}
		prev = hsh
	}
	return res, rows.Err()
}
