package notes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
)

// Conflict review for the system administrator's web page (docs/notes-migration.md, "Conflict
// review in the web app"): both versions side by side and an audited resolve, like 'infowork
// notes resolve'.

// incomingMark ends the detail of a conflict refused on import with the content address of the
// incoming version (its mapped title and body as JSON in the blob store), so the review can show
// it beside the infowork record; the Notes original of that version is in the store as well.
const incomingMark = " · incoming sha256:"

var incomingRE = regexp.MustCompile(regexp.QuoteMeta(incomingMark) + `([0-9a-f]{64})$`)

// IncomingVersion is what a refused Notes change would have written.
type IncomingVersion struct {
	Title          string `json:"title"`
	BodyHTML       string `json:"body_html"`
	Classification int    `json:"classification"`
	Sequence       int64  `json:"sequence"`
	Modified       string `json:"modified"`
	RawSHA256      string `json:"raw_sha256"`
}

// conflictIncoming records a conflict with the incoming version kept for the review.
func (im *Importer) conflictIncoming(ctx context.Context, tx pgx.Tx, d *Document, s stored, kind, detail string, lr submission.LegacyRecord, rawSHA string) error {
	b, err := json.Marshal(IncomingVersion{Title: lr.Title, BodyHTML: lr.BodyHTML, Classification: int(lr.Classification),
		Sequence: d.Sequence, Modified: d.Info.NoteInfo["modified"], RawSHA256: rawSHA})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	if err := im.writeBlob(sha, b, true); err != nil {
		return err
	}
	if err := im.blobRow(ctx, tx, sha, int64(len(b)), "application/json"); err != nil {
		return err
	}
	return im.conflict(ctx, tx, d, s, kind, detail+incomingMark+sha)
}

// ConflictSide is one version of a conflict as the review shows it.
type ConflictSide struct {
	Label          string // e.g. 「infowork 当前记录」
	SubmissionID   int64  // 0 when the version is not a record
	Title          string
	BodyHTML       string // sanitized
	Classification label.Level
	Meta           []string // version, sequence, modified … in zh-CN
	Hidden         bool     // above the reviewer's clearance: title and body left out
	Missing        string   // why there is nothing to show (deleted in Notes, not kept …)
}

// ConflictView is one listed item with both versions.
type ConflictView struct {
	Item        ReviewItem
	Left, Right ConflictSide
	Resolved    bool
}

// KindName is the zh-CN name of a review item's kind.
func KindName(kind string) string {
	switch kind {
	case "replication_conflict":
		return "复制/保存冲突文档"
	case "both_changed":
		return "两边都有修改"
	case "same_sequence_differs":
		return "序号相同内容不同"
	case "deleted_changed":
		return "Notes 已删除、infowork 已修改"
	}
	return kind
}

// CleanDetail is a conflict's detail without the incoming-version marker.
func CleanDetail(d string) string { return incomingRE.ReplaceAllString(d, "") }

// Compare returns both versions of a listed item: ref is a notes_conflicts id or the UNID of a
// conflict document. Versions above the reviewer's clearance are hidden, and the view is audited
// (it shows record content to an administrator).
func (im *Importer) Compare(ctx context.Context, ref string, reviewer access.Subject, clientIP string) (ConflictView, error) {
	var v ConflictView
	err := pgx.BeginFunc(ctx, im.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
			var resolved *time.Time
			var notesSeq, storedSeq int64
			err := tx.QueryRow(ctx, `SELECT id, unid, kind, detail, detected_at, resolved_at, notes_sequence, stored_sequence
				FROM notes_conflicts WHERE id = $1`, id).Scan(&v.Item.ConflictID, &v.Item.UNID, &v.Item.Kind, &v.Item.Detail, &v.Item.At,
				&resolved, &notesSeq, &storedSeq)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("notes: conflict %s: %w", ref, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			v.Resolved = resolved != nil
			var subID int64
			if err := tx.QueryRow(ctx, `SELECT submission_id FROM notes_documents WHERE unid = $1`, v.Item.UNID).Scan(&subID); err != nil {
				return fmt.Errorf("notes: conflict %s: document %s: %w", ref, v.Item.UNID, err)
			}
			if v.Left, err = recordSide(ctx, tx, subID, "infowork 当前记录", reviewer); err != nil {
				return err
			}
			v.Left.Meta = append(v.Left.Meta, fmt.Sprintf("上次导入的 Notes 序号 %d", storedSeq))
			v.Right = ConflictSide{Label: fmt.Sprintf("Notes 版本（序号 %d）", notesSeq)}
			switch m := incomingRE.FindStringSubmatch(v.Item.Detail); {
			case v.Item.Kind == "deleted_changed":
				v.Right.Missing = "该文档已在 Notes 中删除；infowork 的记录在删除前已被修改，因此未归档。"
			case m == nil:
				v.Right.Missing = "此冲突记录于保存对方版本之前，Notes 端版本未保存；请在 Notes 中查看该序号的文档。"
			default:
				b, err := im.readBlob(m[1])
				var in IncomingVersion
				if err == nil {
					err = json.Unmarshal(b, &in)
				}
				if err != nil {
					v.Right.Missing = "Notes 端版本文件不可读：" + err.Error()
					break
				}
				v.Right.Title, v.Right.BodyHTML, v.Right.Classification = in.Title, submission.SanitizeLegacy(in.BodyHTML), label.Level(in.Classification)
				v.Right.Meta = []string{"Notes 序号 " + strconv.FormatInt(in.Sequence, 10)}
				if in.Modified != "" {
					v.Right.Meta = append(v.Right.Meta, "Notes 修改时间 "+in.Modified)
				}
				if !reviewer.Clearance.Dominates(v.Right.Classification) {
					v.Right.Hidden, v.Right.Title, v.Right.BodyHTML = true, "", ""
				}
			}
		} else {
			// A replication/save conflict document: its record beside its parent's.
			var parent string
			var subID int64
			var review bool
			err := tx.QueryRow(ctx, `SELECT unid, COALESCE(parent_unid, ''), submission_id, imported_at, review_needed
				FROM notes_documents WHERE unid = $1 AND conflict`, ref).Scan(&v.Item.UNID, &parent, &subID, &v.Item.At, &review)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("notes: conflict document %s: %w", ref, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			v.Item.Kind, v.Item.Parent, v.Resolved = "replication_conflict", parent, !review
			if v.Right, err = recordSide(ctx, tx, subID, "冲突文档（Notes 另存的版本）", reviewer); err != nil {
				return err
			}
			var parentSub int64
			err = tx.QueryRow(ctx, `SELECT submission_id FROM notes_documents WHERE unid = $1`, parent).Scan(&parentSub)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				v.Left = ConflictSide{Label: "主文档", Missing: "主文档（" + parent + "）尚未导入。"}
			case err != nil:
				return err
			default:
				if v.Left, err = recordSide(ctx, tx, parentSub, "主文档", reviewer); err != nil {
					return err
				}
			}
		}
		return audit.Record(ctx, tx, audit.Event{UserID: reviewer.UserID, Username: reviewer.Username, ClientIP: clientIP,
			Action: "notes.conflict.view", Object: "notes:" + ref, Outcome: audit.Success})
	})
	return v, err
}

func recordSide(ctx context.Context, tx pgx.Tx, id int64, labelText string, reviewer access.Subject) (ConflictSide, error) {
	side := ConflictSide{Label: labelText, SubmissionID: id}
	var cl int16
	var version int64
	var updated time.Time
	var archived bool
	err := tx.QueryRow(ctx, `SELECT title, body_html, classification, version, updated_at, archived_at IS NOT NULL FROM submissions WHERE id = $1`, id).
		Scan(&side.Title, &side.BodyHTML, &cl, &version, &updated, &archived)
	if err != nil {
		return side, fmt.Errorf("notes: record %d: %w", id, err)
	}
	side.Classification = label.Level(cl)
	side.Meta = []string{fmt.Sprintf("记录 %d，版本 %d", id, version), "修改于 " + updated.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04")}
	if archived {
		side.Meta = append(side.Meta, "已归档")
	}
	if !reviewer.Clearance.Dominates(side.Classification) {
		side.Hidden, side.Title, side.BodyHTML = true, "", ""
	}
	return side, nil
}

// ResolveAs marks a listed item reviewed like Resolve, with the reviewer's account, address and
// note (what was decided) in the audit row.
func (im *Importer) ResolveAs(ctx context.Context, ref string, reviewer access.Subject, clientIP, note string) error {
	note = strings.TrimSpace(note)
	return pgx.BeginFunc(ctx, im.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE notes_conflicts SET resolved_at = now() WHERE id::text = $1 AND resolved_at IS NULL`, ref)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if tag, err = tx.Exec(ctx, `UPDATE notes_documents SET review_needed = false WHERE unid = $1 AND review_needed`, ref); err != nil {
				return err
			}
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("notes: nothing to resolve for %q: %w", ref, store.ErrNotFound)
		}
		return audit.Record(ctx, tx, audit.Event{UserID: reviewer.UserID, Username: reviewer.Username, ClientIP: clientIP,
			Action: "notes.resolve", Object: "notes:" + ref, Outcome: audit.Success, Detail: note})
	})
}
