package periodical

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/label"
)

// draftSource resolves drafts (稿件, package draft, migration 0011) as items: the current text
// of the draft, and as contributing units every unit whose report the draft was made from, in
// the editor's order (a merged draft 合稿 credits each of them; endorsements task each of them).
// A draft belongs to no unit: only the office roles read drafts, as package draft decides.
type draftSource struct{}

func (draftSource) Load(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]Record, error) {
	out := map[int64]Record{}
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		if err := access.SetBypass(ctx, sp); err != nil {
			return err
		}
		rows, err := sp.Query(ctx, `SELECT d.id, d.title, d.body_text, d.classification, d.label_categories, d.updated_at
			FROM drafts d WHERE d.id = ANY($1::bigint[]) AND d.state <> 'withdrawn' AND d.archived_at IS NULL`, ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r Record
			var body string
			var cl int16
			if err := rows.Scan(&r.Ref.ID, &r.Title, &body, &cl, &r.LabelCategories, &r.Date); err != nil {
				rows.Close()
				return err
			}
			r.Ref.Kind = KindDraft
			r.Classification = label.Level(cl)
			for _, p := range strings.Split(body, "\n") {
				if p = strings.TrimSpace(p); p != "" {
					r.Paragraphs = append(r.Paragraphs, p)
				}
			}
			out[r.Ref.ID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		urows, err := sp.Query(ctx, `SELECT ds.draft_id, u.id, u.code, u.name FROM draft_sources ds
			JOIN submissions s ON s.id = ds.submission_id JOIN units u ON u.id = s.unit_id
			WHERE ds.draft_id = ANY($1::bigint[]) ORDER BY ds.draft_id, ds.position, ds.submission_id`, ids)
		if err != nil {
			return err
		}
		defer urows.Close()
		for urows.Next() {
			var id int64
			var u Unit
			if err := urows.Scan(&id, &u.ID, &u.Code, &u.Name); err != nil {
				return err
			}
			r, ok := out[id]
			if !ok {
				continue
			}
			dup := false
			for _, x := range r.Units {
				dup = dup || x.ID == u.ID
			}
			if !dup {
				r.Units = append(r.Units, u)
				out[id] = r
			}
		}
		return urows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("periodical: load drafts: %w", err)
	}
	return out, nil
}
