package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/search"
)

// ErrNoRules is returned when a year has no active rule set.
var ErrNoRules = errors.New("scoring: no rules for this year")

// ErrNotFound is returned for a missing league table or rule set.
var ErrNotFound = errors.New("scoring: not found")

// ErrPublished is returned when a period's league table is already published (frozen).
var ErrPublished = errors.New("scoring: league table already published")

// Service reads and writes rules, events, the ledger and league tables.
type Service struct {
	db *pgxpool.Pool
}

// New returns a service on db.
func New(db *pgxpool.Pool) *Service { return &Service{db: db} }

// RuleSet is one stored version of a year's rules.
type RuleSet struct {
	ID        int64
	Year      int
	Version   int
	Rules     Rules
	Note      string
	CreatedBy string
	CreatedAt time.Time
	Active    bool
}

// yearOf is the calendar year of t in the office's time zone.
func yearOf(t time.Time) int { return t.In(search.Location).Year() }

func yearRange(year int) (time.Time, time.Time) {
	from := time.Date(year, 1, 1, 0, 0, 0, 0, search.Location)
	return from, from.AddDate(1, 0, 0)
}

// lockYear serializes writers of one year's ledger (recording and recomputing).
func lockYear(ctx context.Context, tx pgx.Tx, year int) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::bigint)`, int64(7305202611270000+year))
	if err != nil {
		return fmt.Errorf("scoring: lock year %d: %w", year, err)
	}
	return nil
}

// RuleSets lists every version of a year's rules, newest first.
func (s *Service) RuleSets(ctx context.Context, year int) ([]RuleSet, error) {
	rows, err := s.db.Query(ctx, `SELECT id, year, version, rules, note, created_by, created_at, active
		FROM scoring_rule_sets WHERE year = $1 ORDER BY version DESC`, year)
	if err != nil {
		return nil, fmt.Errorf("scoring: list rules of %d: %w", year, err)
	}
	return pgx.CollectRows(rows, scanRuleSet)
}

func scanRuleSet(row pgx.CollectableRow) (RuleSet, error) {
	var rs RuleSet
	var raw []byte
	if err := row.Scan(&rs.ID, &rs.Year, &rs.Version, &raw, &rs.Note, &rs.CreatedBy, &rs.CreatedAt, &rs.Active); err != nil {
		return rs, fmt.Errorf("scoring: scan rule set: %w", err)
	}
	if err := json.Unmarshal(raw, &rs.Rules); err != nil {
		return rs, fmt.Errorf("scoring: rule set %d: %w", rs.ID, err)
	}
	return rs, nil
}

// ActiveRules returns the year's active rule set (ErrNoRules if none).
func (s *Service) ActiveRules(ctx context.Context, year int) (RuleSet, error) {
	return activeRules(ctx, s.db, year)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func activeRules(ctx context.Context, db querier, year int) (RuleSet, error) {
	rows, err := db.Query(ctx, `SELECT id, year, version, rules, note, created_by, created_at, active
		FROM scoring_rule_sets WHERE year = $1 AND active`, year)
	if err != nil {
		return RuleSet{}, fmt.Errorf("scoring: rules of %d: %w", year, err)
	}
	rs, err := pgx.CollectRows(rows, scanRuleSet)
	if err != nil {
		return RuleSet{}, err
	}
	if len(rs) == 0 {
		return RuleSet{}, fmt.Errorf("%w: %d", ErrNoRules, year)
	}
	return rs[0], nil
}

// SaveRules stores rules as the year's next active version and recomputes the year's ledger with
// them, in one transaction. Earlier ledger rows stay, marked superseded.
func (s *Service) SaveRules(ctx context.Context, year int, r Rules, note, by string) (RuleSet, error) {
	if err := r.Validate(); err != nil {
		return RuleSet{}, err
	}
	if year < 2000 || year > 2100 {
		return RuleSet{}, &ValidationError{"year", "年度须在 2000 到 2100 之间"}
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return RuleSet{}, fmt.Errorf("scoring: encode rules: %w", err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return RuleSet{}, fmt.Errorf("scoring: save rules: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := lockYear(ctx, tx, year); err != nil {
		return RuleSet{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE scoring_rule_sets SET active = false WHERE year = $1 AND active`, year); err != nil {
		return RuleSet{}, fmt.Errorf("scoring: save rules: %w", err)
	}
	rs := RuleSet{Year: year, Rules: r, Note: note, CreatedBy: by, Active: true}
	err = tx.QueryRow(ctx, `INSERT INTO scoring_rule_sets (year, version, rules, note, created_by, active)
		VALUES ($1, COALESCE((SELECT max(version) FROM scoring_rule_sets WHERE year = $1), 0) + 1, $2, $3, $4, true)
		RETURNING id, version, created_at`, year, raw, note, by).Scan(&rs.ID, &rs.Version, &rs.CreatedAt)
	if err != nil {
		return RuleSet{}, fmt.Errorf("scoring: save rules: %w", err)
	}
	if err := recompute(ctx, tx, year); err != nil {
		return RuleSet{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return RuleSet{}, fmt.Errorf("scoring: save rules: %w", err)
	}
	return rs, nil
}

// Recompute rescores a year from its events with the active rules (superseding current rows).
func (s *Service) Recompute(ctx context.Context, year int) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("scoring: recompute %d: %w", year, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := lockYear(ctx, tx, year); err != nil {
		return err
	}
	if err := recompute(ctx, tx, year); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func recompute(ctx context.Context, tx pgx.Tx, year int) error {
	from, to := yearRange(year)
	if _, err := tx.Exec(ctx, `UPDATE scoring_ledger SET superseded_at = clock_timestamp()
		WHERE superseded_at IS NULL AND occurred_at >= $1 AND occurred_at < $2`, from, to); err != nil {
		return fmt.Errorf("scoring: recompute %d: %w", year, err)
	}
	rs, err := activeRules(ctx, tx, year)
	if errors.Is(err, ErrNoRules) {
		return nil // events stay unscored until the year has rules
	}
	if err != nil {
		return err
	}
	events, err := loadEvents(ctx, tx, `occurred_at >= $1 AND occurred_at < $2`, from, to)
	if err != nil {
		return err
	}
	return insertEntries(ctx, tx, rs.ID, ScoreAll(rs.Rules, events))
}

func loadEvents(ctx context.Context, db querier, where string, args ...any) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT id, kind, source, unit_id, COALESCE(submission_id, 0), occurred_at, attrs, recorded_by
		FROM scoring_events WHERE voided_at IS NULL AND `+where+` ORDER BY occurred_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("scoring: load events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var raw []byte
		if err := row.Scan(&e.ID, &e.Kind, &e.Source, &e.UnitID, &e.SubmissionID, &e.OccurredAt, &raw, &e.RecordedBy); err != nil {
			return e, fmt.Errorf("scoring: scan event: %w", err)
		}
		if err := json.Unmarshal(raw, &e.Attrs); err != nil {
			return e, fmt.Errorf("scoring: event %d attrs: %w", e.ID, err)
		}
		return e, nil
	})
}

func insertEntries(ctx context.Context, tx pgx.Tx, ruleSetID int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([][]any, len(entries))
	for i, e := range entries {
		rows[i] = []any{e.EventID, e.UnitID, ruleSetID, e.OccurredAt, e.Rule, e.Points, e.Explanation}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"scoring_ledger"},
		[]string{"event_id", "unit_id", "rule_set_id", "occurred_at", "rule", "points", "explanation"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("scoring: write ledger: %w", err)
	}
	return nil
}

// Validate checks an event before it is recorded.
func (e Event) Validate() error {
	switch e.Kind {
	case KindAdoption:
		if !contains(AdoptionLevels, e.Attrs.Level) {
			return &ValidationError{"level", "采用级别须是 " + strings.Join(AdoptionLevels, "、") + " 之一"}
		}
	case KindEndorsement:
		if !contains(LeaderLevels, e.Attrs.Level) {
			return &ValidationError{"level", "批示级别须是 " + strings.Join(LeaderLevels, "、") + " 之一"}
		}
	case KindSolicitationLate, KindSolicitationMissed:
	case KindQuota:
		if _, err := time.Parse("2006-01", e.Attrs.Month); err != nil {
			return &ValidationError{"month", "月份格式应为 YYYY-MM"}
		}
	default:
		return &ValidationError{"kind", "未知事件类型 " + e.Kind}
	}
	if e.Source == "" || len(e.Source) > 200 {
		return &ValidationError{"source", "来源标识须为 1 到 200 个字符"}
	}
	if e.UnitID == 0 {
		return &ValidationError{"unit", "须指定单位"}
	}
	if e.OccurredAt.IsZero() {
		return &ValidationError{"occurred_at", "须指定发生时间"}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Record is the interface every source of scoring facts calls, inside its own transaction (the
// fact and its score commit together): it stores e unless an event with the same Source exists
// (then it returns false) and appends its ledger row computed with the year's active rules.
func Record(ctx context.Context, tx pgx.Tx, e Event) (bool, error) {
	if err := e.Validate(); err != nil {
		return false, err
	}
	year := yearOf(e.OccurredAt)
	if err := lockYear(ctx, tx, year); err != nil {
		return false, err
	}
	attrs, err := json.Marshal(e.Attrs)
	if err != nil {
		return false, fmt.Errorf("scoring: encode attrs: %w", err)
	}
	var sub *int64
	if e.SubmissionID != 0 {
		sub = &e.SubmissionID
	}
	err = tx.QueryRow(ctx, `INSERT INTO scoring_events (kind, source, unit_id, submission_id, occurred_at, attrs, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) WHERE voided_at IS NULL DO NOTHING RETURNING id`,
		e.Kind, e.Source, e.UnitID, sub, e.OccurredAt, attrs, e.RecordedBy).Scan(&e.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("scoring: record %s: %w", e.Source, err)
	}
	rs, err := activeRules(ctx, tx, year)
	if errors.Is(err, ErrNoRules) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// Counters (every third late report, repeat endorsements) depend on the events before this
	// one. An event recorded out of order changes the counts of later ones: rescore the year.
	var later bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scoring_events WHERE voided_at IS NULL AND id <> $1 AND occurred_at > $2
			AND occurred_at < $3 AND kind IN ('endorsement', 'solicitation_late', 'solicitation_missed')
			AND (unit_id = $4 OR submission_id = $5))`, e.ID, e.OccurredAt, yearEnd(year), e.UnitID, e.SubmissionID).Scan(&later); err != nil {
		return false, fmt.Errorf("scoring: record %s: %w", e.Source, err)
	}
	if later {
		return true, recompute(ctx, tx, year)
	}
	from, _ := yearRange(year)
	prior, err := loadEvents(ctx, tx, `id <> $1 AND occurred_at >= $2 AND occurred_at <= $3
		AND kind IN ('endorsement', 'solicitation_late', 'solicitation_missed') AND (unit_id = $4 OR submission_id = $5)`,
		e.ID, from, e.OccurredAt, e.UnitID, e.SubmissionID)
	if err != nil {
		return false, err
	}
	sc := NewScorer(rs.Rules)
	for _, p := range prior {
		if p.UnitID == e.UnitID || (e.Kind == KindEndorsement && p.SubmissionID == e.SubmissionID && p.Kind == KindEndorsement) {
			sc.Score(p)
		}
	}
	return true, insertEntries(ctx, tx, rs.ID, []Entry{sc.Score(e)})
}

func yearEnd(year int) time.Time { _, to := yearRange(year); return to }

// SyncWorkflow records an adoption event for every workflow transition into adopted (采用, by the
// city office) or merged (综合采用) not recorded yet, and returns how many it recorded. It is
// idempotent (source workflow_event:ID) and cheap when nothing is new.
func (s *Service) SyncWorkflow(ctx context.Context) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("scoring: sync workflow: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := access.SetBypass(ctx, tx); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT w.id, w.to_state, w.at, s.id, s.unit_id FROM workflow_events w
		JOIN submissions s ON s.id = w.submission_id
		WHERE w.to_state IN ('adopted', 'merged')
		  AND NOT EXISTS (SELECT 1 FROM scoring_events e WHERE e.source = 'workflow_event:' || w.id AND e.voided_at IS NULL)
		ORDER BY w.at, w.id LIMIT 10000`)
	if err != nil {
		return 0, fmt.Errorf("scoring: sync workflow: %w", err)
	}
	var evs []Event
	for rows.Next() {
		var id, sub, unit int64
		var state string
		var at time.Time
		if err := rows.Scan(&id, &state, &at, &sub, &unit); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scoring: sync workflow: %w", err)
		}
		evs = append(evs, Event{Kind: KindAdoption, Source: "workflow_event:" + strconv.FormatInt(id, 10), UnitID: unit,
			SubmissionID: sub, OccurredAt: at, Attrs: Attrs{Level: "city", Merged: state == "merged"}, RecordedBy: "workflow"})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("scoring: sync workflow: %w", err)
	}
	n := 0
	for _, e := range evs {
		ok, err := Record(ctx, tx, e)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, tx.Commit(ctx)
}

// CloseMonth records the quota event of every reporting unit for a finished month: how many
// reports it submitted to the office (state past unit approval) in that month.
func (s *Service) CloseMonth(ctx context.Context, month string, now time.Time, by string) (int, error) {
	start, err := time.ParseInLocation("2006-01", month, search.Location)
	if err != nil {
		return 0, &ValidationError{"month", "月份格式应为 YYYY-MM"}
	}
	end := start.AddDate(0, 1, 0)
	if now.Before(end) {
		return 0, &ValidationError{"month", month + " 尚未结束，不能结算定额"}
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("scoring: close month: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := access.SetBypass(ctx, tx); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT u.id, (SELECT count(*) FROM submissions s WHERE s.unit_id = u.id
			AND s.reported_at >= $1 AND s.reported_at < $2 AND s.state NOT IN ('draft', 'unit_approval') AND s.archived_at IS NULL)
		FROM units u WHERE u.kind <> 'office' AND (u.active_to IS NULL OR u.active_to >= $1::date)
		ORDER BY u.id`, start, end)
	if err != nil {
		return 0, fmt.Errorf("scoring: close month: %w", err)
	}
	var evs []Event
	for rows.Next() {
		var unit int64
		var n int
		if err := rows.Scan(&unit, &n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scoring: close month: %w", err)
		}
		evs = append(evs, Event{Kind: KindQuota, Source: fmt.Sprintf("quota:%d:%s", unit, month), UnitID: unit,
			OccurredAt: end.Add(-time.Second), Attrs: Attrs{Month: month, Count: n}, RecordedBy: by})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("scoring: close month: %w", err)
	}
	n := 0
	for _, e := range evs {
		ok, err := Record(ctx, tx, e)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, tx.Commit(ctx)
}

// LedgerRow is a ledger row as shown to people.
type LedgerRow struct {
	ID           int64
	EventID      int64
	Kind         string
	Source       string
	SubmissionID int64
	UnitCode     string
	UnitName     string
	RuleSet      string // 2026 v2
	OccurredAt   time.Time
	Rule         string
	Points       float64
	Explanation  string
	Superseded   bool
}

// Ledger returns a unit's ledger rows of a year, current first then superseded (history).
func (s *Service) Ledger(ctx context.Context, unitCode string, year int, withHistory bool) ([]LedgerRow, error) {
	from, to := yearRange(year)
	rows, err := s.db.Query(ctx, `SELECT l.id, l.event_id, e.kind, e.source, COALESCE(e.submission_id, 0), u.code, u.name,
			r.year || ' 第' || r.version || '版', l.occurred_at, l.rule, l.points::float8, l.explanation, l.superseded_at IS NOT NULL
		FROM scoring_ledger l JOIN scoring_events e ON e.id = l.event_id JOIN units u ON u.id = l.unit_id
		JOIN scoring_rule_sets r ON r.id = l.rule_set_id
		WHERE u.code = $1 AND l.occurred_at >= $2 AND l.occurred_at < $3 AND ($4 OR l.superseded_at IS NULL)
		ORDER BY l.superseded_at IS NOT NULL, l.occurred_at, l.id`, unitCode, from, to, withHistory)
	if err != nil {
		return nil, fmt.Errorf("scoring: ledger of %s: %w", unitCode, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LedgerRow, error) {
		var l LedgerRow
		err := row.Scan(&l.ID, &l.EventID, &l.Kind, &l.Source, &l.SubmissionID, &l.UnitCode, &l.UnitName, &l.RuleSet,
			&l.OccurredAt, &l.Rule, &l.Points, &l.Explanation, &l.Superseded)
		return l, err
	})
}
