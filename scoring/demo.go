package scoring

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"infowork/access"
)

// SeedDemo gives the demo data (source 'demo') an editorial history and scoring rules, so that
// statistics, dashboards and league tables have something true to show: about a quarter of the
// reports that reached the office are adopted (reviewed 20 h and adopted 30 h after the report),
// one in ten merged (综合采用), one in six returned (8 h after the report, 要素不全); the history is
// written as the default workflow would record it, backdated to the report's time, and each
// changed record is queued for re-indexing. Every year with demo reports gets the cited rules
// (DefaultRules) unless it has rules already, and the workflow adoptions become ledger rows.
// It does nothing when demo reports already have a history, so running it again is harmless.
func (s *Service) SeedDemo(ctx context.Context) (changed int, err error) {
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		var has bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workflow_events w JOIN submissions s ON s.id = w.submission_id WHERE s.source = 'demo')`).Scan(&has); err != nil {
			return fmt.Errorf("scoring: seed demo: %w", err)
		}
		if has {
			return nil
		}
		const pick = `CREATE TEMP TABLE demo_history ON COMMIT DROP AS
			SELECT s.id, s.reported_at, s.workflow_version,
				CASE WHEN s.id % 4 = 0 THEN 'adopted' WHEN s.id % 10 = 3 THEN 'merged' WHEN s.id % 6 = 1 THEN 'returned' END AS outcome
			FROM submissions s WHERE s.source = 'demo' AND s.state = 'submitted' AND s.archived_at IS NULL`
		if _, err := tx.Exec(ctx, pick); err != nil {
			return fmt.Errorf("scoring: seed demo: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM demo_history WHERE outcome IS NULL`); err != nil {
			return fmt.Errorf("scoring: seed demo: %w", err)
		}
		steps := []string{
			`INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, actor_id, actor_name, at)
			 SELECT h.id, 'default', COALESCE(h.workflow_version, 1), 'submitted', 'in_review', 'review', (SELECT id FROM users WHERE username = 'editor'), 'editor', h.reported_at + interval '20 hours'
			 FROM demo_history h WHERE h.outcome IN ('adopted', 'merged')`,
			`INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, actor_id, actor_name, at)
			 SELECT h.id, 'default', COALESCE(h.workflow_version, 1), 'in_review', h.outcome, CASE h.outcome WHEN 'adopted' THEN 'adopt' ELSE 'merge' END,
				(SELECT id FROM users WHERE username = 'editor'), 'editor', h.reported_at + interval '30 hours'
			 FROM demo_history h WHERE h.outcome IN ('adopted', 'merged')`,
			`INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, actor_id, actor_name, reason, comment, at)
			 SELECT h.id, 'default', COALESCE(h.workflow_version, 1), 'submitted', 'returned', 'return', (SELECT id FROM users WHERE username = 'editor'), 'editor',
				'facts_incomplete', '请补充时间、地点和涉及人数（演示数据）', h.reported_at + interval '8 hours'
			 FROM demo_history h WHERE h.outcome = 'returned'`,
			`UPDATE submissions s SET state = h.outcome, version = s.version + 1,
				updated_at = h.reported_at + CASE h.outcome WHEN 'returned' THEN interval '8 hours' ELSE interval '30 hours' END,
				state_entered_at = h.reported_at + CASE h.outcome WHEN 'returned' THEN interval '8 hours' ELSE interval '30 hours' END,
				assigned_role = CASE h.outcome WHEN 'returned' THEN 'reporter' ELSE NULL END,
				tags = CASE h.outcome WHEN 'adopted' THEN array_append(s.tags, '采用') WHEN 'merged' THEN array_append(s.tags, '综合采用') ELSE s.tags END
			 FROM demo_history h WHERE h.id = s.id`,
			`INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM demo_history`,
		}
		for _, q := range steps {
			tag, err := tx.Exec(ctx, q)
			if err != nil {
				return fmt.Errorf("scoring: seed demo: %w", err)
			}
			if len(q) > 6 && q[:6] == "UPDATE" {
				changed = int(tag.RowsAffected())
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT extract(year FROM reported_at AT TIME ZONE 'Asia/Shanghai')::int FROM submissions WHERE source = 'demo' ORDER BY 1`)
	if err != nil {
		return changed, fmt.Errorf("scoring: seed demo: %w", err)
	}
	years, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return changed, fmt.Errorf("scoring: seed demo: %w", err)
	}
	for _, y := range years {
		if _, err := s.ActiveRules(ctx, y); err == nil {
			continue
		}
		if _, err := s.SaveRules(ctx, y, DefaultRules(), "演示：引用的考核办法（docs/statistics.md）", "demo"); err != nil {
			return changed, err
		}
	}
	_, err = s.SyncAll(ctx)
	return changed, err
}
