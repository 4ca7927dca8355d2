package desk

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Notification is one entry of a user's inbox.
type Notification struct {
	ID           int64
	SubmissionID int64
	Kind         string
	Message      string
	At           time.Time
	Read         bool
}

// Inbox reads a user's notifications, newest first. Notifications are personal: they are
// selected by user id, and their messages name items, never their text.
type Inbox struct{ db *pgxpool.Pool }

// NewInbox builds the inbox on db.
func NewInbox(db *pgxpool.Pool) *Inbox { return &Inbox{db: db} }

// Unread counts userID's unread notifications.
func (in *Inbox) Unread(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := in.db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("desk: unread: %w", err)
	}
	return n, nil
}

// List returns userID's latest notifications (only unread ones when unreadOnly), at most limit.
func (in *Inbox) List(ctx context.Context, userID int64, unreadOnly bool, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := in.db.Query(ctx, `SELECT id, COALESCE(submission_id, 0), kind, message, created_at, read_at IS NOT NULL
		FROM notifications WHERE user_id = $1 AND ($2 = false OR read_at IS NULL) ORDER BY id DESC LIMIT $3`, userID, unreadOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("desk: inbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.SubmissionID, &n.Kind, &n.Message, &n.At, &n.Read)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("desk: inbox: %w", err)
	}
	return out, nil
}

// MarkRead marks userID's notifications ids as read (all of them when ids is empty) and returns
// how many changed. Other users' notifications are never touched.
func (in *Inbox) MarkRead(ctx context.Context, userID int64, ids []int64) (int, error) {
	var tag interface{ RowsAffected() int64 }
	var err error
	if len(ids) == 0 {
		tag, err = in.db.Exec(ctx, `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL`, userID)
	} else {
		tag, err = in.db.Exec(ctx, `UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL AND id = ANY($2::bigint[])`, userID, ids)
	}
	if err != nil {
		return 0, fmt.Errorf("desk: mark read: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
