package draft

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/workflow"
)

// States of a draft.
const (
	StateEditing   = "editing"
	StateAdopted   = "adopted"
	StateWithdrawn = "withdrawn"
)

var stateNames = map[string]string{StateEditing: "编辑中", StateAdopted: "已采用", StateWithdrawn: "已撤销（存档）"}

// StateName is the zh-CN name of a draft state.
func StateName(s string) string { return stateNames[s] }

// Credit kinds, the workflow transitions that give them and their names.
const (
	CreditAdopted = "adopted" // transition adopt, 采用
	CreditMerged  = "merged"  // transition merge, 综合采用
)

// CreditName is the zh-CN name of a credit kind.
func CreditName(k string) string {
	if k == CreditMerged {
		return "综合采用"
	}
	return "采用"
}

// Limits.
const (
	MaxSources = 20
	MaxNote    = 500
)

// Errors callers branch on.
var (
	ErrForbidden = submission.ErrForbidden // 403
	ErrConflict  = errors.New("draft changed")
)

// ValidationError lists problems with input by field (422).
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = e.Fields[k]
	}
	return strings.Join(parts, "；")
}

func invalid(field, msg string) error { return &ValidationError{Fields: map[string]string{field: msg}} }

// ConflictError: the draft changed since the caller read it. Theirs is the current revision;
// Changes is the diff from the caller's base revision to it (what the other editor did).
type ConflictError struct {
	ID              int64
	ExpectedVersion int64
	Current         Draft
	BaseRevision    int
	Changes         []DiffOp
	ChangedBy       string
}

func (e *ConflictError) Error() string {
	who := e.ChangedBy
	if who == "" {
		who = "其他编辑"
	}
	return fmt.Sprintf("稿件已被%s修改（您编辑的是第 %d 稿，当前是第 %d 稿），您的修改未保存：请查看对方的改动，合并后再保存",
		who, e.BaseRevision, e.Current.Revision)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Source is a report a draft was made from.
type Source struct {
	SubmissionID int64
	Title        string
	UnitCode     string
	UnitName     string
	State        string
	Position     int
	SpanRunes    int    // characters of the current revision taken from it
	Credit       string // adopted / merged once credited
}

// Draft is a draft as a reader sees it.
type Draft struct {
	ID              int64
	Title           string
	BodyHTML        string
	BodyText        string
	State           string
	Classification  label.Level
	LabelCategories []string
	Revision        int
	Version         int64
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	AdoptedAt       *time.Time
	Sources         []Source
	Spans           []Span // provenance of the current revision
}

// Label is the draft's security label.
func (d Draft) Label() label.Label {
	return label.Label{Level: d.Classification, Categories: d.LabelCategories}
}

// Revision is one immutable revision.
type Revision struct {
	Number       int
	Title        string
	BodyHTML     string
	BodyText     string
	Author       string
	Note         string
	RestoredFrom *int
	CreatedAt    time.Time
}

// Service stores drafts.
type Service struct {
	db *pgxpool.Pool
	wf *workflow.Service
}

// New builds the service; wf gives the credit transitions.
func New(db *pgxpool.Pool, wf *workflow.Service) *Service { return &Service{db: db, wf: wf} }

func canRead(sub access.Subject) bool { return sub.AllUnits() }
func canEdit(sub access.Subject) bool { return sub.Has(access.RoleEditor) }

func forbidden(what string) error {
	return fmt.Errorf("draft: %s: %w: only editors of the city office work on drafts", what, ErrForbidden)
}

// CreateInput is a new draft.
type CreateInput struct {
	Title         string // default: the first source's title
	BodyHTML      string // default: the sources' bodies one after another
	SubmissionIDs []int64
	ClientIP      string
}

type sourceRow struct {
	id             int64
	title          string
	bodyHTML       string
	bodyText       string
	unitID         int64
	state          string
	classification int16
	categories     []string
}

// readableSources loads the reports sub may read among ids, in the order given, refusing any
// that is missing, hidden, archived or not yet with the office.
func readableSources(ctx context.Context, tx pgx.Tx, sub access.Subject, ids []int64) ([]sourceRow, error) {
	pred, args := access.Predicate(sub, "s", 2)
	rows, err := tx.Query(ctx, `SELECT s.id, s.title, s.body_html, s.body_text, s.unit_id, s.state, s.classification, s.label_categories,
			s.archived_at IS NOT NULL
		FROM submissions s WHERE s.id = ANY($1::bigint[]) AND `+pred, append([]any{ids}, args...)...)
	if err != nil {
		return nil, err
	}
	byID := map[int64]sourceRow{}
	archived := map[int64]bool{}
	for rows.Next() {
		var r sourceRow
		var arch bool
		if err := rows.Scan(&r.id, &r.title, &r.bodyHTML, &r.bodyText, &r.unitID, &r.state, &r.classification, &r.categories, &arch); err != nil {
			rows.Close()
			return nil, err
		}
		byID[r.id] = r
		archived[r.id] = arch
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]sourceRow, 0, len(ids))
	for _, id := range ids {
		r, ok := byID[id]
		switch {
		case !ok:
			return nil, invalid("submissions", fmt.Sprintf("信息 #%d 不存在或无权查看", id))
		case archived[id]:
			return nil, invalid("submissions", fmt.Sprintf("信息 #%d 已撤销存档，不能编入稿件", id))
		case r.state != "submitted" && r.state != "in_review":
			return nil, invalid("submissions", fmt.Sprintf("信息 #%d 当前状态为「%s」，只有已报送或审核中的信息可以编入稿件", id, submission.StateName(r.state)))
		}
		out = append(out, r)
	}
	return out, nil
}

func dedupIDs(ids []int64) []int64 {
	var out []int64
	for _, id := range ids {
		if id > 0 && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func checkText(title, bodyHTML string) (string, string, string, error) {
	title = strings.Join(strings.Fields(title), " ")
	fields := map[string]string{}
	switch n := utf8.RuneCountInString(title); {
	case n == 0:
		fields["title"] = "标题不能为空"
	case n > submission.MaxTitleRunes:
		fields["title"] = fmt.Sprintf("标题最多 %d 个字（现在 %d 个）", submission.MaxTitleRunes, n)
	}
	h := submission.SanitizeHTML(bodyHTML)
	text := submission.HTMLToText(h)
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		fields["body"] = "正文不能为空"
	case n > submission.MaxBodyRunes:
		fields["body"] = fmt.Sprintf("正文最多 %d 个字（现在 %d 个）", submission.MaxBodyRunes, n)
	}
	if len(fields) > 0 {
		return "", "", "", &ValidationError{Fields: fields}
	}
	return title, h, text, nil
}

// Create makes a draft from reports, with revision 1 and its provenance.
func (s *Service) Create(ctx context.Context, sub access.Subject, in CreateInput) (Draft, error) {
	if !canEdit(sub) {
		return Draft{}, forbidden("create")
	}
	ids := dedupIDs(in.SubmissionIDs)
	if len(ids) == 0 {
		return Draft{}, invalid("submissions", "请至少选择一条信息")
	}
	if len(ids) > MaxSources {
		return Draft{}, invalid("submissions", fmt.Sprintf("一篇稿件最多合并 %d 条信息", MaxSources))
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		srcs, err := readableSources(ctx, tx, sub, ids)
		if err != nil {
			return err
		}
		title, body := in.Title, in.BodyHTML
		if strings.TrimSpace(title) == "" {
			title = srcs[0].title
		}
		if strings.TrimSpace(body) == "" {
			var b strings.Builder
			for _, r := range srcs {
				b.WriteString(r.bodyHTML)
				b.WriteString("\n")
			}
			body = b.String()
		}
		title, bodyHTML, bodyText, err := checkText(title, body)
		if err != nil {
			return err
		}
		level := int16(0)
		var cats []string
		for _, r := range srcs {
			level = max(level, r.classification)
			for _, c := range r.categories {
				if !slices.Contains(cats, c) {
					cats = append(cats, c)
				}
			}
		}
		slices.Sort(cats)
		if cats == nil {
			cats = []string{}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO drafts (title, body_html, body_text, classification, label_categories, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, title, bodyHTML, bodyText, level, cats, userRef(sub)).Scan(&id); err != nil {
			return fmt.Errorf("draft: create: %w", err)
		}
		for i, r := range srcs {
			if _, err := tx.Exec(ctx, `INSERT INTO draft_sources (draft_id, submission_id, position, added_by) VALUES ($1, $2, $3, $4)`,
				id, r.id, i+1, userRef(sub)); err != nil {
				return fmt.Errorf("draft: create: %w", err)
			}
		}
		if err := insertRevision(ctx, tx, sub, id, 1, title, bodyHTML, bodyText, "由信息"+idList(ids)+"编成", nil); err != nil {
			return err
		}
		lv := int(level)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: in.ClientIP,
			Action: "draft.create", Object: "draft:" + strconv.FormatInt(id, 10), Label: &lv,
			Detail: "sources=" + joinIDs(ids) + " revision=1"})
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, sub, id)
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "#" + strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, "、")
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func userRef(sub access.Subject) *int64 {
	if sub.UserID == 0 {
		return nil
	}
	return &sub.UserID
}

// insertRevision appends revision n and its provenance against the draft's sources.
func insertRevision(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, n int, title, bodyHTML, bodyText, note string, restoredFrom *int) error {
	if _, err := tx.Exec(ctx, `INSERT INTO draft_revisions (draft_id, revision, title, body_html, body_text, author_id, author_name, note, restored_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, n, title, bodyHTML, bodyText, userRef(sub), sub.Username, note, restoredFrom); err != nil {
		return fmt.Errorf("draft %d: revision %d: %w", id, n, err)
	}
	// Sources are read under the bypass: the draft's label dominates its sources' (it was made
	// from them by someone who could read them all), and provenance must not depend on who saves.
	rows, err := tx.Query(ctx, `SELECT s.id, s.body_text FROM draft_sources ds JOIN submissions s ON s.id = ds.submission_id
		WHERE ds.draft_id = $1 ORDER BY ds.position`, id)
	if err != nil {
		return fmt.Errorf("draft %d: provenance: %w", id, err)
	}
	type src struct {
		id   int64
		text string
	}
	var srcs []src
	for rows.Next() {
		var r src
		if err := rows.Scan(&r.id, &r.text); err != nil {
			rows.Close()
			return err
		}
		srcs = append(srcs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range srcs {
		for _, sp := range FindSpans(bodyText, r.text, r.id) {
			if _, err := tx.Exec(ctx, `INSERT INTO draft_spans (draft_id, revision, submission_id, dst_start, dst_end, src_start, src_end)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, n, r.id, sp.DstStart, sp.DstEnd, sp.SrcStart, sp.SrcEnd); err != nil {
				return fmt.Errorf("draft %d: provenance: %w", id, err)
			}
		}
	}
	return nil
}

const selectDraft = `SELECT d.id, d.title, d.body_html, d.body_text, d.state, d.classification, d.label_categories, d.revision, d.version,
	COALESCE(NULLIF(u.display_name, ''), u.username, ''), d.created_at, d.updated_at, d.adopted_at
	FROM drafts d LEFT JOIN users u ON u.id = d.created_by`

func scanDraft(r pgx.Row) (Draft, error) {
	var d Draft
	var cl int16
	err := r.Scan(&d.ID, &d.Title, &d.BodyHTML, &d.BodyText, &d.State, &cl, &d.LabelCategories, &d.Revision, &d.Version,
		&d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &d.AdoptedAt)
	d.Classification = label.Level(cl)
	return d, err
}

// draftPredicate is the read policy of drafts: office roles whose clearance and categories
// dominate the draft's label (row-level security repeats it).
func draftPredicate(sub access.Subject, alias string, next int) (string, []any) {
	cats := sub.Categories
	if cats == nil {
		cats = []string{}
	}
	return fmt.Sprintf("(%[1]s.classification <= $%[2]d AND %[1]s.label_categories <@ $%[3]d::text[])", alias, next, next+1),
		[]any{int(sub.Clearance), cats}
}

func (s *Service) get(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, lock bool) (Draft, error) {
	pred, args := draftPredicate(sub, "d", 2)
	q := selectDraft + ` WHERE d.id = $1 AND ` + pred
	if lock {
		q += ` FOR UPDATE OF d`
	}
	d, err := scanDraft(tx.QueryRow(ctx, q, append([]any{id}, args...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Draft{}, fmt.Errorf("draft %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Draft{}, fmt.Errorf("draft %d: %w", id, err)
	}
	return d, nil
}

// Get returns a draft with its sources and the provenance of its current revision.
func (s *Service) Get(ctx context.Context, sub access.Subject, id int64) (Draft, error) {
	if !canRead(sub) {
		return Draft{}, fmt.Errorf("draft %d: %w", id, store.ErrNotFound)
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	d, err := s.get(ctx, tx, sub, id, false)
	if err != nil {
		return Draft{}, err
	}
	if err := s.fill(ctx, tx, &d); err != nil {
		return Draft{}, err
	}
	return d, nil
}

func (s *Service) fill(ctx context.Context, tx pgx.Tx, d *Draft) error {
	spans, err := loadSpans(ctx, tx, d.ID, d.Revision, d.BodyText)
	if err != nil {
		return err
	}
	d.Spans = spans
	// The sources are part of the draft (its label dominates theirs): read under the bypass in a
	// savepoint, so that their titles show for every reader of the draft.
	return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		if err := access.SetBypass(ctx, sp); err != nil {
			return err
		}
		rows, err := sp.Query(ctx, `SELECT s.id, s.title, u.code, u.name, s.state, ds.position, COALESCE(c.kind, '')
			FROM draft_sources ds JOIN submissions s ON s.id = ds.submission_id JOIN units u ON u.id = s.unit_id
			LEFT JOIN draft_credits c ON c.draft_id = ds.draft_id AND c.submission_id = ds.submission_id
			WHERE ds.draft_id = $1 ORDER BY ds.position`, d.ID)
		if err != nil {
			return fmt.Errorf("draft %d: sources: %w", d.ID, err)
		}
		defer rows.Close()
		d.Sources = nil
		for rows.Next() {
			var src Source
			if err := rows.Scan(&src.SubmissionID, &src.Title, &src.UnitCode, &src.UnitName, &src.State, &src.Position, &src.Credit); err != nil {
				return err
			}
			var own []Span
			for _, s := range spans {
				if s.SubmissionID == src.SubmissionID {
					own = append(own, s)
				}
			}
			src.SpanRunes = Coverage(own)
			d.Sources = append(d.Sources, src)
		}
		return rows.Err()
	})
}

func loadSpans(ctx context.Context, tx pgx.Tx, id int64, rev int, text string) ([]Span, error) {
	rows, err := tx.Query(ctx, `SELECT submission_id, dst_start, dst_end, src_start, src_end FROM draft_spans
		WHERE draft_id = $1 AND revision = $2 ORDER BY dst_start, submission_id`, id, rev)
	if err != nil {
		return nil, fmt.Errorf("draft %d: spans: %w", id, err)
	}
	defer rows.Close()
	rs := []rune(text)
	var out []Span
	for rows.Next() {
		var s Span
		if err := rows.Scan(&s.SubmissionID, &s.DstStart, &s.DstEnd, &s.SrcStart, &s.SrcEnd); err != nil {
			return nil, err
		}
		if s.DstEnd <= len(rs) {
			s.Text = string(rs[s.DstStart:s.DstEnd])
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ListOptions filter the list.
type ListOptions struct {
	State string // "" for editing and adopted; a state name otherwise
	Limit int
}

// List returns the drafts sub may read, most recently changed first.
func (s *Service) List(ctx context.Context, sub access.Subject, o ListOptions) ([]Draft, error) {
	if !canRead(sub) {
		return []Draft{}, nil
	}
	if o.Limit <= 0 || o.Limit > 200 {
		o.Limit = 100
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := draftPredicate(sub, "d", 1)
	where := " WHERE " + pred
	if o.State != "" {
		args = append(args, o.State)
		where += fmt.Sprintf(" AND d.state = $%d", len(args))
	} else {
		where += " AND d.state <> 'withdrawn'"
	}
	args = append(args, o.Limit)
	rows, err := tx.Query(ctx, selectDraft+where+fmt.Sprintf(" ORDER BY d.updated_at DESC, d.id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("draft: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Draft, error) { return scanDraft(r) })
	if err != nil {
		return nil, fmt.Errorf("draft: list: %w", err)
	}
	for i := range out {
		if err := s.fill(ctx, tx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SaveInput is an edit.
type SaveInput struct {
	Title           string
	BodyHTML        string
	Note            string
	ExpectedVersion int64 // drafts.version the editor loaded
	BaseRevision    int   // the revision the editor's text is based on (for the conflict diff)
	ClientIP        string
}

// Save appends a revision, unless the draft changed since ExpectedVersion (*ConflictError) or
// nothing changed (the current draft is returned as is).
func (s *Service) Save(ctx context.Context, sub access.Subject, id int64, in SaveInput) (Draft, error) {
	if !canEdit(sub) {
		return Draft{}, forbidden("save")
	}
	if utf8.RuneCountInString(in.Note) > MaxNote {
		return Draft{}, invalid("note", fmt.Sprintf("修改说明最多 %d 个字", MaxNote))
	}
	title, bodyHTML, bodyText, err := checkText(in.Title, in.BodyHTML)
	if err != nil {
		return Draft{}, err
	}
	err = s.inDraft(ctx, sub, id, in.ExpectedVersion, in.BaseRevision, func(tx pgx.Tx, d Draft) error {
		if d.State != StateEditing {
			return invalid("state", fmt.Sprintf("稿件%s，不能再修改", StateName(d.State)))
		}
		if title == d.Title && bodyHTML == d.BodyHTML {
			return nil
		}
		n := d.Revision + 1
		if err := insertRevision(ctx, tx, sub, id, n, title, bodyHTML, bodyText, strings.TrimSpace(in.Note), nil); err != nil {
			return err
		}
		return s.update(ctx, tx, sub, d, in.ClientIP, `title = $2, body_html = $3, body_text = $4, revision = $5`,
			"draft.save", fmt.Sprintf("revision=%d", n), title, bodyHTML, bodyText, n)
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, sub, id)
}

// inDraft runs f in a transaction holding the draft's row lock, after the version check.
func (s *Service) inDraft(ctx context.Context, sub access.Subject, id, expected int64, baseRevision int, f func(pgx.Tx, Draft) error) error {
	var conflict *ConflictError
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		d, err := s.get(ctx, tx, sub, id, true)
		if err != nil {
			return err
		}
		if expected != d.Version {
			if err := s.fill(ctx, tx, &d); err != nil {
				return err
			}
			conflict = &ConflictError{ID: id, ExpectedVersion: expected, Current: d, BaseRevision: baseRevision}
			base := d.BodyText
			if baseRevision >= 1 && baseRevision <= d.Revision {
				if err := tx.QueryRow(ctx, `SELECT body_text FROM draft_revisions WHERE draft_id = $1 AND revision = $2`, id, baseRevision).Scan(&base); err != nil {
					return err
				}
			}
			conflict.Changes = Diff(base, d.BodyText)
			_ = tx.QueryRow(ctx, `SELECT author_name FROM draft_revisions WHERE draft_id = $1 AND revision = $2`, id, d.Revision).Scan(&conflict.ChangedBy)
			return conflict
		}
		return f(tx, d)
	})
	return err
}

// update changes the draft row (set is an UPDATE … SET fragment with parameters from $2),
// bumping version, and writes the audit row.
func (s *Service) update(ctx context.Context, tx pgx.Tx, sub access.Subject, d Draft, clientIP, set, action, detail string, args ...any) error {
	if _, err := tx.Exec(ctx, `UPDATE drafts SET `+set+`, version = version + 1, updated_at = now() WHERE id = $1`,
		append([]any{d.ID}, args...)...); err != nil {
		return fmt.Errorf("draft %d: %s: %w", d.ID, action, err)
	}
	lv := int(d.Classification)
	return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: action, Object: "draft:" + strconv.FormatInt(d.ID, 10), Label: &lv, Detail: detail})
}

// Revisions lists a draft's revisions, newest first.
func (s *Service) Revisions(ctx context.Context, sub access.Subject, id int64) ([]Revision, error) {
	if _, err := s.Get(ctx, sub, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT revision, title, body_html, body_text, author_name, note, restored_from, created_at
		FROM draft_revisions WHERE draft_id = $1 ORDER BY revision DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("draft %d: revisions: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Revision, error) {
		var v Revision
		err := r.Scan(&v.Number, &v.Title, &v.BodyHTML, &v.BodyText, &v.Author, &v.Note, &v.RestoredFrom, &v.CreatedAt)
		return v, err
	})
}

// GetRevision returns revision n.
func (s *Service) GetRevision(ctx context.Context, sub access.Subject, id int64, n int) (Revision, error) {
	revs, err := s.Revisions(ctx, sub, id)
	if err != nil {
		return Revision{}, err
	}
	for _, r := range revs {
		if r.Number == n {
			return r, nil
		}
	}
	return Revision{}, fmt.Errorf("draft %d revision %d: %w", id, n, store.ErrNotFound)
}

// Restore appends a revision with the text of revision n.
func (s *Service) Restore(ctx context.Context, sub access.Subject, id int64, n int, expected int64, clientIP string) (Draft, error) {
	if !canEdit(sub) {
		return Draft{}, forbidden("restore")
	}
	old, err := s.GetRevision(ctx, sub, id, n)
	if err != nil {
		return Draft{}, err
	}
	err = s.inDraft(ctx, sub, id, expected, 0, func(tx pgx.Tx, d Draft) error {
		if d.State != StateEditing {
			return invalid("state", fmt.Sprintf("稿件%s，不能再修改", StateName(d.State)))
		}
		m := d.Revision + 1
		if err := insertRevision(ctx, tx, sub, id, m, old.Title, old.BodyHTML, old.BodyText, fmt.Sprintf("恢复第 %d 稿", n), &n); err != nil {
			return err
		}
		return s.update(ctx, tx, sub, d, clientIP, `title = $2, body_html = $3, body_text = $4, revision = $5`,
			"draft.restore", fmt.Sprintf("revision=%d restored_from=%d", m, n), old.Title, old.BodyHTML, old.BodyText, m)
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, sub, id)
}

// AddSources links more reports to a draft (merging them in); the editor then works their text
// into the body. Provenance of the current revision is recomputed in a new revision.
func (s *Service) AddSources(ctx context.Context, sub access.Subject, id int64, ids []int64, expected int64, clientIP string) (Draft, error) {
	if !canEdit(sub) {
		return Draft{}, forbidden("add sources")
	}
	ids = dedupIDs(ids)
	if len(ids) == 0 {
		return Draft{}, invalid("submissions", "请至少选择一条信息")
	}
	err := s.inDraft(ctx, sub, id, expected, 0, func(tx pgx.Tx, d Draft) error {
		if d.State != StateEditing {
			return invalid("state", fmt.Sprintf("稿件%s，不能再修改", StateName(d.State)))
		}
		srcs, err := readableSources(ctx, tx, sub, ids)
		if err != nil {
			return err
		}
		var pos int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(position), 0) FROM draft_sources WHERE draft_id = $1`, id).Scan(&pos); err != nil {
			return err
		}
		if d.Classification < label.Public || d.Classification > label.Confidential {
			return fmt.Errorf("draft: %d has classification %d, outside the known levels", id, d.Classification)
		}
		level := int16(d.Classification)
		cats := slices.Clone(d.LabelCategories)
		var added []int64
		for _, r := range srcs {
			tag, err := tx.Exec(ctx, `INSERT INTO draft_sources (draft_id, submission_id, position, added_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, id, r.id, pos+1, userRef(sub))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			pos++
			added = append(added, r.id)
			level = max(level, r.classification)
			for _, c := range r.categories {
				if !slices.Contains(cats, c) {
					cats = append(cats, c)
				}
			}
		}
		if len(added) == 0 {
			return nil
		}
		slices.Sort(cats)
		m := d.Revision + 1
		if err := insertRevision(ctx, tx, sub, id, m, d.Title, d.BodyHTML, d.BodyText, "合并信息"+idList(added), nil); err != nil {
			return err
		}
		return s.update(ctx, tx, sub, d, clientIP, `classification = $2, label_categories = $3, revision = $4`,
			"draft.add_sources", fmt.Sprintf("sources+=%s revision=%d", joinIDs(added), m), level, cats, m)
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, sub, id)
}

// Withdraw archives a draft (never deleted; revisions and provenance stay).
func (s *Service) Withdraw(ctx context.Context, sub access.Subject, id int64, reason string, expected int64, clientIP string) (Draft, error) {
	if !canEdit(sub) {
		return Draft{}, forbidden("withdraw")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Draft{}, invalid("reason", "请说明撤销原因")
	}
	if utf8.RuneCountInString(reason) > MaxNote {
		return Draft{}, invalid("reason", fmt.Sprintf("撤销原因最多 %d 个字", MaxNote))
	}
	err := s.inDraft(ctx, sub, id, expected, 0, func(tx pgx.Tx, d Draft) error {
		if d.State != StateEditing {
			return invalid("state", fmt.Sprintf("稿件%s，不能撤销", StateName(d.State)))
		}
		return s.update(ctx, tx, sub, d, clientIP, `state = 'withdrawn', archived_at = now()`, "draft.withdraw", "reason="+reason)
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, sub, id)
}

// Credit is one report credited by an adoption.
type Credit struct {
	SubmissionID int64
	UnitCode     string
	UnitName     string
	Kind         string
	SpanRunes    int
	EventID      int64
}

// SourceError is a source report's refusal of its credit (a workflow *RefusedError or
// *ConflictError, a *ValidationError when it cannot be credited from its state): adoption was
// rolled back, and the editor learns which report blocked it and why.
type SourceError struct {
	SubmissionID int64
	UnitName     string
	Err          error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("来源信息 #%d（%s）：%s；稿件未采用，所有来源信息均未记采用", e.SubmissionID, e.UnitName, e.Err.Error())
}

func (e *SourceError) Unwrap() error { return e.Err }

// Adopt adopts the draft and credits every contributing report (see the package comment), in
// one transaction: the draft's state change, every report's credit transitions (with their
// history, notification, outbox and audit rows, through workflow.TransitionTx), the
// draft_credits rows and the draft.adopt audit row commit together or not at all. A refusal of
// any credit (a report locked by another editor, changed meanwhile, or in a state that cannot be
// credited) rolls everything back and is returned as a *SourceError naming the report. The
// reports are locked in ascending id order, so two adoptions sharing reports cannot deadlock.
func (s *Service) Adopt(ctx context.Context, sub access.Subject, id int64, expected int64, clientIP string) (Draft, []Credit, error) {
	if !canEdit(sub) {
		return Draft{}, nil, forbidden("adopt")
	}
	var credits []Credit
	err := s.inDraft(ctx, sub, id, expected, 0, func(tx pgx.Tx, d Draft) error {
		if d.State != StateEditing {
			return invalid("state", fmt.Sprintf("稿件%s，不能再次采用", StateName(d.State)))
		}
		if err := s.fill(ctx, tx, &d); err != nil {
			return err
		}
		// fill read the sources under the bypass; back to the editor's own settings.
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		var contributing []Source
		for _, src := range d.Sources {
			if src.SpanRunes >= MinCreditRunes {
				contributing = append(contributing, src)
			}
		}
		if len(contributing) == 0 {
			return invalid("sources", fmt.Sprintf("稿件正文中没有取自任何来源信息的内容（每条至少 %d 字），无法认定采用单位", MinCreditRunes))
		}
		slices.SortFunc(contributing, func(x, y Source) int { return cmp.Compare(x.SubmissionID, y.SubmissionID) })
		kind, code := CreditAdopted, "adopt"
		if len(contributing) > 1 {
			kind, code = CreditMerged, "merge"
		}
		for _, src := range contributing {
			c := Credit{SubmissionID: src.SubmissionID, UnitCode: src.UnitCode, UnitName: src.UnitName, Kind: kind, SpanRunes: src.SpanRunes}
			if src.Credit != "" { // given by an interrupted adoption of an older version (adoption was not atomic before)
				c.Kind = src.Credit
				credits = append(credits, c)
				continue
			}
			ev, err := s.credit(ctx, tx, sub, d, src, code, kind, clientIP)
			if err != nil {
				return &SourceError{SubmissionID: src.SubmissionID, UnitName: src.UnitName, Err: err}
			}
			c.EventID = ev
			credits = append(credits, c)
		}
		parts := make([]string, len(credits))
		for i, c := range credits {
			parts[i] = fmt.Sprintf("%d:%s:%s", c.SubmissionID, c.UnitCode, c.Kind)
		}
		return s.update(ctx, tx, sub, d, clientIP, `state = 'adopted', adopted_at = now()`, "draft.adopt",
			fmt.Sprintf("revision=%d credits=%s", d.Revision, strings.Join(parts, ",")))
	})
	if err != nil {
		return Draft{}, nil, err
	}
	out, err := s.Get(ctx, sub, id)
	return out, credits, err
}

// credit moves one report to adopted/merged (through review when it is still submitted) and
// records the credit, all in tx.
func (s *Service) credit(ctx context.Context, tx pgx.Tx, sub access.Subject, d Draft, src Source, code, kind, clientIP string) (int64, error) {
	note := fmt.Sprintf("稿件 #%d「%s」%s", d.ID, d.Title, CreditName(kind))
	for range 2 {
		av, err := s.wf.AvailableTx(ctx, tx, sub, src.SubmissionID)
		if err != nil {
			return 0, err
		}
		next := ""
		for _, t := range av.Transitions {
			if t.Code == code {
				next = code
				break
			}
			if t.Code == "review" && next == "" {
				next = "review"
			}
		}
		if next == "" {
			return 0, invalid("sources", fmt.Sprintf("当前状态为「%s」，无法%s", av.StateName, CreditName(kind)))
		}
		res, err := s.wf.TransitionTx(ctx, tx, sub, src.SubmissionID, next, workflow.Input{Comment: note, ExpectedVersion: av.Version, ClientIP: clientIP})
		if err != nil {
			return 0, err
		}
		if next == code {
			// The transition authorized the credit; the report's unit is read under the bypass,
			// then the editor's own settings are back for the rest of the transaction.
			if err := access.SetBypass(ctx, tx); err != nil {
				return 0, err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO draft_credits (draft_id, submission_id, unit_id, kind, span_runes, event_id)
				SELECT $1, s.id, s.unit_id, $3, $4, $5 FROM submissions s WHERE s.id = $2`, d.ID, src.SubmissionID, kind, src.SpanRunes, res.EventID)
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("report %d not found", src.SubmissionID)
			}
			if err == nil {
				err = access.SetLocal(ctx, tx, sub)
			}
			if err != nil {
				return 0, fmt.Errorf("draft %d: record credit of %d: %w", d.ID, src.SubmissionID, err)
			}
			return res.EventID, nil
		}
	}
	return 0, fmt.Errorf("draft %d: credit report %d: review did not lead to %s", d.ID, src.SubmissionID, code)
}

// ReportCredit is a draft's credit as shown on the report.
type ReportCredit struct {
	DraftID    int64
	DraftTitle string // "" for readers who may not read drafts (units)
	Kind       string
	At         time.Time
}

// CreditsOf returns the credits a report received (the caller has checked that sub may read the
// report). Units learn that and how their report was used; the draft itself is office work.
func (s *Service) CreditsOf(ctx context.Context, sub access.Subject, submissionID int64) ([]ReportCredit, error) {
	var out []ReportCredit
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.draft_id, d.title, d.classification, d.label_categories, c.kind, c.credited_at
			FROM draft_credits c JOIN drafts d ON d.id = c.draft_id WHERE c.submission_id = $1 ORDER BY c.credited_at`, submissionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ReportCredit
			var cl int16
			var cats []string
			if err := rows.Scan(&r.DraftID, &r.DraftTitle, &cl, &cats, &r.Kind, &r.At); err != nil {
				return err
			}
			if !canRead(sub) || !sub.Label().Dominates(label.Label{Level: label.Level(cl), Categories: cats}) {
				r.DraftTitle = ""
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("draft: credits of report %d: %w", submissionID, err)
	}
	return out, nil
}
