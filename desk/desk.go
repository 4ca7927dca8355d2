package desk

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/search"
	"infowork/store"
	"infowork/submission"
	"infowork/workflow"
)

// Limits and defaults.
const (
	DefaultLockTTL  = 30 * time.Minute
	MaxCommentRunes = 2000
	MaxQueueItems   = 200
)

// Errors callers branch on.
var (
	// ErrForbidden: the subject's role may not do this (HTTP 403); it is submission.ErrForbidden.
	ErrForbidden = submission.ErrForbidden
	// ErrNotFound: no such item, or not one the subject may read (404).
	ErrNotFound = store.ErrNotFound
)

// LockedError: another user holds the item's soft lock (HTTP 409).
type LockedError struct {
	Holder string
	Until  time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("此信息正由%s处理（锁定至 %s）", e.Holder, e.Until.In(search.Location).Format("2006-01-02 15:04"))
}

// InputError: bad input, by field (HTTP 422).
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Message }

// Options configure the service.
type Options struct {
	LockTTL time.Duration // how long a soft lock lasts without renewal; default 30 minutes
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service is the desk.
type Service struct {
	db   *pgxpool.Pool
	wf   *workflow.Service
	opts Options
}

// New builds the desk on db; wf names states per definition version.
func New(db *pgxpool.Pool, wf *workflow.Service, opts Options) *Service {
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, wf: wf, opts: opts}
}

// deskRoles may assign items, set due dates and see the colleague list.
var deskRoles = []string{access.RoleEditor, access.RoleSigner}

func isDesk(sub access.Subject) bool { return slices.ContainsFunc(deskRoles, sub.Has) }

// CanUnlock reports whether sub may break another user's soft lock: the signer (签发人, the
// chief editor of the office), who answers for the desk.
func CanUnlock(sub access.Subject) bool { return sub.Has(access.RoleSigner) }

// Item is one row of a queue.
type Item struct {
	ID             int64
	Version        int64
	Title          string
	UnitName       string
	Urgency        string
	State          string
	StateName      string
	EnteredAt      time.Time // when the item entered its current state
	Age            time.Duration
	AssignedRole   string
	AssigneeID     int64
	Assignee       string
	DueAt          *time.Time // explicit due date
	EffectiveDue   time.Time  // explicit, or derived from the urgency
	Overdue        bool
	LockHolderID   int64
	LockHolder     string
	LockUntil      *time.Time
	Classification int
}

// AgeBadge is the zh-CN age ("3 小时", "2 天") and its level: "fresh" (< 1 day), "aging" (1–3
// days), "old" (> 3 days).
func (it Item) AgeBadge() (string, string) {
	a := it.Age
	var text string
	switch {
	case a < time.Hour:
		text = strconv.Itoa(int(a.Minutes())) + " 分钟"
	case a < 24*time.Hour:
		text = strconv.Itoa(int(a.Hours())) + " 小时"
	default:
		text = strconv.Itoa(int(a.Hours()/24)) + " 天"
	}
	switch {
	case a < 24*time.Hour:
		return text, "fresh"
	case a <= 72*time.Hour:
		return text, "aging"
	}
	return text, "old"
}

// Queue is one state's queue on the desk.
type Queue struct {
	State   string
	Name    string
	Count   int
	Overdue int
}

// Filter selects the items of the desk.
type Filter struct {
	State   string // "" = every open state
	Mine    bool   // assigned to the subject
	Overdue bool   // only overdue items
}

// View is the desk: the queues with counts and the selected items.
type View struct {
	Queues []Queue
	Items  []Item
	Total  int // items matching the filter (may exceed len(Items))
}

// slaSQL is the time an item may wait in a state when no due date is set: 特急 4 hours,
// 加急 1 day, 平急 3 days. Overdue is computed when read, so it can never be stale.
const slaSQL = `CASE s.urgency WHEN 'very_urgent' THEN interval '4 hours' WHEN 'urgent' THEN interval '1 day' ELSE interval '3 days' END`

// deskFrom is the FROM clause of the desk queries.
const deskFrom = ` FROM submissions s
	JOIN units un ON un.id = s.unit_id
	LEFT JOIN users au ON au.id = s.assignee_id
	LEFT JOIN users lu ON lu.id = s.lock_holder_id AND s.lock_expires_at > now()`

// enteredSQL is when the item entered its current state (set by every transition).
const enteredSQL = `s.state_entered_at`
const dueSQL = `COALESCE(s.due_at, ` + enteredSQL + ` + ` + slaSQL + `)`

// openStates returns the non-terminal states of the active version of the default workflow
// other than its initial (unit-side drafts are not desk work), with names.
func (s *Service) openStates(ctx context.Context) ([]workflow.State, error) {
	list, err := s.wf.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range list {
		if st.Name == workflow.DefaultName && st.Active {
			var out []workflow.State
			for _, x := range st.Definition.States {
				if !x.Terminal && x.Code != st.Definition.Initial {
					out = append(out, x)
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("desk: no active default workflow")
}

// Desk returns the queues (counts per open state, with overdue counts) and the items matching f,
// oldest first, as sub may see them.
func (s *Service) Desk(ctx context.Context, sub access.Subject, f Filter) (View, error) {
	states, err := s.openStates(ctx)
	if err != nil {
		return View{}, err
	}
	codes := make([]string, len(states))
	for i, x := range states {
		codes[i] = x.Code
	}
	if f.State != "" && !slices.Contains(codes, f.State) {
		return View{}, &InputError{Field: "state", Message: fmt.Sprintf("没有名为 %q 的待办状态", f.State)}
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return View{}, fmt.Errorf("desk: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	args = append([]any{codes}, args...)
	where := ` WHERE s.archived_at IS NULL AND s.state = ANY($1::text[]) AND ` + pred
	rows, err := tx.Query(ctx, `SELECT s.state, count(*), count(*) FILTER (WHERE `+dueSQL+` < now()) FROM submissions s`+where+` GROUP BY s.state`, args...)
	if err != nil {
		return View{}, fmt.Errorf("desk: counts: %w", err)
	}
	counts := map[string][2]int{}
	for rows.Next() {
		var st string
		var n, o int
		if err := rows.Scan(&st, &n, &o); err != nil {
			rows.Close()
			return View{}, fmt.Errorf("desk: counts: %w", err)
		}
		counts[st] = [2]int{n, o}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return View{}, fmt.Errorf("desk: counts: %w", err)
	}
	v := View{}
	for _, x := range states {
		c := counts[x.Code]
		v.Queues = append(v.Queues, Queue{State: x.Code, Name: x.Name, Count: c[0], Overdue: c[1]})
	}
	if f.State != "" {
		args = append(args, f.State)
		where += fmt.Sprintf(` AND s.state = $%d`, len(args))
	}
	if f.Mine {
		args = append(args, sub.UserID)
		where += fmt.Sprintf(` AND s.assignee_id = $%d`, len(args))
	}
	if f.Overdue {
		where += ` AND ` + dueSQL + ` < now()`
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM submissions s`+where, args...).Scan(&v.Total); err != nil {
		return View{}, fmt.Errorf("desk: total: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT s.id, s.version, s.title, un.name, s.urgency, s.state, s.workflow_name, COALESCE(s.workflow_version, 1),
			`+enteredSQL+`, now() - `+enteredSQL+`, COALESCE(s.assigned_role, ''), COALESCE(s.assignee_id, 0),
			COALESCE(NULLIF(au.display_name, ''), au.username, ''), s.due_at, `+dueSQL+`, `+dueSQL+` < now(),
			COALESCE(lu.id, 0), COALESCE(NULLIF(lu.display_name, ''), lu.username, ''),
			CASE WHEN lu.id IS NOT NULL THEN s.lock_expires_at END, s.classification`+deskFrom+where+
		fmt.Sprintf(` ORDER BY `+dueSQL+`, s.id LIMIT %d`, MaxQueueItems), args...)
	if err != nil {
		return View{}, fmt.Errorf("desk: items: %w", err)
	}
	type row struct {
		Item
		wfName string
		wfVer  int
	}
	raw, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var it row
		err := r.Scan(&it.ID, &it.Version, &it.Title, &it.UnitName, &it.Urgency, &it.State, &it.wfName, &it.wfVer, &it.EnteredAt, &it.Age,
			&it.AssignedRole, &it.AssigneeID, &it.Assignee, &it.DueAt, &it.EffectiveDue, &it.Overdue, &it.LockHolderID, &it.LockHolder,
			&it.LockUntil, &it.Classification)
		return it, err
	})
	if err != nil {
		return View{}, fmt.Errorf("desk: items: %w", err)
	}
	for _, r := range raw {
		r.StateName = submission.StateName(r.State)
		if d, err := s.wf.Definition(ctx, r.wfName, r.wfVer); err == nil {
			r.StateName = d.StateName(r.State)
		}
		v.Items = append(v.Items, r.Item)
	}
	return v, nil
}

// Card is the desk part of one item's page: assignee, due date, lock and comments.
type Card struct {
	ID           int64
	State        string
	AssignedRole string
	AssigneeID   int64
	Assignee     string
	DueAt        *time.Time
	EffectiveDue time.Time
	Overdue      bool
	Terminal     bool
	LockHolderID int64
	LockHolder   string
	LockUntil    *time.Time
	Comments     []Comment
}

// Comment is one comment on an item.
type Comment struct {
	ID       int64
	Author   string
	Body     string
	Mentions []string
	At       time.Time
}

// Card returns the desk part of item id for sub (ErrNotFound when sub may not read it).
func (s *Service) Card(ctx context.Context, sub access.Subject, id int64) (Card, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Card{}, fmt.Errorf("desk: card %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	c := Card{ID: id}
	var wfName string
	var wfVer int
	err = tx.QueryRow(ctx, `SELECT s.state, s.workflow_name, COALESCE(s.workflow_version, 1), COALESCE(s.assigned_role, ''), COALESCE(s.assignee_id, 0),
			COALESCE(NULLIF(au.display_name, ''), au.username, ''), s.due_at, `+dueSQL+`, `+dueSQL+` < now(),
			COALESCE(lu.id, 0), COALESCE(NULLIF(lu.display_name, ''), lu.username, ''), CASE WHEN lu.id IS NOT NULL THEN s.lock_expires_at END`+
		deskFrom+` WHERE s.id = $1 AND `+pred, append([]any{id}, args...)...).Scan(&c.State, &wfName, &wfVer, &c.AssignedRole, &c.AssigneeID,
		&c.Assignee, &c.DueAt, &c.EffectiveDue, &c.Overdue, &c.LockHolderID, &c.LockHolder, &c.LockUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return Card{}, fmt.Errorf("desk: card %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Card{}, fmt.Errorf("desk: card %d: %w", id, err)
	}
	if d, err := s.wf.Definition(ctx, wfName, wfVer); err == nil {
		if st, ok := d.State(c.State); ok && st.Terminal {
			c.Terminal, c.Overdue = true, false
		}
	}
	rows, err := tx.Query(ctx, `SELECT c.id, COALESCE(NULLIF(u.display_name, ''), c.author_name), c.body, c.mentions, c.created_at
		FROM submission_comments c LEFT JOIN users u ON u.id = c.author_id WHERE c.submission_id = $1 ORDER BY c.id`, id)
	if err != nil {
		return Card{}, fmt.Errorf("desk: comments %d: %w", id, err)
	}
	c.Comments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Comment, error) {
		var cm Comment
		err := r.Scan(&cm.ID, &cm.Author, &cm.Body, &cm.Mentions, &cm.At)
		return cm, err
	})
	if err != nil {
		return Card{}, fmt.Errorf("desk: comments %d: %w", id, err)
	}
	return c, nil
}

// target is an item a desk change applies to, locked for update.
type target struct {
	id             int64
	classification int
	lockHolder     int64
	lockHolderName string
	lockUntil      time.Time
}

func (s *Service) lockTarget(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64) (target, error) {
	pred, args := access.Predicate(sub, "s", 2)
	var t target
	var until *time.Time
	// Only columns of the locked row: after waiting for another transaction's row lock,
	// PostgreSQL re-reads the locked row but not the rows of joined tables, so a lock holder
	// read through a join could be stale (two editors would both "win" a free lock).
	err := tx.QueryRow(ctx, `SELECT s.id, s.classification, CASE WHEN s.lock_expires_at > now() THEN s.lock_holder_id ELSE 0 END,
			CASE WHEN s.lock_expires_at > now() THEN s.lock_expires_at END
		FROM submissions s WHERE s.id = $1 AND s.archived_at IS NULL AND `+pred+` FOR UPDATE OF s`, append([]any{id}, args...)...).Scan(
		&t.id, &t.classification, &t.lockHolder, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("desk: item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("desk: item %d: %w", id, err)
	}
	if until != nil {
		t.lockUntil = *until
	}
	if t.lockHolder != 0 {
		if err := tx.QueryRow(ctx, `SELECT COALESCE(NULLIF(display_name, ''), username) FROM users WHERE id = $1`, t.lockHolder).Scan(&t.lockHolderName); err != nil {
			return t, fmt.Errorf("desk: item %d: lock holder: %w", id, err)
		}
	}
	return t, nil
}

// inTx runs fn in a transaction carrying sub's row-level security settings.
func (s *Service) inTx(ctx context.Context, sub access.Subject, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		return fn(tx)
	})
}

func object(id int64) string { return "submission:" + strconv.FormatInt(id, 10) }

// Lock takes (or renews) the soft lock of item id for sub. Another holder's live lock is a
// *LockedError naming them.
func (s *Service) Lock(ctx context.Context, sub access.Subject, id int64) (time.Time, error) {
	if !isDesk(sub) {
		return time.Time{}, fmt.Errorf("desk: lock: %w", ErrForbidden)
	}
	var until time.Time
	err := s.inTx(ctx, sub, func(tx pgx.Tx) error {
		t, err := s.lockTarget(ctx, tx, sub, id)
		if err != nil {
			return err
		}
		if t.lockHolder != 0 && t.lockHolder != sub.UserID {
			return &LockedError{Holder: t.lockHolderName, Until: t.lockUntil}
		}
		return tx.QueryRow(ctx, `UPDATE submissions SET lock_holder_id = $2, lock_expires_at = now() + $3::interval
			WHERE id = $1 RETURNING lock_expires_at`, id, sub.UserID, fmt.Sprintf("%d seconds", int(s.opts.LockTTL.Seconds()))).Scan(&until)
	})
	return until, err
}

// Unlock releases item id's soft lock. The holder may always release it; anyone else needs
// CanUnlock, and that privileged unlock is audited and the holder notified.
func (s *Service) Unlock(ctx context.Context, sub access.Subject, id int64, clientIP string) error {
	err := s.inTx(ctx, sub, func(tx pgx.Tx) error {
		t, err := s.lockTarget(ctx, tx, sub, id)
		if err != nil {
			return err
		}
		if t.lockHolder == 0 {
			_, err := tx.Exec(ctx, `UPDATE submissions SET lock_holder_id = NULL, lock_expires_at = NULL WHERE id = $1 AND lock_holder_id IS NOT NULL`, id)
			return err
		}
		if t.lockHolder != sub.UserID {
			if !CanUnlock(sub) {
				return fmt.Errorf("desk: unlock %d held by %s: %w", id, t.lockHolderName, ErrForbidden)
			}
			lv := t.classification
			if err := audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
				Action: "desk.unlock", Object: object(id), Label: &lv, Detail: "privileged; holder=" + t.lockHolderName}); err != nil {
				return err
			}
			if err := notify(ctx, tx, id, []int64{t.lockHolder}, sub.UserID, "desk.unlock",
				fmt.Sprintf("信息 #%d：您的锁定已被%s解除", id, displayName(ctx, tx, sub)), nil); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE submissions SET lock_holder_id = NULL, lock_expires_at = NULL WHERE id = $1`, id)
		return err
	})
	if err != nil && !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("desk: unlock %d: %w", id, err)
	}
	return err
}

// displayName is the actor's name as colleagues know it (display name, else username).
func displayName(ctx context.Context, tx pgx.Tx, sub access.Subject) string {
	var n string
	if err := tx.QueryRow(ctx, `SELECT COALESCE(NULLIF(display_name, ''), username) FROM users WHERE id = $1`, sub.UserID).Scan(&n); err != nil {
		return sub.Username
	}
	return n
}

// Colleague is a user an item may be assigned to.
type Colleague struct {
	ID       int64
	Username string
	Name     string
}

// Colleagues lists the active editors and signers (for the assignment form).
func (s *Service) Colleagues(ctx context.Context, sub access.Subject) ([]Colleague, error) {
	if !isDesk(sub) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, username, COALESCE(NULLIF(display_name, ''), username) FROM users
		WHERE disabled_at IS NULL AND roles && ARRAY['editor', 'signer'] ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("desk: colleagues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Colleague, error) {
		var c Colleague
		err := r.Scan(&c.ID, &c.Username, &c.Name)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("desk: colleagues: %w", err)
	}
	return out, nil
}

// Assign gives item id to the editor or signer named username ("" takes the assignment back).
// The assignee must be able to read the item; they are notified unless they assigned themselves.
func (s *Service) Assign(ctx context.Context, sub access.Subject, id int64, username, clientIP string) (string, error) {
	if !isDesk(sub) {
		return "", fmt.Errorf("desk: assign: %w", ErrForbidden)
	}
	username = strings.TrimSpace(username)
	var name string
	err := s.inTx(ctx, sub, func(tx pgx.Tx) error {
		t, err := s.lockTarget(ctx, tx, sub, id)
		if err != nil {
			return err
		}
		var assignee *int64
		if username != "" {
			var uid int64
			err := tx.QueryRow(ctx, `SELECT u.id, COALESCE(NULLIF(u.display_name, ''), u.username) FROM users u, submissions s
				WHERE u.username = $1 AND s.id = $2 AND u.disabled_at IS NULL AND u.roles && ARRAY['editor', 'signer']
				  AND `+readable, username, id).Scan(&uid, &name)
			if errors.Is(err, pgx.ErrNoRows) {
				return &InputError{Field: "assignee", Message: fmt.Sprintf("不能分派给 %q：不是在岗的编辑或签发人，或无权查看此信息", username)}
			}
			if err != nil {
				return err
			}
			assignee = &uid
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET assignee_id = $2, assigned_at = CASE WHEN $2::bigint IS NULL THEN NULL ELSE now() END
			WHERE id = $1`, id, assignee); err != nil {
			return err
		}
		lv := t.classification
		if err := audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "desk.assign", Object: object(id), Label: &lv, Detail: "assignee=" + username}); err != nil {
			return err
		}
		if assignee != nil && *assignee != sub.UserID {
			return notify(ctx, tx, id, []int64{*assignee}, sub.UserID, "desk.assign",
				fmt.Sprintf("信息 #%d：%s 将其分派给您", id, displayName(ctx, tx, sub)), nil)
		}
		return nil
	})
	return name, err
}

// SetDue sets (or with nil clears) item id's due date.
func (s *Service) SetDue(ctx context.Context, sub access.Subject, id int64, due *time.Time, clientIP string) error {
	if !isDesk(sub) {
		return fmt.Errorf("desk: due: %w", ErrForbidden)
	}
	return s.inTx(ctx, sub, func(tx pgx.Tx) error {
		t, err := s.lockTarget(ctx, tx, sub, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET due_at = $2 WHERE id = $1`, id, due); err != nil {
			return err
		}
		detail := "due="
		if due != nil {
			detail += due.UTC().Format(time.RFC3339)
		}
		lv := t.classification
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "desk.due", Object: object(id), Label: &lv, Detail: detail})
	})
}

var mentionRE = regexp.MustCompile(`@([A-Za-z0-9_.-]{2,64})`)

// Mentions returns the distinct usernames mentioned in body, in order.
func Mentions(body string) []string {
	var out []string
	for _, m := range mentionRE.FindAllStringSubmatch(body, -1) {
		name := strings.TrimRight(m[1], ".")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// CommentResult is a stored comment and whom it notified.
type CommentResult struct {
	Comment
	Notified    []string // mentioned users who were notified
	NotNotified []string // mentioned names that are no active user who may read the item
}

// AddComment stores a comment on item id by sub and notifies every @mentioned user who may read
// the item. Anyone who may read the item (and is not an administrator) may comment.
func (s *Service) AddComment(ctx context.Context, sub access.Subject, id int64, body, clientIP string) (CommentResult, error) {
	body = strings.TrimSpace(body)
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		return CommentResult{}, &InputError{Field: "body", Message: "评论不能为空"}
	case n > MaxCommentRunes:
		return CommentResult{}, &InputError{Field: "body", Message: fmt.Sprintf("评论最多 %d 个字（现在 %d 个）", MaxCommentRunes, n)}
	}
	if sub.Has(access.RoleSysAdmin) || sub.Has(access.RoleSecAdmin) || sub.Has(access.RoleAuditAdmin) {
		return CommentResult{}, fmt.Errorf("desk: comment: %w", ErrForbidden)
	}
	var res CommentResult
	err := s.inTx(ctx, sub, func(tx pgx.Tx) error {
		if _, err := s.lockTarget(ctx, tx, sub, id); err != nil {
			return err
		}
		names := Mentions(body)
		var ids []int64
		if len(names) > 0 {
			rows, err := tx.Query(ctx, `SELECT u.id, u.username FROM users u, submissions s
				WHERE u.username = ANY($1::text[]) AND s.id = $2 AND u.disabled_at IS NULL AND `+readable, names, id)
			if err != nil {
				return err
			}
			found := map[string]int64{}
			for rows.Next() {
				var uid int64
				var un string
				if err := rows.Scan(&uid, &un); err != nil {
					rows.Close()
					return err
				}
				found[un] = uid
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, n := range names {
				if uid, ok := found[n]; ok {
					res.Notified = append(res.Notified, n)
					if uid != sub.UserID {
						ids = append(ids, uid)
					}
				} else {
					res.NotNotified = append(res.NotNotified, n)
				}
			}
		}
		mentions := res.Notified
		if mentions == nil {
			mentions = []string{}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO submission_comments (submission_id, author_id, author_name, body, mentions)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`, id, sub.UserID, sub.Username, body, mentions).Scan(&res.ID, &res.At); err != nil {
			return err
		}
		res.Author, res.Body, res.Mentions = sub.Username, body, mentions
		if len(ids) > 0 {
			return notify(ctx, tx, id, ids, sub.UserID, "comment.mention",
				fmt.Sprintf("信息 #%d：%s 在评论中提到了您", id, displayName(ctx, tx, sub)), &res.ID)
		}
		return nil
	})
	if err != nil {
		return CommentResult{}, err
	}
	return res, nil
}

// readable is the SQL read policy of item s for user u (as package workflow's notifications):
// clearance, label categories, readers list and unit scope.
const readable = `u.clearance >= s.classification AND s.label_categories <@ u.label_categories
	AND (cardinality(s.readers) = 0 OR s.readers && (ARRAY['user:' || u.username,
	     'unit:' || COALESCE((SELECT code FROM units WHERE id = u.unit_id), '')] || ARRAY(SELECT 'role:' || r FROM unnest(u.roles) r)))
	AND (u.roles && ARRAY['editor', 'signer', 'researcher', 'leader']
	     OR (u.roles && ARRAY['reporter', 'unit_approver'] AND u.unit_id = s.unit_id))`

// notify writes an in-app notification about item id to each of users who may read it, other
// than the actor. The message names the item, never its text.
func notify(ctx context.Context, tx pgx.Tx, id int64, users []int64, actor int64, kind, msg string, commentID *int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO notifications (user_id, submission_id, kind, message, comment_id)
		SELECT u.id, s.id, $3, $4, $5 FROM users u, submissions s
		WHERE s.id = $1 AND u.id = ANY($2::bigint[]) AND u.id <> $6 AND u.disabled_at IS NULL AND `+readable,
		id, users, kind, msg, commentID, actor)
	return err
}
