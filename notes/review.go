package notes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/audit"
	"infowork/store"
)

// Original returns the kept original (DXL, or DAS JSON) of a document after checking its
// SHA-256, and audits the read (the original may hold what the record's readers list hides).
func (im *Importer) Original(ctx context.Context, unid, actor string) ([]byte, error) {
	var sha string
	err := im.db.QueryRow(ctx, `SELECT COALESCE(dxl_sha256, '') FROM notes_documents WHERE unid = $1`, unid).Scan(&sha)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("notes: document %s: %w", unid, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notes: document %s: %w", unid, err)
	}
	b, err := im.readBlob(sha)
	if err != nil {
		return nil, fmt.Errorf("notes: original of %s: %w", unid, err)
	}
	if err := audit.Write(ctx, im.db, audit.Event{Username: actor, Action: "notes.original", Object: "notes:" + unid,
		Outcome: audit.Success}); err != nil {
		return nil, err
	}
	return b, nil
}

// ReviewItem is a document flagged for review: a replication/save conflict imported as a linked
// version, or a change refused because both sides changed.
type ReviewItem struct {
	ConflictID int64 // notes_conflicts.id; 0 for a conflict document without a refused change
	UNID       string
	Kind       string // replication_conflict, both_changed, same_sequence_differs, deleted_changed
	Parent     string
	Detail     string
	At         time.Time
}

// Review lists what waits for an operator, oldest first.
func (im *Importer) Review(ctx context.Context) ([]ReviewItem, error) {
	rows, err := im.db.Query(ctx, `
		SELECT 0, unid, 'replication_conflict', COALESCE(parent_unid, ''), form, imported_at
			FROM notes_documents WHERE conflict AND review_needed
		UNION ALL
		SELECT id, unid, kind, '', detail, detected_at FROM notes_conflicts WHERE resolved_at IS NULL
		ORDER BY 6, 2`)
	if err != nil {
		return nil, fmt.Errorf("notes: review list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReviewItem, error) {
		var it ReviewItem
		err := r.Scan(&it.ConflictID, &it.UNID, &it.Kind, &it.Parent, &it.Detail, &it.At)
		return it, err
	})
}

// Resolve marks a listed conflict (by notes_conflicts id) or a conflict document (by UNID) as
// reviewed, and audits it.
func (im *Importer) Resolve(ctx context.Context, ref, actor string) error {
	return pgx.BeginFunc(ctx, im.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE notes_conflicts SET resolved_at = now() WHERE id::text = $1 AND resolved_at IS NULL`, ref)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			tag, err = tx.Exec(ctx, `UPDATE notes_documents SET review_needed = false WHERE unid = $1 AND review_needed`, ref)
			if err != nil {
				return err
			}
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("notes: nothing to resolve for %q: %w", ref, store.ErrNotFound)
		}
		return audit.Record(ctx, tx, audit.Event{Username: actor, Action: "notes.resolve", Object: "notes:" + ref, Outcome: audit.Success})
	})
}
