package attachment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/outbox"
	"infowork/store"
	"infowork/submission"
)

// ActionVersion is the audit action of a new version.
const ActionVersion = "attachment.version"

// insertBlob records a content once (deduplication).
func insertBlob(ctx context.Context, tx pgx.Tx, a Attachment, w, h *int) error {
	if _, err := tx.Exec(ctx, `INSERT INTO blobs (sha256, size, content_type, width, height) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (sha256) DO NOTHING`, a.SHA256, a.Size, a.ContentType, w, h); err != nil {
		return fmt.Errorf("attachment: blob: %w", err)
	}
	return nil
}

// insertVersion records a version and queues the text extraction of its content in the same
// transaction, so a committed upload always has its extraction job. The job is inserted after
// the version row: under the application role an extractions row must be visible to the
// uploader (through a version of an attachment it may read) for ON CONFLICT to pass row-level
// security.
func insertVersion(ctx context.Context, tx pgx.Tx, id, version int64, sum, name string, uploader *int64) error {
	if _, err := tx.Exec(ctx, `INSERT INTO attachment_versions (attachment_id, version, blob_sha256, filename, uploader_id)
		VALUES ($1, $2, $3, $4, $5)`, id, version, sum, name, uploader); err != nil {
		return fmt.Errorf("attachment %d: record version %d: %w", id, version, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO extractions (blob_sha256) VALUES ($1) ON CONFLICT (blob_sha256) DO NOTHING`, sum); err != nil {
		return fmt.Errorf("attachment: queue extraction: %w", err)
	}
	return nil
}

// Version is one stored version of an attachment.
type Version struct {
	Version       int64
	Filename      string
	ContentType   string
	Size          int64
	SHA256        string
	UploaderName  string
	CreatedAt     time.Time
	ExtractState  string
	ExtractReason string
	Current       bool
}

// HumanSize formats the size for the page.
func (v Version) HumanSize() string { return HumanSize(v.Size) }

// NewVersion uploads a new version of an attachment: the file is checked like any upload, the
// attachment row points to the new content and the old versions stay (attachment_versions is
// append-only). The submission gets a new version and an outbox row, the new content an
// extraction job; audited. The staged file is discarded on every path.
func (s *Service) NewVersion(ctx context.Context, sub access.Subject, id int64, filename string, file *Staged, clientIP string) (Attachment, error) {
	defer file.Discard()
	if file == nil {
		return Attachment{}, fieldError("file", "请选择要上传的文件（"+AllowedNames()+"）")
	}
	name := SafeName(filename)
	kind, info, err := s.check(file, filename)
	if err != nil {
		return Attachment{}, err
	}
	cur, err := s.Get(ctx, sub, id)
	if err != nil {
		return Attachment{}, err
	}
	if cur.SHA256 == file.SHA256 {
		return Attachment{}, fieldError("file", "上传的文件与当前版本内容完全相同")
	}
	var out Attachment
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		t, err := targetOf(ctx, tx, sub, cur.SubmissionID)
		if err != nil {
			return err
		}
		var w, h *int
		if info.Width > 0 {
			w, h = &info.Width, &info.Height
		}
		blob := Attachment{SHA256: file.SHA256, Size: file.Size, ContentType: kind.MIME}
		if err := insertBlob(ctx, tx, blob, w, h); err != nil {
			return err
		}
		var uploader *int64
		if sub.UserID != 0 {
			uploader = &sub.UserID
		}
		var version int64
		// The row lock orders concurrent new versions of one attachment.
		if err := tx.QueryRow(ctx, `UPDATE attachments SET blob_sha256 = $2, filename = $3, uploader_id = $4, version = version + 1
			WHERE id = $1 AND archived_at IS NULL RETURNING version`, id, file.SHA256, name, uploader).Scan(&version); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("attachment %d: %w", id, store.ErrNotFound)
			}
			return fmt.Errorf("attachment %d: new version: %w", id, err)
		}
		if err := insertVersion(ctx, tx, id, version, file.SHA256, name, uploader); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET version = version + 1, updated_at = now() WHERE id = $1`, cur.SubmissionID); err != nil {
			return fmt.Errorf("attachment: bump submission version: %w", err)
		}
		if err := outbox.Enqueue(ctx, tx, submission.Entity, cur.SubmissionID); err != nil {
			return err
		}
		lv := int(t.level)
		if err := audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: ActionVersion, Object: "attachment:" + strconv.FormatInt(id, 10), Label: &lv,
			Detail: fmt.Sprintf("submission=%d version=%d sha256=%s size=%d type=%s", cur.SubmissionID, version, file.SHA256, file.Size, kind.MIME)}); err != nil {
			return err
		}
		return s.promote(file)
	})
	if err != nil {
		return Attachment{}, err
	}
	out, err = s.Get(ctx, sub, id)
	return out, err
}

// Versions lists every version of an attachment the subject may read, newest first.
func (s *Service) Versions(ctx context.Context, sub access.Subject, id int64) ([]Version, error) {
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("attachment %d: versions: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, `SELECT v.version, v.filename, b.content_type, b.size, b.sha256,
			COALESCE(NULLIF(u.display_name, ''), u.username, ''), v.created_at, COALESCE(e.state, 'pending'), COALESCE(e.reason, '')
		FROM attachment_versions v JOIN blobs b ON b.sha256 = v.blob_sha256
		LEFT JOIN extractions e ON e.blob_sha256 = v.blob_sha256
		LEFT JOIN users u ON u.id = v.uploader_id
		WHERE v.attachment_id = $1 ORDER BY v.version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("attachment %d: versions: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Version, error) {
		var v Version
		err := r.Scan(&v.Version, &v.Filename, &v.ContentType, &v.Size, &v.SHA256, &v.UploaderName, &v.CreatedAt, &v.ExtractState, &v.ExtractReason)
		v.Current = v.Version == a.Version
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("attachment %d: versions: %w", id, err)
	}
	return out, nil
}

// OpenVersion returns the bytes of one version after writing the audit row (fail closed).
func (s *Service) OpenVersion(ctx context.Context, sub access.Subject, id, version int64, clientIP string) (Attachment, Version, *os.File, error) {
	vs, err := s.Versions(ctx, sub, id)
	if err != nil {
		return Attachment{}, Version{}, nil, err
	}
	var v Version
	for _, x := range vs {
		if x.Version == version {
			v = x
		}
	}
	if v.Version == 0 {
		return Attachment{}, Version{}, nil, fmt.Errorf("attachment %d version %d: %w", id, version, store.ErrNotFound)
	}
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return a, v, nil, err
	}
	f, err := os.Open(s.BlobPath(v.SHA256)) // #nosec G304 -- built from the stored hex digest
	if err != nil {
		return a, v, nil, fmt.Errorf("attachment %d version %d: blob: %w", id, version, err)
	}
	lv := int(a.Classification)
	detail := fmt.Sprintf("submission=%d version=%d", a.SubmissionID, version)
	if len(a.LabelCategories) > 0 {
		detail += " label=" + label.Label{Level: a.Classification, Categories: a.LabelCategories}.String()
	}
	if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: ActionDownload, Object: "attachment:" + strconv.FormatInt(id, 10), Label: &lv, Detail: detail}); err != nil {
		_ = f.Close()
		return a, v, nil, err
	}
	return a, v, f, nil
}

// ExtractStateName is the zh-CN name of the version's extraction state.
func (v Version) ExtractStateName() string { return StateName(v.ExtractState) }
