// Package submission is the domain of reports (报送信息) that units submit.
//
// Every change is written in one transaction together with its outbox row, so the search index
// follows the database without ever being the source of truth. Reads go through access.Predicate,
// so a record the caller may not see is indistinguishable from one that does not exist.
package submission

import (
	"context"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/microcosm-cc/bluemonday"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/outbox"
	"infowork/search"
	"infowork/store"
)

// Entity is the outbox entity name of submissions.
const Entity = "submission"

// Urgencies.
const (
	UrgencyNormal     = "normal"
	UrgencyUrgent     = "urgent"
	UrgencyVeryUrgent = "very_urgent"
)

var urgencyNames = map[string]string{UrgencyNormal: "平急", UrgencyUrgent: "加急", UrgencyVeryUrgent: "特急"}

// UrgencyName returns the zh-CN name of an urgency.
func UrgencyName(u string) string { return urgencyNames[u] }

// Urgencies lists the urgencies in display order.
var Urgencies = []string{UrgencyNormal, UrgencyUrgent, UrgencyVeryUrgent}

// States. The states and transitions are data (package workflow, workflow_definitions); these
// are the states of the default definition an item is created in, and the zh-CN names of its
// states for pages that have no definition at hand (package workflow names states per version).
const (
	StateDraft     = "draft"
	StateSubmitted = "submitted"
)

var stateNames = map[string]string{StateDraft: "草稿", "unit_approval": "单位审签", StateSubmitted: "已报送",
	"in_review": "编辑审核", "adopted": "采用", "merged": "综合采用", "returned": "退回", "filed": "存档备查", "withdrawn": "已撤销"}

// StateName returns the zh-CN name of a state.
func StateName(s string) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return s
}

// Limits.
const (
	MaxTitleRunes = 200
	MaxBodyRunes  = 50000
)

// ValidationError lists problems with input, by field; the web layer shows them next to the
// fields and the API answers 422.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range []string{"title", "body", "category", "urgency", "classification", "label_categories", "writer_name", "writer_phone", "solicitation", "idempotency_key"} {
		if m, ok := e.Fields[f]; ok {
			parts = append(parts, m)
		}
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

// Input is what a reporter submits.
type Input struct {
	Title          string
	Body           string // plain text; paragraphs separated by newlines
	BodyHTML       string // rich text; used instead of Body when set (sanitized)
	CategoryCode   string
	Urgency        string
	Classification string // contract name or Chinese marking; default public
	// LabelCategories are the label categories (compartments) of the record: registered names
	// the author holds. Empty: none.
	LabelCategories []string
	WriterName      string
	WriterPhone     string
	IdempotencyKey  string // optional; a retried request with the same key returns the first result
	Source          string // web (default), api, demo, import
	SourceRef       string // external id for imports; unique per source
	// Draft creates the report in the draft state, to go through unit approval (单位审签) by
	// workflow transitions; otherwise it is stored as submitted (已报送), as before the workflow.
	Draft      bool
	ReportedAt time.Time
	// RequireWriter makes writer name and phone required (the intake form: people, not
	// programs, fill it in); with it, and for reports that skip the draft state, the phone must be
	// a mainland mobile number or a landline with area code.
	RequireWriter bool
	// SolicitationID is the solicitation (约稿) or reporting-guide key point (报送要点) the report
	// answers; 0 for none. Answers are counted on time or late by package solicitation.
	SolicitationID int64
}

var (
	// mainland mobile: 13812345678, +86 138 1234 5678, 138-1234-5678
	mobileRE = regexp.MustCompile(`^(?:\+?86)?1[3-9][0-9]{9}$`)
	// landline with area code, optionally an extension: 0731-84001234, 010 12345678,
	// (0731)84001234, 0731-84001234-801, 0731-84001234转801
	// (+86 (10) 6512-3456: the international form drops the area code's 0)
	landlineRE = regexp.MustCompile(`^(?:0[1-9][0-9]{1,2}|\(0[1-9][0-9]{1,2}\)|\+?86\(?[1-9][0-9]{1,2}\)?)-?[0-9]{7,8}(?:(?:-|转|#)[0-9]{1,6})?$`)
)

// ValidPhone reports whether s is a mainland mobile number or a landline with area code.
func ValidPhone(s string) bool {
	compact := strings.NewReplacer(" ", "", "\u00a0", "", "\u3000", "", "（", "(", "）", ")", "－", "-").Replace(strings.TrimSpace(s))
	plain := strings.ReplaceAll(compact, "-", "")
	return mobileRE.MatchString(plain) || landlineRE.MatchString(compact) || landlineRE.MatchString(plain)
}

// Submission is a stored report as a reader sees it.
type Submission struct {
	ID             int64
	Version        int64
	Title          string
	BodyHTML       string
	BodyText       string
	UnitCode       string
	UnitName       string
	CategoryCode   string
	CategoryName   string
	CategoryTop    string
	District       string
	Urgency        string
	Classification label.Level
	// LabelCategories are the record's label categories, sorted (see Label).
	LabelCategories []string
	State           string
	WriterName      string
	WriterPhone     string
	AuthorName      string
	ReportedAt      time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Label returns the record's full security label (level and categories).
func (s Submission) Label() label.Label {
	return label.Label{Level: s.Classification, Categories: s.LabelCategories}
}

// Service stores and reads submissions.
type Service struct {
	db     *pgxpool.Pool
	policy *bluemonday.Policy
}

// New builds the service.
func New(db *pgxpool.Pool) *Service {
	return &Service{db: db, policy: bodyPolicy()}
}

// bodyPolicy allows the structure a report needs and nothing that can run or load.
func bodyPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4",
		"table", "thead", "tbody", "tr", "th", "td", "sub", "sup")
	// Images only as this system's attachments (uploaded with a caption), never remote or data:.
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^/attachments/[0-9]{1,18}/preview$`)).OnElements("img")
	p.AllowAttrs("alt").Matching(regexp.MustCompile(`^[^<>]{0,200}$`)).OnElements("img")
	p.AllowNoAttrs().OnElements("img")
	p.SkipElementsContent("xml", "style", "script", "head", "title")
	p.AllowAttrs("colspan", "rowspan").Matching(regexp.MustCompile(`^[0-9]{1,2}$`)).OnElements("td", "th")
	p.AllowStandardURLs()
	p.AllowAttrs("href").OnElements("a")
	p.RequireNoFollowOnLinks(true)
	return p
}

// Sanitize returns the safe HTML of a rich-text body: Word and WPS markup cleaned (clean.go),
// then the body policy applied.
func (s *Service) Sanitize(h string) string { return SanitizeHTML(h) }

var sharedPolicy = bodyPolicy()

// SanitizeHTML is Sanitize for callers without a Service (drafts use the same policy).
func SanitizeHTML(h string) string {
	out := sharedPolicy.Sanitize(cleanOffice(h))
	// An <img> left without its src (an image the policy refused) shows as a broken image.
	return emptyImg.ReplaceAllString(out, "")
}

var emptyImg = regexp.MustCompile(`<img(\s+alt="[^"]*")?\s*/?>`)

// TextToHTML turns plain text into escaped paragraphs.
func TextToHTML(t string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(t, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		b.WriteString("<p>")
		b.WriteString(html.EscapeString(line))
		b.WriteString("</p>\n")
	}
	return b.String()
}

var (
	blockEnd = regexp.MustCompile(`(?i)</(p|li|h[1-6]|tr|blockquote|table)>|<br\s*/?>`)
	cellEnd  = regexp.MustCompile(`(?i)</t[dh]>`) // cells of a row must not run together ("北京" + "市长")
	anyTag   = regexp.MustCompile(`<[^>]*>`)
	spaces   = regexp.MustCompile(`[ \t\x{3000}\x{00a0}]+`)
	newlines = regexp.MustCompile(`\n\s*\n+`)
)

// HTMLToText extracts the plain text of sanitized HTML, one paragraph per line.
func HTMLToText(h string) string {
	t := blockEnd.ReplaceAllString(h, "\n")
	t = cellEnd.ReplaceAllString(t, " ")
	t = anyTag.ReplaceAllString(t, "")
	t = html.UnescapeString(t)
	t = spaces.ReplaceAllString(t, " ")
	t = newlines.ReplaceAllString(t, "\n")
	lines := strings.Split(t, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var phoneRE = regexp.MustCompile(`^[0-9+\- ()]{5,20}$`)

type prepared struct {
	title, bodyHTML, bodyText string
	categoryID                *int64
	urgency                   string
	level                     label.Level
	labelCategories           []string
}

func (s *Service) validate(ctx context.Context, db store.DB, sub access.Subject, in Input) (prepared, error) {
	var p prepared
	ve := &ValidationError{}
	p.title = strings.Join(strings.Fields(in.Title), " ")
	switch n := utf8.RuneCountInString(p.title); {
	case n == 0:
		ve.add("title", "标题不能为空")
	case n > MaxTitleRunes:
		ve.add("title", fmt.Sprintf("标题最多 %d 个字（现在 %d 个）", MaxTitleRunes, n))
	}
	if strings.TrimSpace(in.BodyHTML) != "" {
		p.bodyHTML = SanitizeHTML(in.BodyHTML)
	} else {
		p.bodyHTML = TextToHTML(in.Body)
	}
	p.bodyText = HTMLToText(p.bodyHTML)
	switch n := utf8.RuneCountInString(p.bodyText); {
	case n == 0:
		ve.add("body", "正文不能为空")
	case n > MaxBodyRunes:
		ve.add("body", fmt.Sprintf("正文最多 %d 个字（现在 %d 个）", MaxBodyRunes, n))
	}
	p.urgency = in.Urgency
	if p.urgency == "" {
		p.urgency = UrgencyNormal
	}
	if _, ok := urgencyNames[p.urgency]; !ok {
		ve.add("urgency", "紧急程度只能是 normal（平急）、urgent（加急）或 very_urgent（特急）")
	}
	if in.Classification != "" {
		l, err := label.Parse(in.Classification)
		if err != nil {
			ve.add("classification", "密级只能是 public（公开）、internal（内部）、secret（秘密）或 confidential（机密）")
		} else {
			p.level = l
		}
	}
	if !sub.Clearance.Dominates(p.level) {
		ve.add("classification", fmt.Sprintf("不能报送高于本人密级（%s）的信息", sub.Clearance.Chinese()))
	}
	p.labelCategories = []string{}
	if len(in.LabelCategories) > 0 {
		cs, err := label.CheckCategories(ctx, db, in.LabelCategories)
		var unknown *label.UnknownCategoriesError
		switch {
		case errors.As(err, &unknown):
			ve.add("label_categories", "标识类别未登记："+strings.Join(unknown.Names, "、"))
		case errors.Is(err, label.ErrInvalidCategory):
			ve.add("label_categories", "标识类别名称无效（1–20 个字，不含逗号）："+err.Error())
		case err != nil:
			return p, fmt.Errorf("submission: %w", err)
		case !label.HoldsAll(sub.Categories, cs):
			ve.add("label_categories", "不能标注本人未获授权的标识类别")
		default:
			p.labelCategories = cs
		}
	}
	if in.CategoryCode != "" {
		var id int64
		err := db.QueryRow(ctx, `SELECT id FROM categories WHERE code = $1 AND active`, in.CategoryCode).Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			ve.add("category", fmt.Sprintf("类别 %q 不存在", in.CategoryCode))
		case err != nil:
			return p, fmt.Errorf("submission: check category: %w", err)
		default:
			p.categoryID = &id
		}
	}
	name, phone := strings.TrimSpace(in.WriterName), strings.TrimSpace(in.WriterPhone)
	switch {
	case utf8.RuneCountInString(name) > 50:
		ve.add("writer_name", "执笔人姓名最多 50 个字")
	case name == "" && in.RequireWriter:
		ve.add("writer_name", "请填写执笔人姓名")
	}
	switch {
	case phone == "" && in.RequireWriter:
		ve.add("writer_phone", "请填写执笔人联系电话")
	case phone != "" && (in.RequireWriter || !in.Draft) && !ValidPhone(phone):
		// Drafts may be saved with an unfinished phone: the workflow's guards check it when the
		// report is submitted for approval.
		ve.add("writer_phone", "联系电话应为手机号（如 13812345678）或带区号的固定电话（如 0731-84001234）")
	case phone != "" && !phoneRE.MatchString(phone):
		ve.add("writer_phone", "联系电话格式不正确")
	}
	if in.SolicitationID != 0 {
		var kind string
		var deadline *time.Time
		var targeted bool
		err := db.QueryRow(ctx, `SELECT s.kind, s.deadline,
				EXISTS (SELECT 1 FROM solicitation_targets t JOIN units u ON u.id = t.unit_id WHERE t.solicitation_id = s.id AND u.code = $2)
			FROM solicitations s WHERE s.id = $1 AND s.archived_at IS NULL`, in.SolicitationID, sub.UnitCode).Scan(&kind, &deadline, &targeted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			ve.add("solicitation", "所答复的约稿或报送要点不存在或已撤销")
		case err != nil:
			return p, fmt.Errorf("submission: check solicitation: %w", err)
		case kind == "solicitation" && !targeted:
			ve.add("solicitation", "本单位不在该约稿的约稿单位之列")
		}
	}
	if len(in.IdempotencyKey) > 100 {
		ve.add("idempotency_key", "Idempotency-Key 最长 100 个字符")
	}
	if len(ve.Fields) > 0 {
		return p, ve
	}
	return p, nil
}

// ErrForbidden means the subject may not perform the action at all (HTTP 403).
var ErrForbidden = errors.New("forbidden")

// Created is the result of Create.
type Created struct {
	ID        int64
	Version   int64
	Duplicate bool // an earlier request with the same idempotency key or source ref created it
}

// Create stores a report for the subject's unit and enqueues it for indexing, in one transaction.
func (s *Service) Create(ctx context.Context, sub access.Subject, in Input, clientIP string) (Created, error) {
	if !sub.CanSubmit() {
		return Created{}, fmt.Errorf("submission: create: %w: only reporters and unit approvers of a unit may submit", ErrForbidden)
	}
	var out Created
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil { // row-level security, second line
			return fmt.Errorf("submission: create: %w", err)
		}
		var err error
		out, err = s.CreateTx(ctx, tx, sub.UnitCode, sub, in)
		if err != nil || out.Duplicate {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "submission.create", Object: "submission:" + strconv.FormatInt(out.ID, 10), Label: intPtr(int(s.lastLevel(in)))})
	})
	return out, err
}

func (s *Service) lastLevel(in Input) label.Level {
	l, _ := label.Parse(in.Classification)
	return l
}

func intPtr(i int) *int { return &i }

func solicitationRef(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// CreateTx stores a report for unitCode inside tx (used by Create, the demo loader and imports).
// Under the application's database role, row-level security checks the new row against the
// transaction's settings: the caller runs access.SetLocal (Create does) or, for trusted loaders,
// access.SetBypass.
func (s *Service) CreateTx(ctx context.Context, tx pgx.Tx, unitCode string, sub access.Subject, in Input) (Created, error) {
	p, err := s.validate(ctx, tx, sub, in)
	if err != nil {
		return Created{}, err
	}
	source := in.Source
	if source == "" {
		source = "web"
	}
	var authorID *int64
	if sub.UserID != 0 {
		authorID = &sub.UserID
	}
	var idem, ref *string
	if in.IdempotencyKey != "" {
		idem = &in.IdempotencyKey
	}
	if in.SourceRef != "" {
		ref = &in.SourceRef
	}
	state := StateSubmitted
	if in.Draft {
		state = StateDraft
	}
	reported := in.ReportedAt
	if reported.IsZero() {
		reported = time.Now()
	}
	var c Created
	err = tx.QueryRow(ctx, `INSERT INTO submissions (unit_id, author_id, writer_name, writer_phone, title, body_html, body_text,
			category_id, district, urgency, classification, label_categories, source, source_ref, idempotency_key, reported_at, state, solicitation_id)
		SELECT u.id, $2, $3, $4, $5, $6, $7, $8, u.district, $9, $10, $15, $11, $12, $13, $14, $16, $17 FROM units u WHERE u.code = $1
		ON CONFLICT DO NOTHING
		RETURNING id, version`,
		unitCode, authorID, in.WriterName, in.WriterPhone, p.title, p.bodyHTML, p.bodyText,
		p.categoryID, p.urgency, int(p.level), source, ref, idem, reported, p.labelCategories, state, solicitationRef(in.SolicitationID)).Scan(&c.ID, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		// Either the unit is missing or an earlier request with the same key/ref won.
		err = tx.QueryRow(ctx, `SELECT id, version FROM submissions
			WHERE (author_id = $1 AND idempotency_key = $2) OR (source = $3 AND source_ref = $4) LIMIT 1`,
			authorID, idem, source, ref).Scan(&c.ID, &c.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			return Created{}, fmt.Errorf("submission: create: unit %q does not exist", unitCode)
		}
		if err != nil {
			return Created{}, fmt.Errorf("submission: create: %w", err)
		}
		c.Duplicate = true
		return c, nil
	}
	if err != nil {
		return Created{}, fmt.Errorf("submission: create: %w", err)
	}
	if err := outbox.Enqueue(ctx, tx, Entity, c.ID); err != nil {
		return Created{}, err
	}
	return c, nil
}

const selectSubmission = `SELECT s.id, s.version, s.title, s.body_html, s.body_text, u.code, u.name,
	COALESCE(c.code, ''), COALESCE(c.name, ''), s.district, s.urgency, s.classification, s.label_categories, s.state,
	s.writer_name, s.writer_phone, COALESCE(NULLIF(a.display_name, ''), a.username, ''), s.reported_at, s.created_at, s.updated_at
	FROM submissions s
	JOIN units u ON u.id = s.unit_id
	LEFT JOIN categories c ON c.id = s.category_id
	LEFT JOIN users a ON a.id = s.author_id`

func scanSubmission(r pgx.CollectableRow) (Submission, error) {
	var s Submission
	var cl int16
	err := r.Scan(&s.ID, &s.Version, &s.Title, &s.BodyHTML, &s.BodyText, &s.UnitCode, &s.UnitName,
		&s.CategoryCode, &s.CategoryName, &s.District, &s.Urgency, &cl, &s.LabelCategories, &s.State,
		&s.WriterName, &s.WriterPhone, &s.AuthorName, &s.ReportedAt, &s.CreatedAt, &s.UpdatedAt)
	s.Classification = label.Level(cl)
	return s, err
}

// Get returns one submission if the subject may read it, else store.ErrNotFound. Reads of
// records at secret or above, or carrying label categories, are audited.
func (s *Service) Get(ctx context.Context, sub access.Subject, id int64, clientIP string) (Submission, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	rows, err := tx.Query(ctx, selectSubmission+` WHERE s.id = $1 AND `+pred, append([]any{id}, args...)...)
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	out, err := pgx.CollectExactlyOneRow(rows, scanSubmission)
	if errors.Is(err, pgx.ErrNoRows) {
		// The caller gets the same 404 whether the record is missing or hidden; the audit log
		// records the denial when the record exists (attempts to read what one may not).
		if derr := s.auditDenied(ctx, tx, sub, id, clientIP); derr != nil {
			return Submission{}, derr
		}
		return Submission{}, fmt.Errorf("submission %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	_ = tx.Rollback(ctx) // release the connection before the audit write
	if out.Classification >= label.Secret || len(out.LabelCategories) > 0 {
		lv := int(out.Classification)
		var detail string
		if len(out.LabelCategories) > 0 {
			detail = "label=" + out.Label().String()
		}
		if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "submission.read", Object: "submission:" + strconv.FormatInt(id, 10), Label: &lv, Detail: detail}); err != nil {
			return Submission{}, err // fail closed: no audit, no read
		}
	}
	return out, nil
}

// auditDenied writes a denied submission.read when record id exists but sub may not read it.
func (s *Service) auditDenied(ctx context.Context, tx pgx.Tx, sub access.Subject, id int64, clientIP string) error {
	var level int16
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { // a savepoint: the bypass ends with it
		if err := access.SetBypass(ctx, sp); err != nil {
			return err
		}
		return sp.QueryRow(ctx, `SELECT classification FROM submissions WHERE id = $1`, id).Scan(&level)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("submission %d: %w", id, err)
	}
	_ = tx.Rollback(ctx)
	lv := int(level)
	return audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: "submission.read", Object: "submission:" + strconv.FormatInt(id, 10), Label: &lv, Outcome: audit.Denied})
}

// ListOptions select a page of the list.
type ListOptions struct {
	UnitCode string // optional filter
	Page     int
	Size     int
}

// Page is one page of a list.
type Page struct {
	Items []Submission
	Total int
	Page  int
	Size  int
}

// List returns the submissions the subject may see, newest first, from the database.
func (s *Service) List(ctx context.Context, sub access.Subject, o ListOptions) (Page, error) {
	if o.Size <= 0 || o.Size > 100 {
		o.Size = 20
	}
	if o.Page <= 0 {
		o.Page = 1
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Page{}, fmt.Errorf("submission: list: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 1)
	where := ` WHERE ` + pred
	if o.UnitCode != "" {
		args = append(args, o.UnitCode)
		where += fmt.Sprintf(` AND u.code = $%d`, len(args))
	}
	var total int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM submissions s JOIN units u ON u.id = s.unit_id`+where, args...).Scan(&total); err != nil {
		return Page{}, fmt.Errorf("submission: list: %w", err)
	}
	args = append(args, o.Size, (o.Page-1)*o.Size)
	rows, err := tx.Query(ctx, selectSubmission+where+fmt.Sprintf(` ORDER BY s.reported_at DESC, s.id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return Page{}, fmt.Errorf("submission: list: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanSubmission)
	if err != nil {
		return Page{}, fmt.Errorf("submission: list: %w", err)
	}
	return Page{Items: items, Total: total, Page: o.Page, Size: o.Size}, nil
}

// DocumentHooks complete the documents Documents loads with facts other packages own (package
// periodical: the archived and endorsed facets). They run on the same connection, in the same
// read, so every path that builds documents (indexer, reindex, reconciliation) gets them.
var DocumentHooks []func(ctx context.Context, db store.DB, docs map[int64]search.Document) error

// Documents loads the current rows of ids as search documents (missing ids are absent: the
// indexer deletes them from the index). It reads outside any access scope: the engine stores the
// labels and applies each reader's scope at query time. When db can begin a (sub)transaction it
// reads in one with the row-level-security bypass set, rolled back afterwards, so that under the
// application's database role rows are not mistaken for missing ones (and deleted from the index).
func Documents(ctx context.Context, db store.DB, ids []int64) (map[int64]search.Document, error) {
	if b, ok := db.(access.TxBeginner); ok {
		tx, err := b.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("submission: load documents: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only; ends the bypass
		if err := access.SetBypass(ctx, tx); err != nil {
			return nil, fmt.Errorf("submission: load documents: %w", err)
		}
		db = tx
	}
	rows, err := db.Query(ctx, `WITH RECURSIVE top AS (
			SELECT id, name AS top_name, id AS root FROM categories WHERE parent_id IS NULL
			UNION ALL
			SELECT c.id, t.top_name, t.root FROM categories c JOIN top t ON c.parent_id = t.id)
		SELECT s.id, s.version, s.title, s.body_text, u.code, u.name, COALESCE(t.top_name, ''), COALESCE(c.name, ''),
			s.district, s.classification, s.urgency, s.state, s.reported_at, s.readers, s.label_categories
		FROM submissions s
		JOIN units u ON u.id = s.unit_id
		LEFT JOIN categories c ON c.id = s.category_id
		LEFT JOIN top t ON t.id = s.category_id
		WHERE s.id = ANY($1::bigint[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("submission: load documents: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]search.Document, len(ids))
	for rows.Next() {
		var (
			id int64
			d  search.Document
			cl int16
		)
		if err := rows.Scan(&id, &d.Version, &d.Title, &d.Body, &d.Unit, &d.UnitName, &d.Category, &d.Subcategory,
			&d.District, &cl, &d.Urgency, &d.State, &d.Date, &d.Readers, &d.LabelCategories); err != nil {
			return nil, fmt.Errorf("submission: load documents: %w", err)
		}
		if d.Subcategory == d.Category {
			d.Subcategory = ""
		}
		d.ID = strconv.FormatInt(id, 10)
		d.Kind = Entity
		d.Classification = int(cl)
		out[id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("submission: load documents: %w", err)
	}
	for _, h := range DocumentHooks {
		if err := h(ctx, db, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
