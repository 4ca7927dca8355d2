// Package attachment stores files attached to submissions (附件): images with captions for the
// intake (issue 5) and, later, documents (issue 11).
//
// Bytes are content-addressed: a file is written once under the data directory as
// blobs/ab/cd/<sha256> however often it is uploaded, through a temporary file that is fsync'd
// and renamed into place (atomic), and the directory is fsync'd after. The client's file name is
// sanitized for display (SafeName) and never used as a path.
//
// An upload is refused before anything is stored when it is too large (the reader is cut at
// MaxBytes+1), when its content is not on the allow-list (Kinds; detected from the bytes, not the
// name or the client's Content-Type), when its extension disagrees with the content, when it is
// truncated or malformed, or when its caption is missing or is a file name. The temporary file is
// deleted on every path.
//
// An attachment inherits its submission's label: reading one requires reading the submission
// (access.Predicate, and row-level security on attachments as a second line); only the
// submission's own unit (its reporters and unit approvers) may attach. Every upload and download
// is audited; an upload writes an outbox row for its submission in the same transaction.
package attachment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/outbox"
	"infowork/store"
	"infowork/submission"
)

// DefaultMaxBytes is the default size limit of one image: 1 MiB, the gov intake rule for
// images (reference A2: jpg/jpeg/png/gif, at most 1 MB per image).
const DefaultMaxBytes = 1 << 20

// DefaultMaxDocumentBytes is the default size limit of one document (PDF, Office, text): 20 MiB.
const DefaultMaxDocumentBytes = 20 << 20

// Options configure the service.
type Options struct {
	DataDir          string // blobs live under DataDir/blobs
	MaxBytes         int64  // largest accepted image; default DefaultMaxBytes
	MaxDocumentBytes int64  // largest accepted document; default DefaultMaxDocumentBytes (at least MaxBytes)
	MaxPixels        int64  // largest width × height of an image; default MaxPixels
	// Extractor renders page previews (and is the default of WorkerOptions.Extractor); nil:
	// no page previews.
	Extractor Extractor
	Logger    *slog.Logger
}

// Service stores and serves attachments.
type Service struct {
	db        *pgxpool.Pool
	dir       string // blobs root
	tmp       string // staging directory, inside the blobs root (same file system: rename is atomic)
	maxBytes  int64
	maxDoc    int64
	maxPixels int64
	ext       Extractor
	log       *slog.Logger
}

// New prepares the blob directories and removes staging files a crash left behind.
func New(db *pgxpool.Pool, o Options) (*Service, error) {
	if db == nil || o.DataDir == "" {
		return nil, errors.New("attachment: DB and DataDir are required")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDocumentBytes <= 0 {
		o.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	o.MaxDocumentBytes = max(o.MaxDocumentBytes, o.MaxBytes)
	if o.MaxPixels <= 0 {
		o.MaxPixels = MaxPixels
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{db: db, dir: filepath.Join(o.DataDir, "blobs"), maxBytes: o.MaxBytes, maxDoc: o.MaxDocumentBytes, maxPixels: o.MaxPixels, ext: o.Extractor,
		log: o.Logger.With("component", "attachment")}
	s.tmp = filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("attachment: %w", err)
	}
	if left, err := filepath.Glob(filepath.Join(s.tmp, "upload-*")); err == nil {
		for _, p := range left {
			_ = os.Remove(p)
		}
	}
	return s, nil
}

// MaxBytes is the largest accepted image.
func (s *Service) MaxBytes() int64 { return s.maxBytes }

// MaxDocumentBytes is the largest accepted document, and so the largest accepted file.
func (s *Service) MaxDocumentBytes() int64 { return s.maxDoc }

// BlobDir is the root of the blob store.
func (s *Service) BlobDir() string { return s.dir }

// BlobPath is where the blob with the given hex SHA-256 lives.
func (s *Service) BlobPath(sum string) string {
	return filepath.Join(s.dir, sum[0:2], sum[2:4], sum)
}

// HumanSize formats a byte count for zh-CN messages ("1 MB", "350 KB").
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+512)>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " 字节"
}

// Staged is an upload written to a temporary file and hashed, not yet stored.
type Staged struct {
	f      *os.File
	path   string
	Size   int64
	SHA256 string
}

// Stage streams r into a temporary file while hashing it. It reads at most MaxDocumentBytes+1
// bytes: a longer stream is refused with ErrTooLarge without reading the rest, and the temporary
// file is removed (images are held to MaxBytes once their type is known). The caller must
// Discard the result (Create does).
func (s *Service) Stage(r io.Reader) (*Staged, error) {
	f, err := os.CreateTemp(s.tmp, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("attachment: stage: %w", err)
	}
	st := &Staged{f: f, path: f.Name()}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, s.maxDoc+1))
	switch {
	case err != nil:
		st.Discard()
		return nil, fmt.Errorf("attachment: stage: %w", err)
	case n > s.maxDoc:
		st.Discard()
		return nil, refuse(ErrTooLarge, "文件超过 %s 的上限，请压缩或拆分后再上传", HumanSize(s.maxDoc))
	case n == 0:
		st.Discard()
		return nil, &ValidationError{Fields: map[string]string{"file": "文件是空的"}}
	}
	if err := f.Sync(); err != nil {
		st.Discard()
		return nil, fmt.Errorf("attachment: stage: %w", err)
	}
	st.Size, st.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return st, nil
}

// Discard closes and removes the temporary file (a no-op once it was moved into the store).
func (st *Staged) Discard() {
	if st == nil {
		return
	}
	if st.f != nil {
		_ = st.f.Close()
		st.f = nil
	}
	_ = os.Remove(st.path)
}

// promote moves a staged file to its content address. The same content already stored is kept
// (deduplication); otherwise the fsync'd temporary file is renamed into place and the directory
// fsync'd so the name survives a crash.
func (s *Service) promote(st *Staged) error {
	dst := s.BlobPath(st.SHA256)
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == st.Size {
		return nil
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("attachment: store blob: %w", err)
	}
	if err := st.f.Close(); err != nil {
		return fmt.Errorf("attachment: store blob: %w", err)
	}
	st.f = nil
	if err := os.Rename(st.path, dst); err != nil {
		return fmt.Errorf("attachment: store blob: %w", err)
	}
	for _, d := range []string{dir, filepath.Dir(dir), s.tmp} {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("attachment: store blob: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory inside the blob store, built from a hex digest
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Attachment is a stored attachment as a reader sees it.
type Attachment struct {
	ID           int64
	SubmissionID int64
	Filename     string // sanitized display name
	Caption      string
	ContentType  string // detected
	Size         int64
	SHA256       string
	Width        int // images; 0 otherwise
	Height       int
	UploaderID   int64
	UploaderName string
	CreatedAt    time.Time
	Version      int64
	// Text extraction of the current version (extraction.go): ExtractPending, ExtractRunning,
	// ExtractDone, ExtractUnreadable or ExtractFailed, and the reason of the last two.
	ExtractState  string
	ExtractReason string
	Pages         int    // pages, slides or sheets found by extraction (0 before)
	Method        string // extract.MethodText or extract.MethodOCR
	// The submission's label, which the attachment inherits.
	Classification  label.Level
	LabelCategories []string
}

// IsImage reports whether the attachment is an image (previewable inline).
func (a Attachment) IsImage() bool {
	k, ok := KindOf(a.ContentType)
	return ok && k.Image
}

// DownloadName is the name offered to the browser: the display name, with the canonical
// extension of the detected type when the name lacks it.
func (a Attachment) DownloadName() string {
	k, ok := KindOf(a.ContentType)
	if !ok {
		return a.Filename
	}
	_, ext := splitExt(a.Filename)
	for _, e := range k.Exts {
		if strings.EqualFold(e, ext) {
			return a.Filename
		}
	}
	return SafeName(a.Filename + k.Exts[0])
}

// HumanSize formats the size for the page.
func (a Attachment) HumanSize() string { return HumanSize(a.Size) }

// MayAttach reports whether the subject may attach files to a submission of unitCode: only the
// submission's own unit, through its reporters and unit approvers.
func MayAttach(sub access.Subject, unitCode string) bool {
	return sub.CanSubmit() && sub.UnitCode == unitCode
}

type target struct {
	unitCode   string
	level      label.Level
	categories []string
}

// target loads the submission an upload goes to, under the subject's read policy: a record the
// subject may not read does not exist (store.ErrNotFound, 404); one it may read but not attach
// to is forbidden (submission.ErrForbidden, 403).
func targetOf(ctx context.Context, q store.DB, sub access.Subject, submissionID int64) (target, error) {
	pred, args := access.Predicate(sub, "s", 2)
	var t target
	var cl int16
	err := q.QueryRow(ctx, `SELECT u.code, s.classification, s.label_categories FROM submissions s JOIN units u ON u.id = s.unit_id
		WHERE s.id = $1 AND s.archived_at IS NULL AND `+pred, append([]any{submissionID}, args...)...).Scan(&t.unitCode, &cl, &t.categories)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("attachment: submission %d: %w", submissionID, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("attachment: submission %d: %w", submissionID, err)
	}
	t.level = label.Level(cl)
	if !MayAttach(sub, t.unitCode) {
		return t, fmt.Errorf("attachment: submission %d: %w: only the submission's unit may attach files", submissionID, submission.ErrForbidden)
	}
	return t, nil
}

// CheckUpload tells, before the request body is read, whether the subject may attach to the
// submission (store.ErrNotFound or submission.ErrForbidden otherwise).
func (s *Service) CheckUpload(ctx context.Context, sub access.Subject, submissionID int64) error {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return fmt.Errorf("attachment: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	_, err = targetOf(ctx, tx, sub, submissionID)
	return err
}

// NewAttachment is one upload.
type NewAttachment struct {
	SubmissionID int64
	Filename     string // as the client sent it; sanitized here
	Caption      string
	File         *Staged // nil: no file was sent
}

// Create checks and stores an upload in one transaction: the blob row (once per content), the
// attachment row, a new version of the submission with its outbox row, and the audit row. The
// blob file is moved into place before the commit, so a committed row always has its bytes (a
// failed commit can leave an unreferenced blob, which a later upload of the same content reuses).
// The staged file is discarded on every path.
func (s *Service) Create(ctx context.Context, sub access.Subject, in NewAttachment, clientIP string) (Attachment, error) {
	defer in.File.Discard()
	if in.File == nil {
		return Attachment{}, fieldError("file", "请选择要上传的文件（"+AllowedNames()+"，不超过 "+HumanSize(s.maxBytes)+"）")
	}
	name := SafeName(in.Filename)
	caption := NormalizeCaption(in.Caption)
	if err := CheckCaption(caption, in.Filename); err != nil {
		return Attachment{}, err
	}
	kind, info, err := s.check(in.File, in.Filename)
	if err != nil {
		return Attachment{}, err
	}
	out := Attachment{SubmissionID: in.SubmissionID, Filename: name, Caption: caption, ContentType: kind.MIME, Size: in.File.Size,
		SHA256: in.File.SHA256, Width: info.Width, Height: info.Height, UploaderID: sub.UserID, UploaderName: sub.Username, Version: 1}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetLocal(ctx, tx, sub); err != nil {
			return err
		}
		t, err := targetOf(ctx, tx, sub, in.SubmissionID)
		if err != nil {
			return err
		}
		out.Classification, out.LabelCategories = t.level, t.categories
		var w, h *int
		if info.Width > 0 {
			w, h = &info.Width, &info.Height
		}
		if err := insertBlob(ctx, tx, out, w, h); err != nil {
			return err
		}
		var uploader *int64
		if sub.UserID != 0 {
			uploader = &sub.UserID
		}
		if err := tx.QueryRow(ctx, `INSERT INTO attachments (submission_id, blob_sha256, filename, caption, uploader_id)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`, in.SubmissionID, out.SHA256, name, caption, uploader).
			Scan(&out.ID, &out.CreatedAt); err != nil {
			return fmt.Errorf("attachment: insert: %w", err)
		}
		if err := insertVersion(ctx, tx, out.ID, 1, out.SHA256, name, uploader); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT state, COALESCE(reason, ''), COALESCE(pages, 0), COALESCE(method, '') FROM extractions WHERE blob_sha256 = $1`,
			out.SHA256).Scan(&out.ExtractState, &out.ExtractReason, &out.Pages, &out.Method); err != nil {
			return fmt.Errorf("attachment: read extraction: %w", err)
		}
		// A new attachment is a change of the report: a new version (the engines' external
		// version and the editors' concurrency token) and an outbox row, so the indexer re-reads it.
		if _, err := tx.Exec(ctx, `UPDATE submissions SET version = version + 1, updated_at = now() WHERE id = $1`, in.SubmissionID); err != nil {
			return fmt.Errorf("attachment: bump submission version: %w", err)
		}
		if err := outbox.Enqueue(ctx, tx, submission.Entity, in.SubmissionID); err != nil {
			return err
		}
		lv := int(t.level)
		detail := fmt.Sprintf("submission=%d sha256=%s size=%d type=%s", in.SubmissionID, out.SHA256, out.Size, out.ContentType)
		if len(t.categories) > 0 {
			detail += " label=" + label.Label{Level: t.level, Categories: t.categories}.String()
		}
		if err := audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "attachment.upload", Object: "attachment:" + strconv.FormatInt(out.ID, 10), Label: &lv, Detail: detail}); err != nil {
			return err
		}
		return s.promote(in.File)
	})
	if err != nil {
		return Attachment{}, err
	}
	return out, nil
}

// check detects the type from the content, compares the extension, checks the structure and
// applies the size limit of the kind.
func (s *Service) check(st *Staged, filename string) (Kind, Info, error) {
	head := make([]byte, 512)
	n, err := st.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Kind{}, Info{}, fmt.Errorf("attachment: read staged file: %w", err)
	}
	// An image over the image limit is refused as too large before its structure is read.
	if k, err := Detect(head[:n]); err == nil && k.Image && st.Size > s.maxBytes {
		return Kind{}, Info{}, refuse(ErrTooLarge, "图片超过 %s 的上限，请压缩或缩小后再上传", HumanSize(s.maxBytes))
	}
	if _, err := st.f.Seek(0, io.SeekStart); err != nil {
		return Kind{}, Info{}, fmt.Errorf("attachment: read staged file: %w", err)
	}
	return Check(st.f, st.Size, filename, s.maxPixels)
}

const selectAttachment = `SELECT a.id, a.submission_id, a.filename, a.caption, b.content_type, b.size, b.sha256,
	COALESCE(b.width, 0), COALESCE(b.height, 0), COALESCE(a.uploader_id, 0),
	COALESCE(NULLIF(u.display_name, ''), u.username, ''), a.created_at, a.version, s.classification, s.label_categories,
	COALESCE(e.state, 'pending'), COALESCE(e.reason, ''), COALESCE(e.pages, 0), COALESCE(e.method, '')
	FROM attachments a
	JOIN submissions s ON s.id = a.submission_id
	JOIN blobs b ON b.sha256 = a.blob_sha256
	LEFT JOIN extractions e ON e.blob_sha256 = a.blob_sha256
	LEFT JOIN users u ON u.id = a.uploader_id`

func scanAttachment(r pgx.CollectableRow) (Attachment, error) {
	var a Attachment
	var cl int16
	err := r.Scan(&a.ID, &a.SubmissionID, &a.Filename, &a.Caption, &a.ContentType, &a.Size, &a.SHA256, &a.Width, &a.Height,
		&a.UploaderID, &a.UploaderName, &a.CreatedAt, &a.Version, &cl, &a.LabelCategories,
		&a.ExtractState, &a.ExtractReason, &a.Pages, &a.Method)
	a.Classification = label.Level(cl)
	return a, err
}

// List returns the current attachments of a submission the subject may read, oldest first
// (none when it may not read the submission).
func (s *Service) List(ctx context.Context, sub access.Subject, submissionID int64) ([]Attachment, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("attachment: list: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	rows, err := tx.Query(ctx, selectAttachment+` WHERE a.submission_id = $1 AND a.archived_at IS NULL AND s.archived_at IS NULL AND `+pred+
		` ORDER BY a.id`, append([]any{submissionID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("attachment: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAttachment)
	if err != nil {
		return nil, fmt.Errorf("attachment: list: %w", err)
	}
	return out, nil
}

// Get returns one attachment if the subject may read its submission, else store.ErrNotFound.
func (s *Service) Get(ctx context.Context, sub access.Subject, id int64) (Attachment, error) {
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	pred, args := access.Predicate(sub, "s", 2)
	rows, err := tx.Query(ctx, selectAttachment+` WHERE a.id = $1 AND a.archived_at IS NULL AND s.archived_at IS NULL AND `+pred,
		append([]any{id}, args...)...)
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAttachment)
	if errors.Is(err, pgx.ErrNoRows) {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %d: %w", id, err)
	}
	return a, nil
}

// Audit actions of reads.
const (
	ActionDownload = "attachment.download"
	ActionPreview  = "attachment.preview"
)

// Open returns an attachment the subject may read and its bytes, after writing the audit row
// (fail closed: no audit, no bytes). action is ActionDownload or ActionPreview (images only;
// other types have no preview and answer store.ErrNotFound). The caller closes the file.
func (s *Service) Open(ctx context.Context, sub access.Subject, id int64, clientIP, action string) (Attachment, *os.File, error) {
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return a, nil, err
	}
	if action == ActionPreview && !a.IsImage() {
		return a, nil, fmt.Errorf("attachment %d: no preview for %s: %w", id, a.ContentType, store.ErrNotFound)
	}
	f, err := os.Open(s.BlobPath(a.SHA256)) // #nosec G304 -- the path is built from the stored hex digest, never from client input
	if err != nil {
		return a, nil, fmt.Errorf("attachment %d: blob %s: %w", id, a.SHA256, err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != a.Size {
		_ = f.Close()
		return a, nil, fmt.Errorf("attachment %d: blob %s has the wrong size", id, a.SHA256)
	}
	lv := int(a.Classification)
	detail := "submission=" + strconv.FormatInt(a.SubmissionID, 10)
	if len(a.LabelCategories) > 0 {
		detail += " label=" + label.Label{Level: a.Classification, Categories: a.LabelCategories}.String()
	}
	if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: action, Object: "attachment:" + strconv.FormatInt(id, 10), Label: &lv, Detail: detail}); err != nil {
		_ = f.Close()
		return a, nil, err
	}
	return a, f, nil
}

// Logger is the service's logger (for components built on it).
func (s *Service) Logger() *slog.Logger { return s.log }

// HasPages reports whether the attachment is previewed as page images (PDFs and images).
func (a Attachment) HasPages() bool {
	k, ok := KindOf(a.ContentType)
	return ok && k.Pages
}

// KindName is the zh-CN name of the detected type ("Word 文档").
func (a Attachment) KindName() string {
	if k, ok := KindOf(a.ContentType); ok {
		return k.Name
	}
	return a.ContentType
}

// ExtractStateName is the zh-CN name of the extraction state.
func (a Attachment) ExtractStateName() string { return StateName(a.ExtractState) }
