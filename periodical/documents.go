package periodical

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/outbox"
	"infowork/search"
	"infowork/store"
	"infowork/submission"
)

// Facet values of the search documents of records that are items of issues.
const (
	// ArchivedValue marks a record compiled into an archived issue (facet "archived").
	ArchivedValue = "archived"
	// Endorsement facet values: an endorsement whose follow-up is still open, or all closed.
	EndorsementOpen   = "open"
	EndorsementClosed = "closed"
)

func init() {
	// Every path that builds submission documents (indexer, reindex, reconciliation, bench)
	// goes through submission.Documents, so the flags survive a rebuild of the index.
	submission.DocumentHooks = append(submission.DocumentHooks, documentFlags)
}

// documentFlags sets Archived and Endorsement on submission documents: archived when the record
// (or a draft made from it) is an item of an archived issue; endorsement "open" while any of its endorsements is open,
// "closed" when it has endorsements and all are closed.
func documentFlags(ctx context.Context, db store.DB, docs map[int64]search.Document) error {
	if len(docs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	// A record counts through itself or through a draft made from it (a merged draft's
	// endorsement is an endorsement of each report it draws on).
	rows, err := db.Query(ctx, `WITH refs AS (
			SELECT x.id, 'submission'::text AS kind, x.id AS item_id FROM unnest($1::bigint[]) AS x(id)
			UNION ALL
			SELECT ds.submission_id, 'draft', ds.draft_id FROM draft_sources ds WHERE ds.submission_id = ANY($1::bigint[]))
		SELECT x.id,
			EXISTS (SELECT 1 FROM refs r JOIN periodical_issue_items it ON it.item_kind = r.kind AND it.item_id = r.item_id
				JOIN periodical_issues i ON i.id = it.issue_id
				WHERE r.id = x.id AND it.removed_at IS NULL AND i.state = 'archived'),
			(SELECT CASE WHEN count(*) = 0 THEN '' WHEN bool_or(e.state = 'open') THEN 'open' ELSE 'closed' END
				FROM refs r JOIN endorsements e ON e.item_kind = r.kind AND e.item_id = r.item_id WHERE r.id = x.id)
		FROM unnest($1::bigint[]) AS x(id)`, ids)
	if err != nil {
		return fmt.Errorf("periodical: document flags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var archived bool
		var endorsement string
		if err := rows.Scan(&id, &archived, &endorsement); err != nil {
			return fmt.Errorf("periodical: document flags: %w", err)
		}
		d := docs[id]
		d.Archived, d.Endorsement = archived, endorsement
		docs[id] = d
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("periodical: document flags: %w", err)
	}
	return nil
}

// Placement says that a record is an item of an issue.
type Placement struct {
	IssueID    int64
	Periodical string
	Number     string
	State      string
}

// Placements returns, for each ref, the issues the record is an item of (newest first), among
// the issues the reader may see — the search page shows them beside the hits.
func (s *Service) Placements(ctx context.Context, refs []Ref, maxLevel int) (map[Ref][]Placement, error) {
	out := map[Ref][]Placement{}
	if len(refs) == 0 {
		return out, nil
	}
	kinds := make([]string, len(refs))
	ids := make([]int64, len(refs))
	for i, r := range refs {
		kinds[i], ids[i] = r.Kind, r.ID
	}
	rows, err := s.db.Query(ctx, `SELECT it.item_kind, it.item_id, i.id, p.name, i.year, i.year_number, i.total_number, i.state
		FROM unnest($1::text[], $2::bigint[]) AS x(kind, id)
		JOIN periodical_issue_items it ON it.item_kind = x.kind AND it.item_id = x.id AND it.removed_at IS NULL
		JOIN periodical_issues i ON i.id = it.issue_id
		JOIN periodicals p ON p.id = i.periodical_id
		WHERE i.classification <= $3
		ORDER BY i.issue_date DESC, i.id DESC`, kinds, ids, maxLevel)
	if err != nil {
		return nil, fmt.Errorf("periodical: placements: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Ref
		var p Placement
		var y, n, t int
		if err := rows.Scan(&r.Kind, &r.ID, &p.IssueID, &p.Periodical, &y, &n, &t, &p.State); err != nil {
			return nil, fmt.Errorf("periodical: placements: %w", err)
		}
		p.Number = fmt.Sprintf("%d年第%d期", y, n)
		out[r] = append(out[r], p)
	}
	return out, rows.Err()
}

// reindexRefs re-indexes the search documents that follow from items (submissions themselves,
// and for a draft its source submissions; the draft has no search document of its own here):
// it bumps their row version and queues them in the outbox, inside the caller's transaction.
func reindexRefs(ctx context.Context, tx pgx.Tx, refs []Ref) error {
	var subs, drafts []int64
	for _, r := range refs {
		switch r.Kind {
		case KindSubmission:
			subs = append(subs, r.ID)
		case KindDraft:
			drafts = append(drafts, r.ID)
		}
	}
	if len(drafts) > 0 {
		rows, err := tx.Query(ctx, `SELECT DISTINCT submission_id FROM draft_sources WHERE draft_id = ANY($1::bigint[])`, drafts)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		subs = append(subs, ids...)
	}
	if len(subs) == 0 {
		return nil
	}
	// The search document changed (its facets), so its row version moves on: the engines keep
	// only higher versions, and reindex and reconciliation compare against this column. A
	// savepoint with the row-level-security bypass: a trusted internal change of every unit's rows.
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		if err := access.SetBypass(ctx, sp); err != nil {
			return err
		}
		_, err := sp.Exec(ctx, `UPDATE submissions SET version = version + 1 WHERE id = ANY($1::bigint[])`, subs)
		return err
	})
	if err != nil {
		return fmt.Errorf("periodical: bump search document versions: %w", err)
	}
	return outbox.Enqueue(ctx, tx, submission.Entity, subs...)
}
