package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/outbox"
	"infowork/search"
	"infowork/store"
	"infowork/submission"
)

// MaxCommentRunes limits the free-text comment of a transition.
const MaxCommentRunes = 2000

// ErrForbidden means the subject may not do this at all (HTTP 403). It is submission.ErrForbidden,
// so the web layer maps both the same way.
var ErrForbidden = submission.ErrForbidden

// ErrConflict is matched by *ConflictError.
var ErrConflict = errors.New("version conflict")

// ConflictError: the item changed since the caller read it (optimistic concurrency).
type ConflictError struct {
	ID        int64
	Expected  int64
	Current   int64
	State     string
	StateName string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("信息已被他人修改（您看到的是第 %d 版，当前是第 %d 版，状态「%s」），请刷新后重试", e.Expected, e.Current, e.StateName)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Refusal kinds.
const (
	RefusedInvalid   = "invalid"   // no such transition from the current state (422)
	RefusedForbidden = "forbidden" // the transition exists, the subject's role may not take it (403)
	RefusedGuard     = "guard"     // a guard failed: required or invalid fields (422)
	RefusedLocked    = "locked"    // another user holds the item's soft lock (409)
)

// RefusedError explains why a transition was refused (zh-CN Message), naming the current state
// and what the subject may do instead.
type RefusedError struct {
	Kind       string
	Transition string
	State      string
	StateName  string
	Allowed    []Choice
	Fields     map[string]string // guard failures by input field
	Message    string
}

func (e *RefusedError) Error() string { return e.Message }

// Input is what the caller supplies with a transition.
type Input struct {
	Reason          string // a reason code from the definition's list
	Comment         string
	ExpectedVersion int64 // submissions.version the caller saw
	ClientIP        string
}

// Result is the outcome of a transition.
type Result struct {
	ID         int64
	Transition string
	From       string
	FromName   string
	To         string
	ToName     string
	Version    int64
	EventID    int64
	At         time.Time
}

// Choice is a transition a subject may take now.
type Choice struct {
	Code    string
	Label   string
	To      string
	ToName  string
	Require []string
}

// Availability is an item's state and the transitions the subject may take.
type Availability struct {
	ID              int64
	State           string
	StateName       string
	Version         int64
	Workflow        string
	WorkflowVersion int
	Transitions     []Choice
	Reasons         []Reason // the reasons list of the item's definition
}

// Service runs transitions and stores definitions.
type Service struct {
	db    *pgxpool.Pool
	cache sync.Map // "name/version" → Definition; definitions never change, so never invalidated
}

// New builds the service.
func New(db *pgxpool.Pool) *Service { return &Service{db: db} }

// item is what a transition needs to know about a submission.
type item struct {
	id              int64
	version         int64
	state           string
	workflow        string
	workflowVersion int
	unitCode        string
	classification  int
	archived        bool
	fields          map[string]string // the fields guards check (GuardFields)
	lockHolder      int64             // soft lock (package desk), 0 when free or expired
	lockHolderName  string
	lockUntil       time.Time
}

const selectItem = `SELECT s.id, s.version, s.state, s.workflow_name, COALESCE(s.workflow_version, 1), u.code, s.classification,
		s.archived_at IS NOT NULL, s.title, s.body_text, s.writer_name, s.writer_phone, COALESCE(s.category_id::text, ''),
		COALESCE(CASE WHEN s.lock_expires_at > now() THEN s.lock_holder_id END, 0), COALESCE(s.lock_expires_at, 'epoch')
	FROM submissions s JOIN units u ON u.id = s.unit_id`

// loadItem reads submission id if sub may read it (store.ErrNotFound otherwise). Archived
// items are found only for reading (their history stays visible).
func loadItem(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, lock bool) (item, error) {
	pred, args := access.Predicate(sub, "s", 2)
	q := selectItem + ` WHERE s.id = $1 AND ` + pred
	if lock {
		q += ` AND s.archived_at IS NULL FOR UPDATE OF s`
	}
	var it item
	var title, body, wn, wp, cat string
	err := tx.QueryRow(ctx, q, append([]any{id}, args...)...).Scan(&it.id, &it.version, &it.state, &it.workflow,
		&it.workflowVersion, &it.unitCode, &it.classification, &it.archived, &title, &body, &wn, &wp, &cat,
		&it.lockHolder, &it.lockUntil)
	it.fields = map[string]string{"title": title, "body": body, "writer_name": wn, "writer_phone": wp, "category": cat}
	if err == nil && it.lockHolder != 0 {
		// The holder's name in a query of its own: the lock columns above come from the locked
		// row itself, which PostgreSQL re-reads after waiting for a row lock (joined rows it
		// does not).
		err = tx.QueryRow(ctx, `SELECT COALESCE(NULLIF(display_name, ''), username) FROM users WHERE id = $1`, it.lockHolder).Scan(&it.lockHolderName)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("workflow: submission %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("workflow: submission %d: %w", id, err)
	}
	return it, nil
}

// Definition returns version v of workflow name.
func (s *Service) Definition(ctx context.Context, name string, v int) (Definition, error) {
	return s.definition(ctx, s.db, name, v)
}

func (s *Service) definition(ctx context.Context, db store.DB, name string, v int) (Definition, error) {
	key := name + "/" + strconv.Itoa(v)
	if d, ok := s.cache.Load(key); ok {
		return d.(Definition), nil
	}
	var raw []byte
	err := db.QueryRow(ctx, `SELECT definition FROM workflow_definitions WHERE name = $1 AND version = $2`, name, v).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return Definition{}, fmt.Errorf("workflow: definition %s version %d: %w", name, v, store.ErrNotFound)
	}
	if err != nil {
		return Definition{}, fmt.Errorf("workflow: definition %s version %d: %w", name, v, err)
	}
	d, err := Parse(raw)
	if err != nil {
		return Definition{}, fmt.Errorf("workflow: definition %s version %d: %w", name, v, err)
	}
	s.cache.Store(key, d)
	return d, nil
}

// unitRoles act only on their own unit's items.
var unitRoles = []string{access.RoleReporter, access.RoleUnitApprover}

// permits reports whether sub may take t on an item of unitCode.
func permits(sub access.Subject, t Transition, unitCode string) bool {
	for _, r := range t.Roles {
		if !sub.Has(r) {
			continue
		}
		if slices.Contains(unitRoles, r) && (sub.UnitCode == "" || sub.UnitCode != unitCode) {
			continue
		}
		return true
	}
	return false
}

func choices(d Definition, sub access.Subject, it item) []Choice {
	out := []Choice{}
	if it.archived {
		return out
	}
	for _, t := range d.From(it.state) {
		if permits(sub, t, it.unitCode) {
			out = append(out, Choice{Code: t.Code, Label: t.Label, To: t.To, ToName: d.StateName(t.To), Require: t.Require})
		}
	}
	return out
}

func describe(cs []Choice) string {
	if len(cs) == 0 {
		return "您在此状态下没有可执行的操作"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s（%s）", c.Label, c.Code)
	}
	return "您可执行的操作：" + strings.Join(parts, "、")
}

// Available lists the transitions sub may take on submission id now.
func (s *Service) Available(ctx context.Context, sub access.Subject, id int64) (Availability, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Availability{}, fmt.Errorf("workflow: available %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	return s.available(ctx, tx, sub, id)
}

// AvailableTx is Available inside the caller's transaction tx, which it first sets to sub's
// row-level-security settings (access.SetLocal; they stay for the rest of tx).
func (s *Service) AvailableTx(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64) (Availability, error) {
	if err := access.SetLocal(ctx, tx, sub); err != nil {
		return Availability{}, fmt.Errorf("workflow: available %d: %w", id, err)
	}
	return s.available(ctx, tx, sub, id)
}

func (s *Service) available(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64) (Availability, error) {
	it, err := loadItem(ctx, tx, sub, id, false)
	if err != nil {
		return Availability{}, err
	}
	d, err := s.definition(ctx, tx, it.workflow, it.workflowVersion)
	if err != nil {
		return Availability{}, err
	}
	return Availability{ID: id, State: it.state, StateName: d.StateName(it.state), Version: it.version,
		Workflow: it.workflow, WorkflowVersion: it.workflowVersion, Transitions: choices(d, sub, it), Reasons: d.Reasons}, nil
}

// Transition takes transition code on submission id for sub, in one transaction: the state
// change, the history row, the actions, the outbox row and the audit row commit together. It is
// TransitionTx in a transaction of its own.
func (s *Service) Transition(ctx context.Context, sub access.Subject, id int64, code string, in Input) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		res, err = s.TransitionTx(ctx, tx, sub, id, code, in)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// TransitionTx takes transition code on submission id for sub inside the caller's transaction
// tx, so that a caller can make several transitions and writes of its own one unit of work (a
// draft's adoption credits every source report this way): the same checks (optimistic version,
// transition, role, soft lock, guards) and the same writes (state, history, actions including
// notifications, outbox, audit) as Transition, committed or rolled back with tx.
//
// It sets tx's row-level-security settings to sub (access.SetLocal) before it reads anything;
// they stay for the rest of tx (so a bypass the caller set is off afterwards). The work runs in
// a savepoint: a refusal or failure returns its error and leaves tx as it was and usable; the
// caller decides whether to roll back (it should, to keep its unit of work whole). The
// submission's row stays locked (FOR UPDATE) until tx ends.
func (s *Service) TransitionTx(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, code string, in Input) (Result, error) {
	if err := access.SetLocal(ctx, tx, sub); err != nil {
		return Result{}, fmt.Errorf("workflow: transition %d: %w", id, err)
	}
	var res Result
	err := pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
		return s.transition(ctx, tx, sub, id, code, in, &res)
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// transition does the work of TransitionTx in tx, whose row-level-security settings are sub's.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, code string, in Input, res *Result) error {
	it, err := loadItem(ctx, tx, sub, id, true)
	if err != nil {
		return err
	}
	d, err := s.definition(ctx, tx, it.workflow, it.workflowVersion)
	if err != nil {
		return err
	}
	if in.ExpectedVersion != it.version {
		return &ConflictError{ID: id, Expected: in.ExpectedVersion, Current: it.version, State: it.state, StateName: d.StateName(it.state)}
	}
	allowed := choices(d, sub, it)
	i := slices.IndexFunc(d.From(it.state), func(t Transition) bool { return t.Code == code })
	if i < 0 {
		return &RefusedError{Kind: RefusedInvalid, Transition: code, State: it.state, StateName: d.StateName(it.state), Allowed: allowed,
			Message: fmt.Sprintf("当前状态为「%s」，不能执行操作 %q。%s", d.StateName(it.state), code, describe(allowed))}
	}
	t := d.From(it.state)[i]
	if !permits(sub, t, it.unitCode) {
		names := make([]string, len(t.Roles))
		for j, r := range t.Roles {
			names[j] = access.RoleName(r)
		}
		return &RefusedError{Kind: RefusedForbidden, Transition: code, State: it.state, StateName: d.StateName(it.state), Allowed: allowed,
			Message: fmt.Sprintf("当前状态为「%s」，「%s」只能由%s执行（单位角色仅限本单位的信息）。%s",
				d.StateName(it.state), t.Label, strings.Join(names, "、"), describe(allowed))}
	}
	if it.lockHolder != 0 && it.lockHolder != sub.UserID {
		return &RefusedError{Kind: RefusedLocked, Transition: code, State: it.state, StateName: d.StateName(it.state), Allowed: allowed,
			Message: fmt.Sprintf("此信息正由%s处理（锁定至 %s），请待其完成或请签发人解除锁定后再操作",
				it.lockHolderName, it.lockUntil.In(search.Location).Format("15:04"))}
	}
	reason, comment, err := checkGuards(d, t, it, in)
	if err != nil {
		return err
	}
	// Entering a terminal state ends the work on the item: its soft lock is released.
	to, _ := d.State(t.To)
	if err := tx.QueryRow(ctx, `UPDATE submissions SET state = $2, version = version + 1, updated_at = now(), state_entered_at = now(),
				lock_holder_id = CASE WHEN $3 THEN NULL ELSE lock_holder_id END,
				lock_expires_at = CASE WHEN $3 THEN NULL ELSE lock_expires_at END
			WHERE id = $1 RETURNING version`, id, t.To, to.Terminal).Scan(&res.Version); err != nil {
		return fmt.Errorf("workflow: transition %d: %w", id, err)
	}
	var actor *int64
	if sub.UserID != 0 {
		actor = &sub.UserID
	}
	if err := tx.QueryRow(ctx, `INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state,
				transition, actor_id, actor_name, reason, comment)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, at`,
		id, it.workflow, it.workflowVersion, it.state, t.To, t.Code, actor, sub.Username, reason, comment).Scan(&res.EventID, &res.At); err != nil {
		return fmt.Errorf("workflow: transition %d: record event: %w", id, err)
	}
	from, _ := d.State(it.state)
	var actions []Action
	actions = append(actions, from.OnLeave...)
	actions = append(actions, t.Actions...)
	actions = append(actions, to.OnEnter...)
	msg := fmt.Sprintf("信息 #%d：%s，状态变为「%s」", id, t.Label, to.Name)
	if reason != "" {
		msg += "，原因：" + d.ReasonName(reason)
	}
	for _, a := range actions {
		if err := runAction(ctx, tx, a, sub, id, res.EventID, t.Code, msg); err != nil {
			return fmt.Errorf("workflow: transition %d: action %s: %w", id, a.Type, err)
		}
	}
	if err := outbox.Enqueue(ctx, tx, submission.Entity, id); err != nil {
		return err
	}
	detail := fmt.Sprintf("from=%s to=%s version=%d workflow=%s/%d", it.state, t.To, res.Version, it.workflow, it.workflowVersion)
	if reason != "" {
		detail += " reason=" + reason
	}
	lv := it.classification
	if err := audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: in.ClientIP,
		Action: "workflow." + t.Code, Object: "submission:" + strconv.FormatInt(id, 10), Label: &lv, Detail: detail}); err != nil {
		return err
	}
	res.ID, res.Transition, res.From, res.FromName, res.To, res.ToName = id, t.Code, it.state, from.Name, t.To, to.Name
	return nil
}

func checkGuards(d Definition, t Transition, it item, in Input) (reason, comment string, err error) {
	fields := map[string]string{}
	reason = strings.TrimSpace(in.Reason)
	comment = strings.TrimSpace(in.Comment)
	if reason != "" && !slices.ContainsFunc(d.Reasons, func(r Reason) bool { return r.Code == reason }) {
		fields[FieldReason] = fmt.Sprintf("原因 %q 不在配置的原因列表中", reason)
	}
	if slices.Contains(t.Require, FieldReason) && reason == "" {
		names := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			names[i] = r.Name + "（" + r.Code + "）"
		}
		fields[FieldReason] = "「" + t.Label + "」必须选择原因：" + strings.Join(names, "、")
	}
	if slices.Contains(t.Require, FieldComment) && comment == "" {
		fields[FieldComment] = "「" + t.Label + "」必须填写说明"
	}
	if n := utf8.RuneCountInString(comment); n > MaxCommentRunes {
		fields[FieldComment] = fmt.Sprintf("说明最多 %d 个字（现在 %d 个）", MaxCommentRunes, n)
	}
	order := []string{FieldReason, FieldComment}
	for _, g := range t.Guards {
		if _, done := fields[g.Field]; done {
			continue
		}
		if m := g.check(it.fields[g.Field]); m != "" {
			fields[g.Field] = m
			order = append(order, g.Field)
		}
	}
	if len(fields) > 0 {
		parts := make([]string, 0, len(fields))
		for _, f := range order {
			if m, ok := fields[f]; ok {
				parts = append(parts, m)
			}
		}
		return "", "", &RefusedError{Kind: RefusedGuard, Transition: t.Code, State: it.state, StateName: d.StateName(it.state),
			Fields: fields, Message: strings.Join(parts, "；")}
	}
	return reason, comment, nil
}

// phoneRE accepts mainland mobile numbers and landlines with an area code (0731-1234567,
// 0731 12345678, 13812345678), optionally with an extension.
var phoneRE = regexp.MustCompile(`^(1[3-9]\d{9}|0\d{2,3}[- ]?\d{7,8}([- ]?\d{1,6})?)$`)

// check returns the zh-CN problem of value under g ("" when it passes).
func (g Guard) check(value string) string {
	value = strings.TrimSpace(value)
	name := GuardFields[g.Field]
	var msg string
	switch g.Check {
	case CheckRequired:
		if value == "" {
			msg = "必须填写" + name
		}
	case CheckPhone:
		if value != "" && !phoneRE.MatchString(value) {
			msg = name + "「" + value + "」不像电话号码（手机号或带区号的座机号）"
		}
	case CheckMinLength:
		if n := utf8.RuneCountInString(value); n < g.Value {
			msg = fmt.Sprintf("%s至少 %d 个字（现在 %d 个）", name, g.Value, n)
		}
	}
	if msg != "" && g.Message != "" {
		return g.Message
	}
	return msg
}

// notifyRecipients selects the users a notification goes to: active accounts other than the
// actor that match the target and may read the item now (clearance, label categories, readers
// list and unit grant, as in package access).
const notifyRecipients = `INSERT INTO notifications (user_id, submission_id, event_id, kind, message)
	SELECT u.id, s.id, $2, $3, $4
	FROM submissions s, users u LEFT JOIN units uu ON uu.id = u.unit_id
	WHERE s.id = $1 AND u.disabled_at IS NULL AND u.id IS DISTINCT FROM $5
	  AND u.clearance >= s.classification AND s.label_categories <@ u.label_categories
	  AND (cardinality(s.readers) = 0 OR s.readers && (ARRAY['user:' || u.username, 'unit:' || COALESCE(uu.code, '')]
	       || ARRAY(SELECT 'role:' || r FROM unnest(u.roles) r)))
	  AND (u.roles && ARRAY['editor', 'signer', 'researcher', 'leader']
	       OR (u.roles && ARRAY['reporter', 'unit_approver'] AND u.unit_id = s.unit_id))
	  AND `

func runAction(ctx context.Context, tx pgx.Tx, a Action, sub access.Subject, id, eventID int64, code, msg string) error {
	var actor *int64
	if sub.UserID != 0 {
		actor = &sub.UserID
	}
	switch a.Type {
	case ActionNotify:
		args := []any{id, eventID, "workflow." + code, msg, actor}
		var target string
		switch {
		case a.To == "unit":
			target = `u.unit_id = s.unit_id AND u.roles && ARRAY['reporter', 'unit_approver']`
		case a.To == "author":
			target = `u.id = s.author_id`
		case a.To == "assignee":
			target = `u.id = s.assignee_id`
		default:
			target = `$6 = ANY (u.roles)`
			args = append(args, strings.TrimPrefix(a.To, "role:"))
		}
		_, err := tx.Exec(ctx, notifyRecipients+target, args...)
		return err
	case ActionAssign:
		_, err := tx.Exec(ctx, `UPDATE submissions SET assigned_role = $2 WHERE id = $1`, id, a.Role)
		return err
	case ActionTag:
		_, err := tx.Exec(ctx, `UPDATE submissions SET tags = array_append(tags, $2) WHERE id = $1 AND NOT ($2 = ANY (tags))`, id, a.Tag)
		return err
	case ActionArchive:
		_, err := tx.Exec(ctx, `UPDATE submissions SET archived_at = COALESCE(archived_at, now()) WHERE id = $1`, id)
		return err
	}
	return fmt.Errorf("unknown action %q", a.Type)
}

// Event is one row of an item's history.
type Event struct {
	ID         int64
	Transition string
	Label      string
	From       string
	FromName   string
	To         string
	ToName     string
	Actor      string
	Reason     string
	ReasonName string
	Comment    string
	At         time.Time
}

// History returns the transitions of submission id, oldest first, if sub may read it.
func (s *Service) History(ctx context.Context, sub access.Subject, id int64) ([]Event, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("workflow: history %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := loadItem(ctx, tx, sub, id, false); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT e.id, e.workflow_name, e.workflow_version, e.transition, e.from_state, e.to_state,
			COALESCE(NULLIF(u.display_name, ''), e.actor_name), e.reason, e.comment, e.at
		FROM workflow_events e LEFT JOIN users u ON u.id = e.actor_id
		WHERE e.submission_id = $1 ORDER BY e.id`, id)
	if err != nil {
		return nil, fmt.Errorf("workflow: history %d: %w", id, err)
	}
	type row struct {
		Event
		name string
		ver  int
	}
	raw, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var e row
		err := r.Scan(&e.ID, &e.name, &e.ver, &e.Transition, &e.From, &e.To, &e.Actor, &e.Reason, &e.Comment, &e.At)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: history %d: %w", id, err)
	}
	out := make([]Event, 0, len(raw))
	for _, e := range raw {
		d, err := s.definition(ctx, tx, e.name, e.ver)
		if err != nil {
			return nil, err
		}
		e.FromName, e.ToName, e.ReasonName = d.StateName(e.From), d.StateName(e.To), ""
		if e.Reason != "" {
			e.ReasonName = d.ReasonName(e.Reason)
		}
		e.Label = e.Transition
		if i := slices.IndexFunc(d.Transitions, func(t Transition) bool { return t.From == e.From && t.Code == e.Transition }); i >= 0 {
			e.Label = d.Transitions[i].Label
		}
		out = append(out, e.Event)
	}
	return out, nil
}

// Stored is a definition as stored.
type Stored struct {
	Name       string
	Version    int
	Active     bool
	CreatedBy  string
	CreatedAt  time.Time
	Definition Definition
}

// List returns every stored definition, by name and newest version first.
func (s *Service) List(ctx context.Context) ([]Stored, error) {
	rows, err := s.db.Query(ctx, `SELECT name, version, active, created_by, created_at, definition
		FROM workflow_definitions ORDER BY name, version DESC`)
	if err != nil {
		return nil, fmt.Errorf("workflow: list definitions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stored, error) {
		var st Stored
		var raw []byte
		if err := r.Scan(&st.Name, &st.Version, &st.Active, &st.CreatedBy, &st.CreatedAt, &raw); err != nil {
			return st, err
		}
		return st, json.Unmarshal(raw, &st.Definition)
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: list definitions: %w", err)
	}
	return out, nil
}

// Publish stores d as the next version of its workflow and makes it the active one (new items
// start on it; existing items keep theirs). Only the system administrator may publish; every
// attempt is audited.
func (s *Service) Publish(ctx context.Context, sub access.Subject, d Definition, clientIP string) (Stored, error) {
	if !sub.Has(access.RoleSysAdmin) {
		if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "workflow.publish", Object: "workflow:" + d.Name, Outcome: audit.Denied}); err != nil {
			return Stored{}, err
		}
		return Stored{}, fmt.Errorf("workflow: publish: %w: only the system administrator edits workflow definitions", ErrForbidden)
	}
	if err := d.Validate(); err != nil {
		return Stored{}, err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return Stored{}, fmt.Errorf("workflow: publish: %w", err)
	}
	st := Stored{Name: d.Name, Active: true, CreatedBy: sub.Username, Definition: d}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Serialize publishers of one workflow, so versions are consecutive and one stays active.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7305202611250007)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE workflow_definitions SET active = false WHERE name = $1 AND active`, d.Name); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO workflow_definitions (name, version, definition, created_by, active)
			SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, true FROM workflow_definitions WHERE name = $1
			RETURNING version, created_at`, d.Name, raw, sub.Username).Scan(&st.Version, &st.CreatedAt); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "workflow.publish", Object: "workflow:" + d.Name, Detail: "version=" + strconv.Itoa(st.Version)})
	})
	if err != nil {
		return Stored{}, fmt.Errorf("workflow: publish %s: %w", d.Name, err)
	}
	return st, nil
}
