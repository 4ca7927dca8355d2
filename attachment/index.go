package attachment

import (
	"context"
	"fmt"
	"strconv"

	"infowork/search"
	"infowork/store"
	"infowork/submission"
)

// Extracted text is indexed with its report: every path that builds a report's search document
// (indexer, reindex, reconciliation) runs submission.DocumentHooks, so the text travels with
// the report's label and a new version of the report (which a finished extraction makes)
// re-reads it.
func init() {
	submission.DocumentHooks = append(submission.DocumentHooks, documentTexts)
}

// documentTexts adds the extracted text of each report's current attachments, oldest first.
func documentTexts(ctx context.Context, db store.DB, docs map[int64]search.Document) error {
	if len(docs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	rows, err := db.Query(ctx, `SELECT a.submission_id, a.id, a.filename, e.body
		FROM attachments a JOIN extractions e ON e.blob_sha256 = a.blob_sha256
		WHERE a.submission_id = ANY($1::bigint[]) AND a.archived_at IS NULL AND e.state = 'done' AND e.body IS NOT NULL
		ORDER BY a.submission_id, a.id`, ids)
	if err != nil {
		return fmt.Errorf("attachment: load texts for indexing: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sid, aid int64
		var name, text string
		if err := rows.Scan(&sid, &aid, &name, &text); err != nil {
			return fmt.Errorf("attachment: load texts for indexing: %w", err)
		}
		d := docs[sid]
		d.Attachments = append(d.Attachments, search.AttachmentText{ID: strconv.FormatInt(aid, 10), Name: name, Text: text})
		docs[sid] = d
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("attachment: load texts for indexing: %w", err)
	}
	return nil
}
