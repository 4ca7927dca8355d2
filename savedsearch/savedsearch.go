package savedsearch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/label"
	"infowork/search"
	"infowork/submission"
)

// ErrNotFound is returned for a saved search that does not exist or that the user may not use.
var ErrNotFound = errors.New("savedsearch: not found")

// ErrForbidden is returned when a user changes a saved search of another user.
var ErrForbidden = errors.New("savedsearch: only the owner may change a saved search")

// ValidationError names the field at fault.
type ValidationError struct{ Field, Message string }

func (e *ValidationError) Error() string { return e.Message }

// Params is a search as saved: the filters of the search page.
type Params struct {
	Q               string
	Units           []string
	Categories      []string
	Districts       []string
	Months          []string
	Classifications []int
	States          []string // workflow state codes (办理状态)
	Archived        []string // "archived": items of an archived periodical issue
	Endorsed        []string // "open", "closed": leader endorsements
	From, To        string   // YYYY-MM-DD (or YYYY-MM, YYYY), as typed
	Sort            string
}

// keys are the URL parameters a saved search keeps, in canonical order.
var keys = []string{"q", "unit", "category", "district", "month", "classification", "state", "archived", "endorsed", "from", "to", "sort"}

func list(v url.Values, k string) []string {
	var out []string
	for _, x := range v[k] {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// ParseParams parses and validates a search URL query (with or without a leading "?"; unknown
// parameters such as page are dropped).
func ParseParams(raw string) (Params, error) {
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "?")
	if i := strings.Index(raw, "?"); i >= 0 { // a whole URL was pasted
		raw = raw[i+1:]
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return Params{}, &ValidationError{"query", "检索条件格式有误"}
	}
	return ParseValues(v)
}

// ParseValues is THE conversion of the search page's URL parameters (q, unit, category,
// district, month, classification, state, archived, endorsed, from, to, sort) into validated
// Params; Params.Query turns them into a search.Query. The search page, the search API, exports,
// subscriptions, periodical seeding and dashboard panels all go through it, so a filter cannot
// be honoured in one place and dropped in another. Parameters it does not know (page, size,
// more …) are ignored. Errors are *ValidationError with a zh-CN message.
func ParseValues(v url.Values) (Params, error) {
	p := Params{Q: strings.TrimSpace(v.Get("q")), Units: list(v, "unit"), Categories: list(v, "category"),
		Districts: list(v, "district"), Months: list(v, "month"), States: list(v, "state"), Archived: list(v, "archived"),
		Endorsed: list(v, "endorsed"), From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to")), Sort: v.Get("sort")}
	if len([]rune(p.Q)) > 500 {
		return p, &ValidationError{"q", "检索词最长 500 个字"}
	}
	if _, err := search.ParseQuery(p.Q); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, search.ErrBadQuery.Error()+": "); i >= 0 {
			msg = msg[i+len(search.ErrBadQuery.Error())+2:]
		}
		return p, &ValidationError{"q", msg}
	}
	for _, c := range list(v, "classification") {
		l, err := label.Parse(c)
		if err != nil {
			return p, &ValidationError{"classification", err.Error()}
		}
		if !slices.Contains(p.Classifications, int(l)) {
			p.Classifications = append(p.Classifications, int(l))
		}
	}
	for _, m := range p.Months {
		if _, err := time.Parse("2006-01", m); err != nil {
			return p, &ValidationError{"month", fmt.Sprintf("月份 %q 格式应为 YYYY-MM", m)}
		}
	}
	for _, x := range p.Archived {
		if x != "archived" {
			return p, &ValidationError{"archived", "archived 只能是 archived"}
		}
	}
	for _, x := range p.Endorsed {
		if x != "open" && x != "closed" {
			return p, &ValidationError{"endorsed", "endorsed 只能是 open 或 closed"}
		}
	}
	for _, x := range p.States {
		if !ValidStateCode(x) {
			return p, &ValidationError{"state", fmt.Sprintf("state 应为流程状态代码（如 submitted、adopted），%q 不是", x)}
		}
	}
	from, err := ParseDate(p.From, false)
	if err != nil {
		return p, &ValidationError{"from", err.Error()}
	}
	to, err := ParseDate(p.To, true)
	if err != nil {
		return p, &ValidationError{"to", err.Error()}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return p, &ValidationError{"to", "结束日期早于开始日期"}
	}
	if p.Sort != "" && p.Sort != search.SortRelevance && p.Sort != search.SortDate {
		return p, &ValidationError{"sort", "sort 只能是 relevance 或 date"}
	}
	return p, nil
}

// ValidStateCode accepts a workflow state code as workflow definitions write them: lower-case
// ASCII letters, digits and underscores, at most 64. States are data (workflow_definitions),
// so the filter does not insist on a known state; an unknown one simply finds nothing.
func ValidStateCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// Query is the search.Query of the params: text, every filter, the date range (from and to
// inclusive whole days, months or years in search.Location) and the sort (relevance when
// empty). Page, size, facets and the reader's scope are the caller's.
func (p Params) Query() search.Query {
	q := search.Query{Text: p.Q, Units: p.Units, Categories: p.Categories, Districts: p.Districts, Months: p.Months,
		Classifications: p.Classifications, States: p.States, Archived: p.Archived, Endorsed: p.Endorsed,
		Sort: cmp.Or(p.Sort, search.SortRelevance)}
	q.From, _ = ParseDate(p.From, false) // validated by ParseValues
	q.To, _ = ParseDate(p.To, true)
	return q
}

// Encode renders the params as the canonical URL query of the search page.
func (p Params) Encode() string {
	v := url.Values{}
	set := func(k string, vs ...string) {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	set("q", p.Q)
	set("unit", p.Units...)
	set("category", p.Categories...)
	set("district", p.Districts...)
	set("month", p.Months...)
	for _, c := range p.Classifications {
		set("classification", label.Level(c).String())
	}
	set("state", p.States...)
	set("archived", p.Archived...)
	set("endorsed", p.Endorsed...)
	set("from", p.From)
	set("to", p.To)
	if p.Sort != search.SortRelevance {
		set("sort", p.Sort)
	}
	var parts []string
	for _, k := range keys {
		for _, x := range v[k] {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(x))
		}
	}
	return strings.Join(parts, "&")
}

// ParseDate reads a date filter as YYYY-MM-DD, YYYY-MM or YYYY in the Asia/Shanghai calendar:
// the first instant of that day, month or year, or with endOfDay its last instant (inclusive).
// "" is the zero time.
func ParseDate(v string, endOfDay bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err := time.ParseInLocation(layout, v, search.Location); err == nil {
			if endOfDay {
				switch layout {
				case "2006-01-02":
					t = t.AddDate(0, 0, 1)
				case "2006-01":
					t = t.AddDate(0, 1, 0)
				default:
					t = t.AddDate(1, 0, 0)
				}
				t = t.Add(-time.Nanosecond)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("日期 %q 格式应为 YYYY-MM-DD", v)
}

// SavedSearch is a stored search.
type SavedSearch struct {
	ID        int64
	OwnerID   int64
	OwnerName string
	Name      string
	Query     string // canonical URL query
	Shared    bool
	CreatedAt time.Time
	// Subscribed is true when the reading user is subscribed to it.
	Subscribed bool
}

// Describe renders the params for people: 检索词「物业」；单位 Z101；2026-01-01 至 2026-03-31.
func (p Params) Describe() string {
	var parts []string
	if p.Q != "" {
		parts = append(parts, "检索词「"+p.Q+"」")
	}
	for _, f := range []struct {
		name string
		vs   []string
	}{{"单位", p.Units}, {"类别", p.Categories}, {"区县", p.Districts}, {"月份", p.Months}} {
		if len(f.vs) > 0 {
			parts = append(parts, f.name+" "+strings.Join(f.vs, "、"))
		}
	}
	if len(p.Classifications) > 0 {
		var ls []string
		for _, c := range p.Classifications {
			ls = append(ls, label.Level(c).Chinese())
		}
		parts = append(parts, "密级 "+strings.Join(ls, "、"))
	}
	if len(p.States) > 0 {
		var ns []string
		for _, st := range p.States {
			ns = append(ns, submission.StateName(st))
		}
		parts = append(parts, "办理状态 "+strings.Join(ns, "、"))
	}
	if len(p.Archived) > 0 {
		parts = append(parts, "已收入归档刊物")
	}
	if len(p.Endorsed) > 0 {
		var ns []string
		for _, e := range p.Endorsed {
			ns = append(ns, map[string]string{"open": "批示督办中", "closed": "批示已办结"}[e])
		}
		parts = append(parts, "领导批示 "+strings.Join(ns, "、"))
	}
	if p.From != "" || p.To != "" {
		parts = append(parts, strings.TrimSpace(p.From+" 至 "+p.To))
	}
	if len(parts) == 0 {
		return "全部信息"
	}
	return strings.Join(parts, "；")
}

// URL is the search page running this saved search.
func (s SavedSearch) URL() string { return "/search?" + s.Query }

// Params parses the saved query (validated when saved).
func (s SavedSearch) Params() Params { p, _ := ParseParams(s.Query); return p }

// Service stores saved searches and subscriptions.
type Service struct{ db *pgxpool.Pool }

// New returns a service on db.
func New(db *pgxpool.Pool) *Service { return &Service{db: db} }

// Create validates and stores a saved search owned by userID.
func (s *Service) Create(ctx context.Context, userID int64, name, query string, shared bool) (SavedSearch, error) {
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n < 1 || n > 60 {
		return SavedSearch{}, &ValidationError{"name", "名称须为 1 到 60 个字"}
	}
	p, err := ParseParams(query)
	if err != nil {
		return SavedSearch{}, err
	}
	ss := SavedSearch{OwnerID: userID, Name: name, Query: p.Encode(), Shared: shared}
	err = s.db.QueryRow(ctx, `INSERT INTO saved_searches (owner_id, name, query, shared) VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
		userID, ss.Name, ss.Query, shared).Scan(&ss.ID, &ss.CreatedAt)
	if err != nil {
		return SavedSearch{}, fmt.Errorf("savedsearch: create: %w", err)
	}
	return ss, nil
}

const selectSaved = `SELECT s.id, s.owner_id, COALESCE(NULLIF(u.display_name, ''), u.username), s.name, s.query, s.shared, s.created_at,
	EXISTS (SELECT 1 FROM subscriptions b WHERE b.saved_search_id = s.id AND b.user_id = $1 AND b.cancelled_at IS NULL)
	FROM saved_searches s JOIN users u ON u.id = s.owner_id `

func scanSaved(row pgx.CollectableRow) (SavedSearch, error) {
	var ss SavedSearch
	err := row.Scan(&ss.ID, &ss.OwnerID, &ss.OwnerName, &ss.Name, &ss.Query, &ss.Shared, &ss.CreatedAt, &ss.Subscribed)
	return ss, err
}

// List returns the user's own saved searches and those shared by others.
func (s *Service) List(ctx context.Context, userID int64) ([]SavedSearch, error) {
	rows, err := s.db.Query(ctx, selectSaved+`WHERE s.archived_at IS NULL AND (s.owner_id = $1 OR s.shared)
		ORDER BY s.owner_id <> $1, s.name, s.id LIMIT 500`, userID)
	if err != nil {
		return nil, fmt.Errorf("savedsearch: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSaved)
	if err != nil {
		return nil, fmt.Errorf("savedsearch: list: %w", err)
	}
	return out, nil
}

// Get returns a saved search the user owns or that is shared.
func (s *Service) Get(ctx context.Context, userID, id int64) (SavedSearch, error) {
	rows, err := s.db.Query(ctx, selectSaved+`WHERE s.id = $2 AND s.archived_at IS NULL AND (s.owner_id = $1 OR s.shared)`, userID, id)
	if err != nil {
		return SavedSearch{}, fmt.Errorf("savedsearch: get %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, scanSaved)
	if err != nil {
		return SavedSearch{}, fmt.Errorf("savedsearch: get %d: %w", id, err)
	}
	if len(out) == 0 {
		return SavedSearch{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return out[0], nil
}

// Archive removes a saved search from every list (it is kept, never hard-deleted) and cancels
// its subscriptions. Only the owner may.
func (s *Service) Archive(ctx context.Context, userID, id int64) error {
	ss, err := s.Get(ctx, userID, id)
	if err != nil {
		return err
	}
	if ss.OwnerID != userID {
		return ErrForbidden
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE saved_searches SET archived_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("savedsearch: archive %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET cancelled_at = now() WHERE saved_search_id = $1 AND cancelled_at IS NULL`, id); err != nil {
			return fmt.Errorf("savedsearch: archive %d: %w", id, err)
		}
		return nil
	})
}

// Subscribe subscribes the user to a saved search they may use (idempotent).
func (s *Service) Subscribe(ctx context.Context, userID, id int64) error {
	if _, err := s.Get(ctx, userID, id); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO subscriptions (saved_search_id, user_id) SELECT $1, $2
		WHERE NOT EXISTS (SELECT 1 FROM subscriptions WHERE saved_search_id = $1 AND user_id = $2 AND cancelled_at IS NULL)`, id, userID)
	if err != nil && !strings.Contains(err.Error(), "subscriptions_active") {
		return fmt.Errorf("savedsearch: subscribe %d: %w", id, err)
	}
	return nil
}

// Unsubscribe cancels the user's subscription (kept as history).
func (s *Service) Unsubscribe(ctx context.Context, userID, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE subscriptions SET cancelled_at = now() WHERE saved_search_id = $1 AND user_id = $2 AND cancelled_at IS NULL`, id, userID)
	if err != nil {
		return fmt.Errorf("savedsearch: unsubscribe %d: %w", id, err)
	}
	return nil
}

// Notification is an in-app notification row (table notifications, shared with the workflow's
// notify action).
type Notification struct {
	ID           int64
	SubmissionID int64
	Kind         string
	Message      string
	CreatedAt    time.Time
	Read         bool
}

// Notifications lists a user's subscription notifications, newest first.
func (s *Service) Notifications(ctx context.Context, userID int64, limit int) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `SELECT id, COALESCE(submission_id, 0), kind, message, created_at, read_at IS NOT NULL
		FROM notifications WHERE user_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3`, userID, NotificationKind, limit)
	if err != nil {
		return nil, fmt.Errorf("savedsearch: notifications: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := row.Scan(&n.ID, &n.SubmissionID, &n.Kind, &n.Message, &n.CreatedAt, &n.Read)
		return n, err
	})
}
