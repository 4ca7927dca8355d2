package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/search"
	"infowork/store"
)

// Period kinds of a league table.
const (
	PeriodMonth   = "month"
	PeriodQuarter = "quarter"
	PeriodYear    = "year"
)

// Period is a month (2026-03), quarter (2026-Q1) or year (2026) in the office's calendar.
type Period struct {
	Kind     string
	Key      string
	From, To time.Time // [From, To)
}

var quarterRe = regexp.MustCompile(`^(\d{4})-Q([1-4])$`)

// ParsePeriod parses a period key; the kind follows from its form.
func ParsePeriod(key string) (Period, error) {
	if m := quarterRe.FindStringSubmatch(key); m != nil {
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		from := time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, search.Location)
		return Period{PeriodQuarter, key, from, from.AddDate(0, 3, 0)}, nil
	}
	if t, err := time.ParseInLocation("2006-01", key, search.Location); err == nil {
		return Period{PeriodMonth, key, t, t.AddDate(0, 1, 0)}, nil
	}
	if t, err := time.ParseInLocation("2006", key, search.Location); err == nil && len(key) == 4 {
		return Period{PeriodYear, key, t, t.AddDate(1, 0, 0)}, nil
	}
	return Period{}, &ValidationError{"period", "期间格式应为 YYYY-MM（月）、YYYY-Q1…Q4（季）或 YYYY（年）"}
}

// Name is the zh-CN name of the period.
func (p Period) Name() string {
	switch p.Kind {
	case PeriodMonth:
		return p.From.Format("2006年1月")
	case PeriodQuarter:
		return fmt.Sprintf("%d年第%s季度", p.From.Year(), p.Key[len(p.Key)-1:])
	}
	return p.From.Format("2006年")
}

// Row is one unit's line in a league table.
type Row struct {
	Rank         int     `json:"rank"`
	UnitCode     string  `json:"unit_code"`
	UnitName     string  `json:"unit_name"`
	District     string  `json:"district"`
	Adopted      int     `json:"adopted"`
	Merged       int     `json:"merged"`
	Endorsements int     `json:"endorsements"`
	Late         int     `json:"late"`
	Missed       int     `json:"missed"`
	Points       float64 `json:"points"`
	// Eligible is false when late or missed solicitations reached the rules' threshold, which
	// costs the unit its eligibility for 先进 that year.
	Eligible bool `json:"eligible"`
}

// Table is a league table (通报), computed or published.
type Table struct {
	ID          int64 // 0 when not published
	Period      Period
	Title       string
	RuleSetID   int64
	RuleVersion int
	Rows        []Row
	SHA256      string
	PublishedBy string
	PublishedAt time.Time
}

// Compute builds the league table of a period from the current ledger: every reporting unit
// active in the period, zero-score units included (CN4), ranked by points (ties share a rank).
func (s *Service) Compute(ctx context.Context, p Period) (Table, error) {
	return compute(ctx, s.db, p)
}

func compute(ctx context.Context, db store.DB, p Period) (Table, error) {
	year := p.From.Year()
	rs, err := activeRules(ctx, db, year)
	if err != nil {
		return Table{}, err
	}
	rows, err := db.Query(ctx, `SELECT u.code, u.name, u.district,
			count(e.id) FILTER (WHERE e.kind = 'adoption' AND NOT COALESCE((e.attrs->>'merged')::boolean, false)),
			count(e.id) FILTER (WHERE e.kind = 'adoption' AND COALESCE((e.attrs->>'merged')::boolean, false)),
			count(e.id) FILTER (WHERE e.kind = 'endorsement'),
			count(e.id) FILTER (WHERE e.kind = 'solicitation_late'),
			count(e.id) FILTER (WHERE e.kind = 'solicitation_missed'),
			COALESCE((SELECT sum(l.points) FROM scoring_ledger l WHERE l.unit_id = u.id AND l.superseded_at IS NULL
				AND l.occurred_at >= $1 AND l.occurred_at < $2), 0)::float8
		FROM units u
		LEFT JOIN scoring_events e ON e.unit_id = u.id AND e.occurred_at >= $1 AND e.occurred_at < $2 AND e.voided_at IS NULL
		WHERE u.kind <> 'office' AND (u.active_to IS NULL OR u.active_to >= $1::date)
		GROUP BY u.id, u.code, u.name, u.district`, p.From, p.To)
	if err != nil {
		return Table{}, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Row, error) {
		var r Row
		err := row.Scan(&r.UnitCode, &r.UnitName, &r.District, &r.Adopted, &r.Merged, &r.Endorsements, &r.Late, &r.Missed, &r.Points)
		return r, err
	})
	if err != nil {
		return Table{}, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
	}
	// Eligibility counts the whole year so far, not only the period.
	yFrom, _ := yearRange(year)
	elig := map[string][2]int{}
	erows, err := db.Query(ctx, `SELECT u.code, count(*) FILTER (WHERE e.kind = 'solicitation_late'), count(*) FILTER (WHERE e.kind = 'solicitation_missed')
		FROM scoring_events e JOIN units u ON u.id = e.unit_id WHERE e.voided_at IS NULL AND e.occurred_at >= $1 AND e.occurred_at < $2 GROUP BY u.code`, yFrom, p.To)
	if err != nil {
		return Table{}, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
	}
	for erows.Next() {
		var code string
		var l, m int
		if err := erows.Scan(&code, &l, &m); err != nil {
			erows.Close()
			return Table{}, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
		}
		elig[code] = [2]int{l, m}
	}
	erows.Close()
	for i := range out {
		lm := elig[out[i].UnitCode]
		out[i].Eligible = !(rs.Rules.Late.Every > 0 && lm[0] >= rs.Rules.Late.Every) && !(rs.Rules.Missed.Every > 0 && lm[1] >= rs.Rules.Missed.Every)
	}
	Rank(out)
	return Table{Period: p, Title: p.Name() + "信息工作考核通报", RuleSetID: rs.ID, RuleVersion: rs.Version, Rows: out}, nil
}

// Rank sorts rows by points (then adoptions, then unit code) and assigns competition ranks
// (1, 2, 2, 4).
func Rank(rows []Row) {
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Points != rows[j].Points {
			return rows[i].Points > rows[j].Points
		}
		if rows[i].Adopted != rows[j].Adopted {
			return rows[i].Adopted > rows[j].Adopted
		}
		return rows[i].UnitCode < rows[j].UnitCode
	})
	for i := range rows {
		if i > 0 && rows[i].Points == rows[i-1].Points {
			rows[i].Rank = rows[i-1].Rank
		} else {
			rows[i].Rank = i + 1
		}
	}
}

// Publish freezes the period's league table as computed now. A period is published once.
func (s *Service) Publish(ctx context.Context, p Period, by string) (Table, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return Table{}, fmt.Errorf("scoring: publish %s: %w", p.Key, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := lockYear(ctx, tx, p.From.Year()); err != nil {
		return Table{}, err
	}
	t, err := compute(ctx, tx, p)
	if err != nil {
		return Table{}, err
	}
	raw, err := json.Marshal(t.Rows)
	if err != nil {
		return Table{}, fmt.Errorf("scoring: publish %s: %w", p.Key, err)
	}
	sum := sha256.Sum256(raw)
	t.SHA256 = hex.EncodeToString(sum[:])
	t.PublishedBy = by
	err = tx.QueryRow(ctx, `INSERT INTO league_tables (period_kind, period, title, rule_set_id, rows, sha256, published_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (period_kind, period) DO NOTHING RETURNING id, published_at`,
		p.Kind, p.Key, t.Title, t.RuleSetID, raw, t.SHA256, by).Scan(&t.ID, &t.PublishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Table{}, fmt.Errorf("%w: %s", ErrPublished, p.Key)
	}
	if err != nil {
		return Table{}, fmt.Errorf("scoring: publish %s: %w", p.Key, err)
	}
	return t, tx.Commit(ctx)
}

// Published returns the frozen table of a period (ErrNotFound if not published).
func (s *Service) Published(ctx context.Context, p Period) (Table, error) {
	t := Table{Period: p}
	var raw []byte
	err := s.db.QueryRow(ctx, `SELECT l.id, l.title, l.rule_set_id, r.version, l.rows, l.sha256, l.published_by, l.published_at
		FROM league_tables l JOIN scoring_rule_sets r ON r.id = l.rule_set_id WHERE l.period_kind = $1 AND l.period = $2`, p.Kind, p.Key).
		Scan(&t.ID, &t.Title, &t.RuleSetID, &t.RuleVersion, &raw, &t.SHA256, &t.PublishedBy, &t.PublishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("%w: league table %s", ErrNotFound, p.Key)
	}
	if err != nil {
		return t, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
	}
	if err := json.Unmarshal(raw, &t.Rows); err != nil {
		return t, fmt.Errorf("scoring: league table %s: %w", p.Key, err)
	}
	return t, nil
}

// PublishedSummary is a line of the list of published tables.
type PublishedSummary struct {
	Period      string
	Kind        string
	Title       string
	PublishedBy string
	PublishedAt time.Time
}

// PublishedList lists published tables, newest first.
func (s *Service) PublishedList(ctx context.Context) ([]PublishedSummary, error) {
	rows, err := s.db.Query(ctx, `SELECT period, period_kind, title, published_by, published_at FROM league_tables ORDER BY published_at DESC LIMIT 200`)
	if err != nil {
		return nil, fmt.Errorf("scoring: published tables: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (PublishedSummary, error) {
		var p PublishedSummary
		err := row.Scan(&p.Period, &p.Kind, &p.Title, &p.PublishedBy, &p.PublishedAt)
		return p, err
	})
}

// RecordManual records an event entered by a person (an adoption by a higher level, an
// endorsement, a late or missed solicitation) in its own transaction.
func (s *Service) RecordManual(ctx context.Context, e Event) (bool, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("scoring: record: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	ok, err := Record(ctx, tx, e)
	if err != nil {
		return false, err
	}
	return ok, tx.Commit(ctx)
}

// LatestYear is the year of the newest scoring event (the current year when there is none):
// the default year of the scoring pages, also on historical data such as the demo's.
func (s *Service) LatestYear(ctx context.Context, now time.Time) (int, error) {
	var latest *time.Time
	if err := s.db.QueryRow(ctx, `SELECT max(occurred_at) FROM scoring_events WHERE voided_at IS NULL`).Scan(&latest); err != nil {
		return 0, fmt.Errorf("scoring: latest year: %w", err)
	}
	if latest == nil || latest.After(now) {
		return now.In(search.Location).Year(), nil
	}
	return latest.In(search.Location).Year(), nil
}
