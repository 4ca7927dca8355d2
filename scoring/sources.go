package scoring

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/solicitation"
)

// Sources of scoring facts. Each sync is idempotent (events keyed by their source) and cheap
// when nothing changed; SyncAll runs them all and pages call it before showing scores, so the
// ledger follows the workflow, the periodicals' endorsements and the solicitations without a
// timer. A source that corrects a fact (a solicitation first missed, then answered late) voids
// the old event and the year is rescored.

// SyncAll runs every source sync and returns how many events were recorded or voided.
func (s *Service) SyncAll(ctx context.Context) (int, error) {
	total := 0
	for _, f := range []func(context.Context) (int, error){s.SyncWorkflow, s.SyncEndorsements, s.SyncSolicitations} {
		n, err := f(ctx)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// SyncEndorsements records an endorsement event for every leader endorsement (package
// periodical, table endorsements) of a report, credited to the report's unit; an endorsed draft
// (稿件) credits every unit whose report contributed to it (draft_credits).
func (s *Service) SyncEndorsements(ctx context.Context) (int, error) {
	return s.syncQuery(ctx, `
		SELECT 'endorsement:' || e.id || ':' || x.submission_id, 'endorsement', x.unit_id, x.submission_id,
			(e.endorsed_on::timestamp + interval '12 hours') AT TIME ZONE 'Asia/Shanghai', e.leader_level, e.leader_name
		FROM endorsements e
		JOIN LATERAL (
			SELECT s.id AS submission_id, s.unit_id FROM submissions s WHERE e.item_kind = 'submission' AND s.id = e.item_id
			UNION ALL
			SELECT c.submission_id, c.unit_id FROM draft_credits c WHERE e.item_kind = 'draft' AND c.draft_id = e.item_id
		) x ON true
		WHERE NOT EXISTS (SELECT 1 FROM scoring_events se WHERE se.source = 'endorsement:' || e.id || ':' || x.submission_id AND se.voided_at IS NULL)
		ORDER BY e.endorsed_on, e.id LIMIT 10000`, nil)
}

// SyncSolicitations records a late or missed solicitation for every target unit whose status
// (package solicitation, table solicitation_targets) is late or missing, and voids the event of
// a target whose status changed since. The target rows are recomputed first
// (solicitation.RefreshAll): a status is otherwise only refreshed when someone views the
// solicitation, and a deadline that passed unseen would leave a target pending, never missed.
func (s *Service) SyncSolicitations(ctx context.Context) (int, error) {
	if err := solicitation.New(s.db).RefreshAll(ctx); err != nil {
		return 0, fmt.Errorf("scoring: sync: %w", err)
	}
	return s.syncQuery(ctx, `
		SELECT 'solicitation:' || t.solicitation_id || ':' || t.unit_id, CASE t.status WHEN 'late' THEN 'solicitation_late' ELSE 'solicitation_missed' END,
			t.unit_id, t.submission_id, CASE t.status WHEN 'late' THEN COALESCE(t.answered_at, so.deadline) ELSE so.deadline END, '', ''
		FROM solicitation_targets t JOIN solicitations so ON so.id = t.solicitation_id
		WHERE t.status IN ('late', 'missing') AND so.kind = 'solicitation' AND so.deadline IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM scoring_events se WHERE se.source = 'solicitation:' || t.solicitation_id || ':' || t.unit_id AND se.voided_at IS NULL
				AND se.kind = CASE t.status WHEN 'late' THEN 'solicitation_late' ELSE 'solicitation_missed' END)
		ORDER BY 5 LIMIT 10000`,
		// Events whose target no longer has that status (or whose solicitation was archived).
		func(ctx context.Context, tx pgx.Tx) ([]int, error) {
			rows, err := tx.Query(ctx, `UPDATE scoring_events se SET voided_at = clock_timestamp()
				WHERE se.voided_at IS NULL AND se.kind IN ('solicitation_late', 'solicitation_missed') AND se.source LIKE 'solicitation:%'
				  AND NOT EXISTS (SELECT 1 FROM solicitation_targets t JOIN solicitations so ON so.id = t.solicitation_id
					WHERE se.source = 'solicitation:' || t.solicitation_id || ':' || t.unit_id AND so.archived_at IS NULL
					  AND se.kind = CASE t.status WHEN 'late' THEN 'solicitation_late' WHEN 'missing' THEN 'solicitation_missed' END)
				RETURNING se.occurred_at`)
			if err != nil {
				return nil, err
			}
			years := map[int]bool{}
			for rows.Next() {
				var at time.Time
				if err := rows.Scan(&at); err != nil {
					rows.Close()
					return nil, err
				}
				years[yearOf(at)] = true
			}
			rows.Close()
			var out []int
			for y := range years {
				out = append(out, y)
			}
			return out, rows.Err()
		})
}

// syncQuery records the events a query returns (source, kind, unit, submission, occurred_at,
// level, leader); void, when set, voids stale events first and returns the years to rescore.
func (s *Service) syncQuery(ctx context.Context, query string, void func(context.Context, pgx.Tx) ([]int, error)) (int, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("scoring: sync: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if err := access.SetBypass(ctx, tx); err != nil {
		return 0, err
	}
	n := 0
	if void != nil {
		years, err := void(ctx, tx)
		if err != nil {
			return 0, fmt.Errorf("scoring: sync: void: %w", err)
		}
		for _, y := range years {
			if err := lockYear(ctx, tx, y); err != nil {
				return 0, err
			}
			if err := recompute(ctx, tx, y); err != nil {
				return 0, err
			}
			n++
		}
	}
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("scoring: sync: %w", err)
	}
	var evs []Event
	for rows.Next() {
		var e Event
		var sub *int64
		if err := rows.Scan(&e.Source, &e.Kind, &e.UnitID, &sub, &e.OccurredAt, &e.Attrs.Level, &e.Attrs.Leader); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scoring: sync: %w", err)
		}
		if sub != nil {
			e.SubmissionID = *sub
		}
		e.RecordedBy = "sync"
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("scoring: sync: %w", err)
	}
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
