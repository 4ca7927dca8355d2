package savedsearch

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/analyzers"
	"infowork/label"
	"infowork/search"
)

// NotificationKind is the kind of the notification rows a subscription writes.
const NotificationKind = "subscription"

// Matcher decides whether a document matches a saved search, in Go, with the engines' query
// semantics: each word or phrase (and its synonym variants, analyzers.Expand) matches when its
// precise-mode tokens appear at consecutive positions of the title or body analyzed for
// indexing; And, Or and Not combine as in the engines; a word without tokens is no constraint.
type Matcher struct{ an *analyzers.Analyzer }

// NewMatcher returns a matcher using an.
func NewMatcher(an *analyzers.Analyzer) *Matcher { return &Matcher{an: an} }

// analyzed is a document's terms with their positions, per field.
type analyzed struct{ title, body map[string][]int }

func (m *Matcher) analyze(d search.Document) *analyzed {
	pos := func(text string) map[string][]int {
		out := map[string][]int{}
		for _, t := range m.an.Index(text) {
			out[t.Term] = append(out[t.Term], t.Position)
		}
		return out
	}
	return &analyzed{title: pos(d.Title), body: pos(d.Body)}
}

func hasSeq(f map[string][]int, terms []string) bool {
	for _, p := range f[terms[0]] {
		ok := true
		for i := 1; i < len(terms) && ok; i++ {
			ok = slices.Contains(f[terms[i]], p+i)
		}
		if ok {
			return true
		}
	}
	return false
}

// eval returns whether n matches and whether n constrains at all.
func (m *Matcher) eval(n search.Node, a *analyzed) (bool, bool) {
	switch n := n.(type) {
	case search.All:
		return true, false
	case search.Word:
		return m.text(n.Text, n.Field, a)
	case search.Phrase:
		return m.text(n.Text, n.Field, a)
	case search.Or:
		any, constrained := false, false
		for _, c := range n.Nodes {
			ok, con := m.eval(c, a)
			if con {
				constrained = true
				any = any || ok
			}
		}
		return any, constrained
	case search.And:
		all, constrained := true, false
		for _, c := range n.Nodes {
			if nn, isNot := c.(search.Not); isNot {
				if ok, con := m.eval(nn.Node, a); con && ok {
					all = false
				}
				constrained = true
				continue
			}
			ok, con := m.eval(c, a)
			if con {
				constrained = true
				all = all && ok
			}
		}
		return all, constrained
	case search.Not:
		ok, con := m.eval(n.Node, a)
		return !ok, con
	}
	return false, true
}

func (m *Matcher) text(text, field string, a *analyzed) (bool, bool) {
	alts := m.an.Expand(text)
	if len(alts) == 0 {
		return true, false
	}
	for _, toks := range alts {
		terms := make([]string, len(toks))
		for i, t := range toks {
			terms[i] = t.Term
		}
		if (field != search.FieldBody && hasSeq(a.title, terms)) || (field != search.FieldTitle && hasSeq(a.body, terms)) {
			return true, true
		}
	}
	return false, true
}

// filters reports whether d passes the saved search's facet and date filters.
func filters(p Params, d search.Document) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	if !in(p.Units, d.Unit) || !in(p.Categories, d.Category) || !in(p.Districts, d.District) || !in(p.Months, search.Month(d.Date)) {
		return false
	}
	if len(p.Classifications) > 0 && !slices.Contains(p.Classifications, d.Classification) {
		return false
	}
	if !in(p.States, d.State) || !in(p.Endorsed, d.Endorsement) {
		return false
	}
	if len(p.Archived) > 0 && !d.Archived { // the only value is "archived"
		return false
	}
	if from, _ := ParseDate(p.From, false); !from.IsZero() && d.Date.Before(from) {
		return false
	}
	if to, _ := ParseDate(p.To, true); !to.IsZero() && d.Date.After(to) {
		return false
	}
	return true
}

// Match reports whether d matches the saved query (filters and text), ignoring access.
func (m *Matcher) Match(p Params, d search.Document) (bool, error) {
	if !filters(p, d) {
		return false, nil
	}
	n, err := search.ParseQuery(p.Q)
	if err != nil {
		return false, err
	}
	ok, _ := m.eval(n, m.analyze(d))
	return ok, nil
}

// Notifier turns newly indexed documents into notifications for matching subscriptions.
type Notifier struct {
	db      *pgxpool.Pool
	matcher *Matcher
	log     *slog.Logger
	fired   prometheus.Counter
	errors  prometheus.Counter
	now     func() time.Time
}

// NotifierOptions configure a Notifier.
type NotifierOptions struct {
	DB         *pgxpool.Pool
	Analyzer   *analyzers.Analyzer
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// NewNotifier builds a notifier; its OnIndexed goes into indexer.Options.OnIndexed.
func NewNotifier(o NotifierOptions) (*Notifier, error) {
	if o.DB == nil || o.Analyzer == nil {
		return nil, fmt.Errorf("savedsearch: NotifierOptions.DB and Analyzer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	n := &Notifier{db: o.DB, matcher: NewMatcher(o.Analyzer), log: o.Logger.With("component", "savedsearch"), now: time.Now,
		fired: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "subscription", Name: "notifications_total",
			Help: "Notifications written because a newly indexed record matched a subscribed saved search."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "subscription", Name: "errors_total",
			Help: "Batches whose subscription matching failed (logged; the batch itself is indexed)."}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(n.fired, n.errors)
	}
	return n, nil
}

type subscriber struct {
	subID     int64
	name      string
	params    Params
	node      search.Node
	created   time.Time
	subject   access.Subject
	userID    int64
	savedName string
}

// OnIndexed matches the documents of a committed batch against every active subscription and
// writes one notification per new (subscription, record). Only records that reached the office
// (not drafts) and were reported after the subscription was made count as new. Errors are
// logged and counted; indexing never waits on a retry.
func (n *Notifier) OnIndexed(ctx context.Context, docs []search.Document) {
	if err := n.process(ctx, docs); err != nil {
		n.errors.Inc()
		n.log.Error("subscription matching failed", "docs", len(docs), "err", err)
	}
}

func (n *Notifier) process(ctx context.Context, docs []search.Document) error {
	subs, err := n.subscribers(ctx)
	if err != nil || len(subs) == 0 {
		return err
	}
	earliest := subs[0].created
	for _, s := range subs {
		if s.created.Before(earliest) {
			earliest = s.created
		}
	}
	type hit struct {
		sub *subscriber
		doc *search.Document
	}
	var hits []hit
	for i := range docs {
		d := &docs[i]
		if d.State == "draft" || d.State == "unit_approval" || d.Date.Before(earliest) {
			continue
		}
		var a *analyzed
		for j := range subs {
			s := &subs[j]
			if d.Date.Before(s.created) || !filters(s.params, *d) {
				continue
			}
			if !access.CanRead(s.subject, access.Record{UnitCode: d.Unit, Classification: label.Level(d.Classification),
				Categories: d.LabelCategories, Readers: d.Readers}) {
				continue
			}
			if a == nil {
				a = n.matcher.analyze(*d)
			}
			if ok, _ := n.matcher.eval(s.node, a); ok {
				hits = append(hits, hit{s, d})
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, n.db, func(tx pgx.Tx) error {
		for _, h := range hits {
			id, err := strconv.ParseInt(h.doc.ID, 10, 64)
			if err != nil {
				continue // not a submission
			}
			var fresh bool
			err = tx.QueryRow(ctx, `INSERT INTO subscription_hits (subscription_id, submission_id) VALUES ($1, $2)
				ON CONFLICT DO NOTHING RETURNING true`, h.sub.subID, id).Scan(&fresh)
			if err == pgx.ErrNoRows {
				continue
			}
			if err != nil {
				return fmt.Errorf("savedsearch: record hit: %w", err)
			}
			msg := fmt.Sprintf("检索订阅「%s」有新匹配信息（编号 %s，%s）", h.sub.savedName, h.doc.ID, label.Level(h.doc.Classification).Chinese())
			if _, err := tx.Exec(ctx, `INSERT INTO notifications (user_id, submission_id, kind, message) VALUES ($1, $2, $3, $4)`,
				h.sub.userID, id, NotificationKind, msg); err != nil {
				return fmt.Errorf("savedsearch: notify: %w", err)
			}
			n.fired.Inc()
		}
		return nil
	})
}

// subscribers loads the active subscriptions with their users' access (disabled users and
// archived searches excluded).
func (n *Notifier) subscribers(ctx context.Context) ([]subscriber, error) {
	rows, err := n.db.Query(ctx, `SELECT b.id, b.created_at, s.name, s.query, u.id, u.username, COALESCE(un.code, ''), u.roles, u.clearance, u.label_categories
		FROM subscriptions b JOIN saved_searches s ON s.id = b.saved_search_id JOIN users u ON u.id = b.user_id
		LEFT JOIN units un ON un.id = u.unit_id
		WHERE b.cancelled_at IS NULL AND s.archived_at IS NULL AND u.disabled_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("savedsearch: load subscriptions: %w", err)
	}
	defer rows.Close()
	var out []subscriber
	for rows.Next() {
		var s subscriber
		var query string
		var clearance int16
		if err := rows.Scan(&s.subID, &s.created, &s.savedName, &query, &s.userID, &s.subject.Username, &s.subject.UnitCode,
			&s.subject.Roles, &clearance, &s.subject.Categories); err != nil {
			return nil, fmt.Errorf("savedsearch: load subscriptions: %w", err)
		}
		s.subject.UserID = s.userID
		s.subject.Clearance = label.Level(clearance)
		p, err := ParseParams(query)
		if err != nil {
			continue // validated when saved; a later grammar change must not stop the others
		}
		if s.node, err = search.ParseQuery(p.Q); err != nil {
			continue
		}
		s.params = p
		s.name = strings.TrimSpace(s.savedName)
		out = append(out, s)
	}
	return out, rows.Err()
}
