// Package periodical is the domain of periodicals (刊物): their definitions, issues (期) compiled
// from records found by search, sign-off (签发) into an immutable snapshot with rendered outputs,
// distribution, archive, and leader endorsements (领导批示) with follow-up tasks for the
// responsible units.
//
// An item of an issue is a reference (kind, id) to a record of another aggregate — a submission
// today, a draft (稿件) once that package registers a Source — so the issue never copies the
// record until it is signed: the signed snapshot freezes the text as it was.
//
// Every write runs in one transaction with its audit row and, where something searchable
// changed, its outbox row.
package periodical

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"infowork/outbox"
	"infowork/render"
	"infowork/search"
	"infowork/store"
)

// Entity is the outbox entity name of issues.
const Entity = "periodical_issue"

// Sentinel errors callers branch on (the web layer maps them to 403/404/409/422).
var (
	ErrForbidden = errors.New("periodical: forbidden")
	ErrNotFound  = store.ErrNotFound
	// ErrState wraps refusals because of the issue's state (signed twice, editing a signed issue).
	ErrState = errors.New("periodical: not allowed in this state")
)

// StateError is a refusal because of state, with the zh-CN reason shown to the user.
type StateError struct{ Reason string }

func (e *StateError) Error() string { return e.Reason }
func (e *StateError) Unwrap() error { return ErrState }

func stateErr(format string, a ...any) error { return &StateError{Reason: fmt.Sprintf(format, a...)} }

// ValidationError lists problems with input by field.
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

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Levels are the adopting levels of a periodical, used in scoring (package statistics).
var Levels = []string{"office", "city", "province", "central"}

var levelNames = map[string]string{"office": "市委办公室", "city": "市级", "province": "省级", "central": "中央"}

// LevelName is the zh-CN name of a level.
func LevelName(l string) string { return levelNames[l] }

// Frequencies of a periodical.
var Frequencies = []string{"daily", "weekly", "monthly", "irregular"}

var frequencyNames = map[string]string{"daily": "日刊", "weekly": "周刊", "monthly": "月刊", "irregular": "不定期"}

// FrequencyName is the zh-CN name of a frequency.
func FrequencyName(f string) string { return frequencyNames[f] }

var stateNames = map[string]string{"draft": "编辑中", "signed": "已签发", "sent": "已分送", "archived": "已归档",
	"correcting": "更正中", "void": "已作废"}

// StateName is the zh-CN name of an issue state.
func StateName(s string) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return s
}

// Periodical is a periodical definition.
type Periodical struct {
	ID             int64
	Code           string
	Name           string
	Kind           string // regular | special (专刊)
	ParentID       int64  // the regular periodical a special series belongs to, 0 if none
	Level          string
	Sections       []string
	Frequency      string
	Classification label.Level
	MastheadOrg    string
	FooterNote     string
	Distribution   []string
	SignerID       int64 // designated signer, 0 if none
	SignerName     string
	SignerUsername string
	LastTotal      int
}

// PeriodicalInput defines or changes a periodical.
type PeriodicalInput struct {
	Code, Name, Kind, ParentCode, Level, Frequency string
	Sections, Distribution                         []string
	Classification                                 label.Level
	MastheadOrg, FooterNote                        string
	SignerUsername                                 string
}

// Options configure the service.
type Options struct {
	Logger *slog.Logger
	// Printer prints the PDF at sign-off; nil builds one with default options.
	Printer *render.Printer
	// Sources resolve item references by kind; submissions and drafts are built in, and an
	// entry here adds or replaces one.
	Sources map[string]Source
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service runs periodicals.
type Service struct {
	db      *pgxpool.Pool
	log     *slog.Logger
	printer *render.Printer
	sources map[string]Source
	now     func() time.Time
}

// New builds the service.
func New(db *pgxpool.Pool, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Printer == nil {
		opts.Printer = render.NewPrinter(render.PDFOptions{})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{db: db, log: opts.Logger.With("component", "periodical"), printer: opts.Printer, now: opts.Now,
		sources: map[string]Source{KindSubmission: submissionSource{}, KindDraft: draftSource{}}}
	for k, v := range opts.Sources {
		s.sources[k] = v
	}
	return s
}

// Kinds lists the item kinds this service can resolve.
func (s *Service) Kinds() []string {
	ks := make([]string, 0, len(s.sources))
	for k := range s.sources {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func isEditor(sub access.Subject) bool { return sub.Has(access.RoleEditor) }
func isSigner(sub access.Subject) bool { return sub.Has(access.RoleSigner) }

// canManage: editors compile; signers (chief editors) may do what editors do to an issue.
func canManage(sub access.Subject) bool { return isEditor(sub) || isSigner(sub) }

// canReadIssues: the office roles read issues within their clearance.
func canReadIssues(sub access.Subject) bool { return sub.AllUnits() }

func cleanList(in []string, max int) []string {
	out := []string{}
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) && utf8.RuneCountInString(v) <= max {
			out = append(out, v)
		}
	}
	return out
}

// SplitList splits a user-typed list on newlines, commas and 、.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == '，' || r == '、' || r == ';' || r == '；'
	})
}

// CreatePeriodical defines a periodical (editors and signers).
func (s *Service) CreatePeriodical(ctx context.Context, sub access.Subject, in PeriodicalInput, clientIP string) (Periodical, error) {
	if !canManage(sub) {
		return Periodical{}, fmt.Errorf("periodical: create: %w", ErrForbidden)
	}
	ve := &ValidationError{}
	in.Code = strings.TrimSpace(in.Code)
	in.Name = strings.TrimSpace(in.Name)
	if !codeRE(in.Code) {
		ve.add("code", "代码须为 1–32 个字母、数字、点、横线或下划线")
	}
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > 50 {
		ve.add("name", "刊物名称须为 1–50 个字")
	}
	if in.Kind == "" {
		in.Kind = "regular"
	}
	if in.Kind != "regular" && in.Kind != "special" {
		ve.add("kind", "类型只能是 regular（常规）或 special（专刊）")
	}
	if in.Level == "" {
		in.Level = "city"
	}
	if !slices.Contains(Levels, in.Level) {
		ve.add("level", "级别只能是 office、city、province 或 central")
	}
	if in.Frequency == "" {
		in.Frequency = "irregular"
	}
	if !slices.Contains(Frequencies, in.Frequency) {
		ve.add("frequency", "刊期只能是 daily、weekly、monthly 或 irregular")
	}
	if !in.Classification.Valid() {
		ve.add("classification", "密级无效")
	} else if !sub.Clearance.Dominates(in.Classification) {
		ve.add("classification", "不能设置高于本人密级的刊物密级")
	}
	sections := cleanList(in.Sections, 20)
	dist := cleanList(in.Distribution, 100)
	if len(dist) == 0 {
		ve.add("distribution", "分送范围（版记“报”）至少一个")
	}
	if err := ve.err(); err != nil {
		return Periodical{}, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var parentID, signerID *int64
		if in.ParentCode != "" {
			var pid int64
			if err := tx.QueryRow(ctx, `SELECT id FROM periodicals WHERE code = $1`, in.ParentCode).Scan(&pid); err != nil {
				return &ValidationError{Fields: map[string]string{"parent": fmt.Sprintf("所属刊物 %q 不存在", in.ParentCode)}}
			}
			parentID = &pid
		}
		if in.SignerUsername != "" {
			var uid int64
			var roles []string
			if err := tx.QueryRow(ctx, `SELECT id, roles FROM users WHERE username = $1 AND disabled_at IS NULL`, in.SignerUsername).Scan(&uid, &roles); err != nil || !slices.Contains(roles, access.RoleSigner) {
				return &ValidationError{Fields: map[string]string{"signer": fmt.Sprintf("签发人 %q 不存在或没有签发人角色", in.SignerUsername)}}
			}
			signerID = &uid
		}
		err := tx.QueryRow(ctx, `INSERT INTO periodicals (code, name, kind, parent_id, level, sections, frequency, classification,
				masthead_org, footer_note, distribution, signer_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			in.Code, in.Name, in.Kind, parentID, in.Level, sections, in.Frequency, int(in.Classification),
			strings.TrimSpace(in.MastheadOrg), strings.TrimSpace(in.FooterNote), dist, signerID).Scan(&id)
		if store.IsUniqueViolation(err, "periodicals_code_key") {
			return &ValidationError{Fields: map[string]string{"code": fmt.Sprintf("代码 %q 已被使用", in.Code)}}
		}
		if err != nil {
			return err
		}
		lv := int(in.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.create", Object: "periodical:" + strconv.FormatInt(id, 10), Label: &lv, Detail: in.Name})
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return Periodical{}, ve
		}
		return Periodical{}, fmt.Errorf("periodical: create %s: %w", in.Code, err)
	}
	return s.Periodical(ctx, id)
}

func codeRE(c string) bool {
	if len(c) < 1 || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

const selectPeriodical = `SELECT p.id, p.code, p.name, p.kind, COALESCE(p.parent_id, 0), p.level, p.sections, p.frequency,
	p.classification, p.masthead_org, p.footer_note, p.distribution, COALESCE(p.signer_id, 0),
	COALESCE(NULLIF(su.display_name, ''), su.username, ''), p.last_total, COALESCE(su.username, '')
	FROM periodicals p LEFT JOIN users su ON su.id = p.signer_id`

func scanPeriodical(r pgx.CollectableRow) (Periodical, error) {
	var p Periodical
	var cl int16
	err := r.Scan(&p.ID, &p.Code, &p.Name, &p.Kind, &p.ParentID, &p.Level, &p.Sections, &p.Frequency, &cl,
		&p.MastheadOrg, &p.FooterNote, &p.Distribution, &p.SignerID, &p.SignerName, &p.LastTotal, &p.SignerUsername)
	p.Classification = label.Level(cl)
	return p, err
}

// Periodical returns one definition.
func (s *Service) Periodical(ctx context.Context, id int64) (Periodical, error) {
	rows, err := s.db.Query(ctx, selectPeriodical+` WHERE p.id = $1`, id)
	if err != nil {
		return Periodical{}, fmt.Errorf("periodical %d: %w", id, err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPeriodical)
	if errors.Is(err, pgx.ErrNoRows) {
		return Periodical{}, fmt.Errorf("periodical %d: %w", id, ErrNotFound)
	}
	return p, err
}

// PeriodicalByCode returns one definition by code.
func (s *Service) PeriodicalByCode(ctx context.Context, code string) (Periodical, error) {
	rows, err := s.db.Query(ctx, selectPeriodical+` WHERE p.code = $1`, code)
	if err != nil {
		return Periodical{}, fmt.Errorf("periodical %s: %w", code, err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPeriodical)
	if errors.Is(err, pgx.ErrNoRows) {
		return Periodical{}, fmt.Errorf("periodical %s: %w", code, ErrNotFound)
	}
	return p, err
}

// Periodicals lists the active definitions whose classification the subject may read, by kind and name.
func (s *Service) Periodicals(ctx context.Context, sub access.Subject) ([]Periodical, error) {
	if !canReadIssues(sub) {
		return nil, fmt.Errorf("periodical: list: %w", ErrForbidden)
	}
	rows, err := s.db.Query(ctx, selectPeriodical+` WHERE p.archived_at IS NULL AND p.classification <= $1 ORDER BY p.kind, p.id`, int(sub.Clearance))
	if err != nil {
		return nil, fmt.Errorf("periodical: list: %w", err)
	}
	return pgx.CollectRows(rows, scanPeriodical)
}

// Issue is one issue (期) with its items.
type Issue struct {
	ID             int64
	Periodical     Periodical
	Year           int
	YearNumber     int
	TotalNumber    int
	Title          string
	Date           time.Time
	Classification label.Level
	State          string
	Revision       int
	SectionOrder   []string // this issue's order of sections, empty: the periodical's
	CreatedAt      time.Time
	SignedAt       *time.Time
	SentAt         *time.Time
	ArchivedAt     *time.Time
	Version        int64
	Items          []Item
	Revisions      []Revision
	Distributions  []Distribution
	Corrections    []Correction
}

// Editable reports whether items may change (draft, or correcting a signed issue).
func (i Issue) Editable() bool { return i.State == "draft" || i.State == "correcting" }

// NumberText is 2026年第12期（总第345期）.
func (i Issue) NumberText() string {
	return fmt.Sprintf("%d年第%d期（总第%d期）", i.Year, i.YearNumber, i.TotalNumber)
}

// Sections returns the section names in display order: the periodical's, then any other used
// by items (a section removed from the definition keeps its items visible), then "" last.
func (i Issue) Sections() []string {
	var out []string
	for _, s := range i.SectionOrder { // the issue's own order first (names still in use)
		if s != "" && (slices.Contains(i.Periodical.Sections, s) || slices.ContainsFunc(i.Items, func(it Item) bool { return it.Section == s })) {
			out = append(out, s)
		}
	}
	for _, s := range i.Periodical.Sections {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	hasEmpty := len(i.Periodical.Sections) == 0
	for _, it := range i.Items {
		if it.Section == "" {
			hasEmpty = true
		} else if !slices.Contains(out, it.Section) {
			out = append(out, it.Section)
		}
	}
	if hasEmpty {
		out = append(out, "")
	}
	return out
}

// ItemsIn returns the items of one section in order.
func (i Issue) ItemsIn(section string) []Item {
	var out []Item
	for _, it := range i.Items {
		if it.Section == section {
			out = append(out, it)
		}
	}
	return out
}

// IssueInput creates an issue.
type IssueInput struct {
	Date  time.Time // issue date; zero means today (Asia/Shanghai)
	Title string    // theme, mostly for a special issue
}

// CreateIssue creates an issue and reserves its numbers: the year number (第N期) and the running
// total (总第N期). Both counters are bumped under row locks inside the transaction that inserts
// the issue, so concurrent creations serialize on them and never share a number; a number once
// reserved is never reused (an abandoned issue is voided, not deleted).
func (s *Service) CreateIssue(ctx context.Context, sub access.Subject, periodicalID int64, in IssueInput, clientIP string) (Issue, error) {
	if !canManage(sub) {
		return Issue{}, fmt.Errorf("periodical: create issue: %w", ErrForbidden)
	}
	if in.Date.IsZero() {
		in.Date = s.now()
	}
	d := in.Date.In(search.Location)
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	title := strings.TrimSpace(in.Title)
	if utf8.RuneCountInString(title) > 100 {
		return Issue{}, &ValidationError{Fields: map[string]string{"title": "本期标题最多 100 个字"}}
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var total, cl int
		err := tx.QueryRow(ctx, `UPDATE periodicals SET last_total = last_total + 1, updated_at = now()
			WHERE id = $1 AND archived_at IS NULL RETURNING last_total, classification`, periodicalID).Scan(&total, &cl)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("periodical %d: %w", periodicalID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !sub.Clearance.Dominates(label.Level(cl)) {
			return fmt.Errorf("periodical %d: %w", periodicalID, ErrNotFound)
		}
		var number int
		if err := tx.QueryRow(ctx, `INSERT INTO periodical_year_counters (periodical_id, year, last_number) VALUES ($1, $2, 1)
			ON CONFLICT (periodical_id, year) DO UPDATE SET last_number = periodical_year_counters.last_number + 1
			RETURNING last_number`, periodicalID, day.Year()).Scan(&number); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO periodical_issues (periodical_id, year, year_number, total_number, title, issue_date,
				classification, unit_id, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT unit_id FROM users WHERE id = $8), $8) RETURNING id`,
			periodicalID, day.Year(), number, total, title, day, cl, nullID(sub.UserID)).Scan(&id); err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, tx, Entity, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.issue.create", Object: issueObject(id), Label: &cl,
			Detail: fmt.Sprintf("%d年第%d期（总第%d期）", day.Year(), number, total)})
	})
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: create issue: %w", err)
	}
	return s.Issue(ctx, sub, id)
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func issueObject(id int64) string { return "periodical_issue:" + strconv.FormatInt(id, 10) }

const selectIssue = `SELECT i.id, i.periodical_id, i.year, i.year_number, i.total_number, i.title, i.issue_date, i.classification,
	i.state, i.revision, i.section_order, i.created_at, i.signed_at, i.sent_at, i.archived_at, i.version
	FROM periodical_issues i`

func scanIssue(r pgx.CollectableRow) (Issue, error) {
	var is Issue
	var cl int16
	err := r.Scan(&is.ID, &is.Periodical.ID, &is.Year, &is.YearNumber, &is.TotalNumber, &is.Title, &is.Date, &cl,
		&is.State, &is.Revision, &is.SectionOrder, &is.CreatedAt, &is.SignedAt, &is.SentAt, &is.ArchivedAt, &is.Version)
	is.Classification = label.Level(cl)
	return is, err
}

// Issue returns an issue with its items, revisions and distribution records, if the subject may
// read it (an office role and clearance at least the issue's classification); else ErrNotFound.
func (s *Service) Issue(ctx context.Context, sub access.Subject, id int64) (Issue, error) {
	is, err := s.loadIssue(ctx, s.db, sub, id, false)
	if err != nil {
		return Issue{}, err
	}
	return is, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) loadIssue(ctx context.Context, db querier, sub access.Subject, id int64, lock bool) (Issue, error) {
	q := selectIssue + ` WHERE i.id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	rows, err := db.Query(ctx, q, id)
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	is, err := pgx.CollectExactlyOneRow(rows, scanIssue)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (!canReadIssues(sub) || !sub.Clearance.Dominates(is.Classification))) {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	prow, err := db.Query(ctx, selectPeriodical+` WHERE p.id = $1`, is.Periodical.ID)
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	if is.Periodical, err = pgx.CollectExactlyOneRow(prow, scanPeriodical); err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	if is.Items, err = s.items(ctx, db, sub, id); err != nil {
		return Issue{}, err
	}
	rrows, err := db.Query(ctx, `SELECT r.revision, r.reason, r.content_hash, COALESCE(NULLIF(u.display_name, ''), u.username), r.signed_at,
			r.pdf_sha256, r.docx_sha256, r.html_sha256, length(r.pdf), length(r.docx)
		FROM periodical_issue_revisions r JOIN users u ON u.id = r.signed_by WHERE r.issue_id = $1 ORDER BY r.revision`, id)
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	is.Revisions, err = pgx.CollectRows(rrows, func(r pgx.CollectableRow) (Revision, error) {
		var v Revision
		err := r.Scan(&v.Revision, &v.Reason, &v.ContentHash, &v.SignedBy, &v.SignedAt, &v.PDFSHA256, &v.DOCXSHA256, &v.HTMLSHA256, &v.PDFSize, &v.DOCXSize)
		return v, err
	})
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	drows, err := db.Query(ctx, `SELECT d.revision, d.recipient, d.channel, COALESCE(NULLIF(u.display_name, ''), u.username, ''), d.sent_at
		FROM periodical_distributions d LEFT JOIN users u ON u.id = d.sent_by WHERE d.issue_id = $1 ORDER BY d.id`, id)
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	is.Distributions, err = pgx.CollectRows(drows, func(r pgx.CollectableRow) (Distribution, error) {
		var d Distribution
		err := r.Scan(&d.Revision, &d.Recipient, &d.Channel, &d.SentBy, &d.SentAt)
		return d, err
	})
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	crows, err := db.Query(ctx, `SELECT c.revision, c.reason, COALESCE(NULLIF(u.display_name, ''), u.username, ''), c.created_at
		FROM periodical_issue_corrections c LEFT JOIN users u ON u.id = c.created_by WHERE c.issue_id = $1 ORDER BY c.id`, id)
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	is.Corrections, err = pgx.CollectRows(crows, func(r pgx.CollectableRow) (Correction, error) {
		var c Correction
		err := r.Scan(&c.Revision, &c.Reason, &c.By, &c.At)
		return c, err
	})
	if err != nil {
		return Issue{}, fmt.Errorf("periodical: issue %d: %w", id, err)
	}
	return is, nil
}

// IssueSummary is a row of the issue list.
type IssueSummary struct {
	ID                            int64
	PeriodicalID                  int64
	PeriodicalName                string
	Special                       bool
	Year, YearNumber, TotalNumber int
	Title                         string
	Date                          time.Time
	Classification                label.Level
	State                         string
	Items                         int
}

// Issues lists the newest issues the subject may read (all periodicals, or one).
func (s *Service) Issues(ctx context.Context, sub access.Subject, periodicalID int64, limit int) ([]IssueSummary, error) {
	if !canReadIssues(sub) {
		return nil, fmt.Errorf("periodical: issues: %w", ErrForbidden)
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.db.Query(ctx, `SELECT i.id, i.periodical_id, p.name, p.kind = 'special', i.year, i.year_number, i.total_number, i.title, i.issue_date,
			i.classification, i.state,
			(SELECT count(*) FROM periodical_issue_items it WHERE it.issue_id = i.id AND it.removed_at IS NULL)
		FROM periodical_issues i JOIN periodicals p ON p.id = i.periodical_id
		WHERE i.classification <= $1 AND ($2 = 0 OR i.periodical_id = $2)
		ORDER BY i.issue_date DESC, i.id DESC LIMIT $3`, int(sub.Clearance), periodicalID, limit)
	if err != nil {
		return nil, fmt.Errorf("periodical: issues: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (IssueSummary, error) {
		var v IssueSummary
		var cl int16
		err := r.Scan(&v.ID, &v.PeriodicalID, &v.PeriodicalName, &v.Special, &v.Year, &v.YearNumber, &v.TotalNumber, &v.Title, &v.Date, &cl, &v.State, &v.Items)
		v.Classification = label.Level(cl)
		return v, err
	})
}
