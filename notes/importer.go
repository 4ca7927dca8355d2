package notes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/attachment"
	"infowork/audit"
	"infowork/submission"
)

// Outcomes of importing one document.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged" // same UNID and sequence, same content: a re-import is a no-op
	Stale     = "stale"     // an older sequence than the stored one: never overwrites
	Conflict  = "conflict"  // changed on both sides, or same sequence with other content
	Skipped   = "skipped"
)

// Options configure an Importer.
type Options struct {
	DB *pgxpool.Pool
	// DataDir holds the blob store (DataDir/blobs, shared with package attachment).
	DataDir string
	Mapping *Mapping
	Logger  *slog.Logger
	// Progress receives a line now and then while a file is read (nil: none).
	Progress io.Writer
	// AfterDocument, when set, runs after each document is committed; an error stops the import
	// there (tests use it to simulate a crash).
	AfterDocument func(unid string) error
}

// Importer writes Notes documents into infowork.
type Importer struct {
	db      *pgxpool.Pool
	blobs   *attachment.Service
	mapping *Mapping
	log     *slog.Logger
	opts    Options
}

// NewImporter checks the options and prepares the blob store.
func NewImporter(o Options) (*Importer, error) {
	if o.DB == nil {
		return nil, errors.New("notes: Options.DB is required")
	}
	if o.DataDir == "" {
		return nil, errors.New("notes: Options.DataDir is required")
	}
	if o.Mapping == nil {
		o.Mapping = DefaultMapping()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	blobs, err := attachment.New(o.DB, attachment.Options{DataDir: o.DataDir, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	return &Importer{db: o.DB, blobs: blobs, mapping: o.Mapping, log: o.Logger.With("component", "notes"), opts: o}, nil
}

// Import reads a DXL file, or every .xml/.dxl file under a directory (in name order), imports
// every document and verifies the result. The report is complete even when err is not nil.
func (im *Importer) Import(ctx context.Context, path string) (*Report, error) {
	rep := NewReport("import")
	if err := im.checkDefaultUnit(ctx); err != nil {
		return rep, err
	}
	files, err := dxlFiles(path)
	if err != nil {
		return rep, err
	}
	if len(files) == 0 {
		return rep, fmt.Errorf("notes: no .xml or .dxl file in %s", path)
	}
	var runErr error
	for _, f := range files {
		if err := im.ImportFile(ctx, f, rep); err != nil {
			runErr = err
			break
		}
	}
	if err := im.Verify(ctx, rep); err != nil && runErr == nil {
		runErr = err
	}
	rep.Finish()
	if err := im.saveRun(context.WithoutCancel(ctx), rep); err != nil && runErr == nil {
		runErr = err
	}
	return rep, runErr
}

// checkDefaultUnit refuses to start when the mapping's default unit does not exist, before
// anything is written.
func (im *Importer) checkDefaultUnit(ctx context.Context) error {
	var ok bool
	if err := im.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)`, im.mapping.DefaultUnit).Scan(&ok); err != nil {
		return fmt.Errorf("notes: %w", err)
	}
	if !ok {
		return fmt.Errorf("notes: the default unit %q does not exist (create it with 'infowork unit create --code %s --name …' or set default_unit in the mapping file)",
			im.mapping.DefaultUnit, im.mapping.DefaultUnit)
	}
	return nil
}

func dxlFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); !e.IsDir() && (ext == ".xml" || ext == ".dxl") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// ImportFile imports one DXL file into rep (without verifying).
func (im *Importer) ImportFile(ctx context.Context, path string, rep *Report) error {
	f, err := os.Open(path) // #nosec G304 -- operator-supplied export file
	if err != nil {
		return fmt.Errorf("notes: %w", err)
	}
	defer f.Close()
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	rep.Files = append(rep.Files, path)
	return im.ImportReader(ctx, path, f, size, rep)
}

// ImportReader imports a DXL stream named name (size bytes, 0 if unknown) into rep.
func (im *Importer) ImportReader(ctx context.Context, name string, r io.Reader, size int64, rep *Report) error {
	var db DatabaseInfo
	var acl *ACL
	aclLoaded := false
	last := time.Now()
	docs := 0
	var batch []pending
	batchSize := 0
	h := Handler{
		Database: func(info DatabaseInfo) error {
			db = info
			return nil
		},
		ACL: func(a ACL) error {
			a.From = db.ReplicaID
			if a.From == "" {
				a.From = "path:" + db.Path
			}
			acl = &a
			aclLoaded = true
			return im.saveDatabase(ctx, a.From, db, &a)
		},
		Design: func(kind string) error {
			rep.design(kind)
			return nil
		},
		Progress: func(off int64) {
			if im.opts.Progress != nil && time.Since(last) > time.Second {
				last = time.Now()
				if size > 0 {
					fmt.Fprintf(im.opts.Progress, "%s: %d 个文档，%.1f%%\n", filepath.Base(name), docs, 100*float64(off)/float64(size))
				} else {
					fmt.Fprintf(im.opts.Progress, "%s: %d 个文档\n", filepath.Base(name), docs)
				}
			}
		},
		Document: func(d *Document) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			docs++
			if !aclLoaded {
				replica := db.ReplicaID
				if replica == "" {
					replica = d.Info.Attrs["replicaid"]
				}
				// The ACL of this replica from an earlier export; a file that names no replica
				// gets none (no guessing across databases).
				if replica != "" {
					a, err := im.loadACL(ctx, replica)
					if err != nil {
						return err
					}
					acl = a
				}
				aclLoaded = true
			}
			if db.ReplicaID == "" {
				db.ReplicaID = d.Info.Attrs["replicaid"]
			}
			batch = append(batch, pending{db: db, acl: acl, d: d})
			batchSize += len(d.Raw)
			if len(batch) >= batchDocs || batchSize >= batchBytes {
				err := im.flush(ctx, batch, rep)
				batch, batchSize = batch[:0], 0
				return err
			}
			return nil
		},
	}
	err := Parse(r, h)
	if err == nil {
		err = im.flush(ctx, batch, rep)
	}
	if err != nil {
		return fmt.Errorf("notes: %s: %w", name, err)
	}
	if im.opts.Progress != nil {
		fmt.Fprintf(im.opts.Progress, "%s: %d 个文档，完成\n", filepath.Base(name), docs)
	}
	return nil
}

func (im *Importer) saveDatabase(ctx context.Context, key string, db DatabaseInfo, acl *ACL) error {
	b, err := json.Marshal(acl)
	if err != nil {
		return err
	}
	_, err = im.db.Exec(ctx, `INSERT INTO notes_databases (replica_id, path, title, acl) VALUES ($1, $2, $3, $4)
		ON CONFLICT (replica_id) DO UPDATE SET path = EXCLUDED.path, title = EXCLUDED.title, acl = EXCLUDED.acl, updated_at = now()`,
		key, db.Path, db.Title, b)
	if err != nil {
		return fmt.Errorf("notes: save database %s: %w", key, err)
	}
	return nil
}

// loadACL returns the stored ACL of a database (by replica id or path; with neither, the only
// database known), or nil when none is known.
func (im *Importer) loadACL(ctx context.Context, replica string) (*ACL, error) {
	var raw []byte
	var key string
	var err error
	if replica != "" {
		err = im.db.QueryRow(ctx, `SELECT replica_id, acl FROM notes_databases WHERE replica_id = $1 OR path = $1
			ORDER BY replica_id = $1 DESC LIMIT 1`, replica).Scan(&key, &raw)
	} else {
		err = im.db.QueryRow(ctx, `SELECT replica_id, acl FROM notes_databases WHERE (SELECT count(*) FROM notes_databases) = 1`).Scan(&key, &raw)
	}
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && raw == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notes: load ACL: %w", err)
	}
	var a ACL
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("notes: load ACL: %w", err)
	}
	a.From = key
	return &a, nil
}

type stored struct {
	sequence          int64
	modified          string
	hash              string
	submissionID      int64
	submissionVersion int64
	currentVersion    int64
	recordHash        string
	archived          bool
}

// newer reports whether incoming d is a later version than the stored one: by sequence number
// when both have one (DXL), else by the modification time (DAS answers carry no sequence).
func newer(d *Document, s stored) (bool, bool) {
	if d.Sequence > 0 && s.sequence > 0 {
		return d.Sequence > s.sequence, d.Sequence == s.sequence
	}
	dm, ok1 := ParseTime(d.Info.NoteInfo["modified"])
	sm, ok2 := ParseTime(s.modified)
	if ok1 && ok2 {
		return dm.After(sm), dm.Equal(sm)
	}
	return d.Sequence > s.sequence, d.Sequence == s.sequence
}

// recordHash identifies what a document maps to (fields, readers), so a changed mapping or ACL
// re-derives records whose documents did not change.
func recordHash(r submission.LegacyRecord) string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ImportDocument writes one document in one transaction: blobs first (content-addressed, so a
// crash leaves at most unreferenced files), then the record, its attachments, its Notes items
// and its outbox row. It returns the outcome and records it in rep.
func (im *Importer) ImportDocument(ctx context.Context, db DatabaseInfo, acl *ACL, d *Document, rep *Report) (string, error) {
	source, rawType := "dxl", "application/xml"
	if d.Source == "das" {
		source, rawType = "das", "application/json"
	}
	fs := rep.form(d.Form)
	fs.Docs++
	fs.Items += len(d.Items)
	srcHash := CanonicalHash(d)
	rep.seen(d, srcHash)
	if d.Synthetic {
		rep.explain(d.UNID, "该文档导出时没有 noteinfo（UNID）：以其 DXL 的 SHA-256 作为标识")
	}
	if d.InvalidBytes > 0 {
		fs.Skipped++
		rep.skip(d, fmt.Sprintf("导出文件含 %d 个无法按声明编码解码的字节（已拒绝，未导入；请检查导出编码）", d.InvalidBytes))
		rep.outcome(Skipped)
		return Skipped, nil
	}
	rawSHA := d.rawSHA
	if rawSHA == "" { // not prepared by a batch: write and fsync now
		var err error
		if rawSHA, err = im.writeBlobs(d, true); err != nil {
			return "", err
		}
	}
	rec := im.mapping.Map(d)
	rd := ComputeReaders(acl, d, im.mapping)
	outcome := ""
	rederived := false
	unitFallback := ""
	err := pgx.BeginFunc(ctx, im.db, func(tx pgx.Tx) error {
		outcome, rederived, unitFallback = "", false, ""
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		var s stored
		err := tx.QueryRow(ctx, `SELECT n.sequence, n.modified, n.canonical_hash, n.submission_id, n.submission_version, s.version,
				n.record_hash, s.archived_at IS NOT NULL
			FROM notes_documents n JOIN submissions s ON s.id = n.submission_id WHERE n.unid = $1 FOR UPDATE OF n`, d.UNID).
			Scan(&s.sequence, &s.modified, &s.hash, &s.submissionID, &s.submissionVersion, &s.currentVersion, &s.recordHash, &s.archived)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("notes: %s: %w", d.UNID, err)
		}
		unit := rec.UnitCode
		if unit != "" {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)`, unit).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				unitFallback = unit
				unit = ""
			}
		}
		if unit == "" {
			unit = im.mapping.DefaultUnit
		}
		lr := submission.LegacyRecord{Source: "notes", SourceRef: d.UNID, UnitCode: unit, Title: rec.Title,
			BodyHTML: rec.BodyHTML, CategoryCode: rec.CategoryCode, Urgency: rec.Urgency, Classification: rec.Classification,
			Readers: rd.Principals, WriterName: rec.WriterName, ReportedAt: rec.ReportedAt}
		recHash := recordHash(lr)
		if exists {
			later, same := newer(d, s)
			switch {
			case same && s.hash == srcHash && (s.archived || s.recordHash == recHash):
				outcome = Unchanged
				return nil
			case same && s.hash == srcHash && s.currentVersion != s.submissionVersion:
				outcome = Conflict
				return im.conflictIncoming(ctx, tx, d, s, "both_changed",
					fmt.Sprintf("the mapping or the ACL gives record %d other fields or readers, and infowork changed it since the import", s.submissionID), lr, rawSHA)
			case same && s.hash == srcHash:
				// The document did not change but what it maps to did (a newer ACL, names or
				// fields added to the mapping): the record is derived again.
				rederived = true
			case same:
				outcome = Conflict
				return im.conflictIncoming(ctx, tx, d, s, "same_sequence_differs", "same sequence, different content", lr, rawSHA)
			case !later:
				outcome = Stale
				return nil
			case s.currentVersion != s.submissionVersion:
				outcome = Conflict
				return im.conflictIncoming(ctx, tx, d, s, "both_changed",
					fmt.Sprintf("infowork record %d changed (version %d → %d) since the last import", s.submissionID, s.submissionVersion, s.currentVersion), lr, rawSHA)
			}
		}
		id, version, err := submission.SaveLegacyTx(ctx, tx, s.submissionID, lr)
		if errors.Is(err, submission.ErrUnknownUnit) {
			return fmt.Errorf("notes: the default unit %q does not exist (create it with 'infowork unit create --code %s --name …' or set default_unit in the mapping file)", unit, unit)
		}
		if err != nil {
			return err
		}
		body, err := im.files(ctx, tx, d, id, rec.BodyHTML)
		if err != nil {
			return err
		}
		if body != rec.BodyHTML {
			if err := submission.SetLegacyBodyTx(ctx, tx, id, body); err != nil {
				return err
			}
		}
		if err := im.blobRow(ctx, tx, rawSHA, int64(len(d.Raw)), rawType); err != nil {
			return err
		}
		items, _ := json.Marshal(d.Items)
		if d.Items == nil {
			items = []byte("[]")
		}
		info, _ := json.Marshal(d.Info)
		_, err = tx.Exec(ctx, `INSERT INTO notes_documents (unid, unid_synthetic, replica_id, database_path, form, note_class,
				sequence, modified, parent_unid, conflict, review_needed, items, noteinfo, dxl_sha256, canonical_hash, source,
				submission_id, submission_version, acl_from, record_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT (unid) DO UPDATE SET replica_id = EXCLUDED.replica_id, database_path = EXCLUDED.database_path,
				form = EXCLUDED.form, sequence = EXCLUDED.sequence, modified = EXCLUDED.modified,
				parent_unid = EXCLUDED.parent_unid, conflict = EXCLUDED.conflict,
				review_needed = notes_documents.review_needed OR EXCLUDED.review_needed, items = EXCLUDED.items,
				noteinfo = EXCLUDED.noteinfo, dxl_sha256 = EXCLUDED.dxl_sha256, canonical_hash = EXCLUDED.canonical_hash,
				source = EXCLUDED.source, submission_version = EXCLUDED.submission_version, acl_from = EXCLUDED.acl_from,
				record_hash = EXCLUDED.record_hash, updated_at = now(), deleted_at = NULL`,
			d.UNID, d.Synthetic, db.ReplicaID, db.Path, d.Form, d.Class, d.Sequence, d.Info.NoteInfo["modified"], d.Parent,
			d.Conflict, items, info, rawSHA, srcHash, source, id, version, aclFrom(acl), recHash)
		if err != nil {
			return fmt.Errorf("notes: %s: save: %w", d.UNID, err)
		}
		if err := im.fileRows(ctx, tx, d); err != nil {
			return err
		}
		if exists {
			outcome = Updated
		} else {
			outcome = Created
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	rep.outcome(outcome)
	switch outcome {
	case Created:
		fs.Created++
	case Updated:
		fs.Updated++
	case Unchanged:
		fs.Unchanged++
	case Stale:
		fs.Stale++
		rep.explain(d.UNID, "库中已有更新的版本（sequence 更大），本次较旧的版本未覆盖")
	case Conflict:
		fs.Conflicts++
	}
	fs.Attachments += len(d.Files)
	for _, f := range d.Files {
		rep.Attachments = append(rep.Attachments, ReportFile{UNID: d.UNID, Kind: f.Kind, Name: f.Name, SHA256: f.SHA256, Size: f.Size})
	}
	for _, n := range rd.Unmapped {
		rep.unmapped(n)
	}
	if len(rd.Narrowed) > 0 {
		rep.explain(d.UNID, "读者权限中 "+strings.Join(rd.Narrowed, "、")+" 无法精确换算（组成员关系不在导出中，或 ACL 含个人“无权访问”条目）：未授予，比 Notes 更严格")
	}
	if _, ok := d.Item("$Seal"); ok {
		rep.explain(d.UNID, "文档已加密（$Seal）：导出时没有密钥，加密的域以原始数据保存，未解密，正文中没有这些内容")
	} else if _, ok := d.Item("$SealData"); ok {
		rep.explain(d.UNID, "文档已加密（$SealData）：导出时没有密钥，加密的域以原始数据保存，未解密，正文中没有这些内容")
	}
	if acl == nil {
		rep.explain(d.UNID, "数据库 ACL 未知（导出中没有，也没有该副本先前导入的 ACL）：读者只按文档的读者/作者域")
	}
	if rederived {
		rep.explain(d.UNID, "文档未变，映射文件或 ACL 有变：记录已按新规则重新生成")
	}
	if unitFallback != "" && (outcome == Created || outcome == Updated) {
		rep.explain(d.UNID, fmt.Sprintf("单位 %q 不存在，记入默认单位 %s", unitFallback, im.mapping.DefaultUnit))
	}
	if d.Conflict {
		rep.explain(d.UNID, "复制/保存冲突文档：作为关联版本导入（父文档 "+d.Parent+"），已标记待审核")
	}
	return outcome, nil
}

func capList(l []ReportEntry) []ReportEntry {
	if len(l) > runListLimit {
		return l[:runListLimit]
	}
	return l
}

func aclFrom(a *ACL) *string {
	if a == nil || a.From == "" {
		return nil
	}
	return &a.From
}

func (im *Importer) conflict(ctx context.Context, tx pgx.Tx, d *Document, s stored, kind, detail string) error {
	_, err := tx.Exec(ctx, `INSERT INTO notes_conflicts (unid, kind, notes_sequence, stored_sequence, detail)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (unid, kind, notes_sequence) DO NOTHING`, d.UNID, kind, d.Sequence, s.sequence, detail)
	if err != nil {
		return fmt.Errorf("notes: %s: record conflict: %w", d.UNID, err)
	}
	_, err = tx.Exec(ctx, `UPDATE notes_documents SET review_needed = true WHERE unid = $1`, d.UNID)
	return err
}

// files stores the document's attachments as attachments of the record (reusing rows whose
// content and name did not change, archiving the others) and returns body with the picture and
// attachment placeholders replaced by their URLs.
func (im *Importer) files(ctx context.Context, tx pgx.Tx, d *Document, submissionID int64, body string) (string, error) {
	type key struct{ sha, name string }
	existing := map[key]int64{}
	rows, err := tx.Query(ctx, `SELECT a.id, a.blob_sha256, f.name FROM notes_files f JOIN attachments a ON a.id = f.attachment_id
		WHERE f.unid = $1 AND a.archived_at IS NULL`, d.UNID)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var id int64
		var k key
		if err := rows.Scan(&id, &k.sha, &k.name); err != nil {
			rows.Close()
			return "", err
		}
		existing[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	keep := map[int64]bool{}
	ids := make([]*int64, len(d.Files))
	pictures := 0
	for i, f := range d.Files {
		if f.Size == 0 {
			continue // the blob store keeps no empty files; the item keeps name, size and hash
		}
		ct := contentType(f.Data)
		if err := im.blobRow(ctx, tx, f.SHA256, f.Size, ct); err != nil {
			return "", err
		}
		k := key{f.SHA256, f.Name}
		if id, ok := existing[k]; ok && !keep[id] {
			keep[id] = true
			ids[i] = &id
		} else {
			name := f.Name
			caption := "Notes 附件：" + f.Name
			if f.Kind == "picture" {
				pictures++
				name = fmt.Sprintf("picture-%d.%s", pictures, f.Name)
				caption = fmt.Sprintf("Notes 正文图片 %d", pictures)
			}
			var id int64
			err := tx.QueryRow(ctx, `INSERT INTO attachments (submission_id, blob_sha256, filename, caption)
				VALUES ($1, $2, $3, $4) RETURNING id`, submissionID, f.SHA256, attachment.SafeName(name),
				truncRunes(strings.TrimSpace(caption), 200)).Scan(&id)
			if err != nil {
				return "", fmt.Errorf("notes: %s: attachment %q: %w", d.UNID, f.Name, err)
			}
			keep[id] = true
			ids[i] = &id
		}
		if f.Kind == "picture" {
			body = strings.ReplaceAll(body, picturePrefix+f.SHA256, fmt.Sprintf("/attachments/%d/preview", *ids[i]))
		} else {
			body = strings.ReplaceAll(body, filePrefix+url.QueryEscape(f.Name), fmt.Sprintf("/attachments/%d", *ids[i]))
		}
	}
	for _, id := range existing {
		if !keep[id] {
			if _, err := tx.Exec(ctx, `UPDATE attachments SET archived_at = now(), version = version + 1 WHERE id = $1`, id); err != nil {
				return "", err
			}
		}
	}
	d.fileIDs = ids
	return body, nil
}

func (im *Importer) fileRows(ctx context.Context, tx pgx.Tx, d *Document) error {
	if _, err := tx.Exec(ctx, `DELETE FROM notes_files WHERE unid = $1 AND ordinal >= $2`, d.UNID, len(d.Files)); err != nil {
		return err
	}
	for i, f := range d.Files {
		var aid *int64
		if i < len(d.fileIDs) {
			aid = d.fileIDs[i]
		}
		_, err := tx.Exec(ctx, `INSERT INTO notes_files (unid, ordinal, kind, name, sha256, size, attachment_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (unid, ordinal) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, sha256 = EXCLUDED.sha256,
				size = EXCLUDED.size, attachment_id = EXCLUDED.attachment_id`, d.UNID, i, f.Kind, f.Name, f.SHA256, f.Size, aid)
		if err != nil {
			return fmt.Errorf("notes: %s: file %q: %w", d.UNID, f.Name, err)
		}
	}
	return nil
}

func contentType(data []byte) string {
	if k, err := attachment.Detect(data); err == nil {
		return k.MIME
	}
	ct := http.DetectContentType(data)
	if ct == "" {
		ct = "application/octet-stream"
	}
	return ct
}

func (im *Importer) blobRow(ctx context.Context, tx pgx.Tx, sha string, size int64, ct string) error {
	if size == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO blobs (sha256, size, content_type) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING`,
		sha, size, ct)
	if err != nil {
		return fmt.Errorf("notes: blob %s: %w", sha, err)
	}
	return nil
}

// writeBlob stores data at its content address (package attachment's layout) unless present:
// a temporary file in the store, fsync'd, renamed into place, directories fsync'd.
func (im *Importer) writeBlob(sha string, data []byte, sync bool) error {
	if len(data) == 0 {
		return nil
	}
	dst := im.blobs.BlobPath(sha)
	if fi, err := os.Stat(dst); err == nil && fi.Size() == int64(len(data)) {
		return nil
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("notes: store blob: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(im.blobs.BlobDir(), "tmp"), "notes-*")
	if err != nil {
		return fmt.Errorf("notes: store blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return fmt.Errorf("notes: store blob: %w", err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return fmt.Errorf("notes: store blob: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("notes: store blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("notes: store blob: %w", err)
	}
	if sync {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := syncDir(d); err != nil {
				return fmt.Errorf("notes: store blob: %w", err)
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir) // #nosec G304 -- a directory inside the blob store, named by a hex digest
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// writeBlobs stores the files and the original of d. With sync unset the caller makes them
// durable (syncBlobs) before committing rows that refer to them.
func (im *Importer) writeBlobs(d *Document, sync bool) (string, error) {
	for _, f := range d.Files {
		if err := im.writeBlob(f.SHA256, f.Data, sync); err != nil {
			return "", err
		}
	}
	rawSum := sha256.Sum256(d.Raw)
	rawSHA := hex.EncodeToString(rawSum[:])
	if err := im.writeBlob(rawSHA, d.Raw, sync); err != nil {
		return "", err
	}
	return rawSHA, nil
}

// pending is a parsed document waiting in a batch.
type pending struct {
	db  DatabaseInfo
	acl *ACL
	d   *Document
}

// Batches: blobs of up to batchDocs documents (or batchBytes of DXL) are written, made durable
// with one file-system sync, then the documents are committed one transaction each. A crash
// loses at most unreferenced blobs; the committed documents are a prefix in export order.
const (
	batchDocs  = 64
	batchBytes = 16 << 20
)

func (im *Importer) flush(ctx context.Context, batch []pending, rep *Report) error {
	if len(batch) == 0 {
		return nil
	}
	raws := make([]string, len(batch))
	for i, p := range batch {
		if p.d.InvalidBytes > 0 {
			continue
		}
		sha, err := im.writeBlobs(p.d, false)
		if err != nil {
			return err
		}
		raws[i] = sha
	}
	if err := syncFS(im.blobs.BlobDir()); err != nil {
		// no syncfs here: fsync each blob instead
		for _, p := range batch {
			if p.d.InvalidBytes == 0 {
				if _, err := im.writeBlobs(p.d, true); err != nil {
					return err
				}
			}
		}
	}
	for i, p := range batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.d.rawSHA = raws[i]
		if _, err := im.ImportDocument(ctx, p.db, p.acl, p.d, rep); err != nil {
			return err
		}
		if im.opts.AfterDocument != nil {
			if err := im.opts.AfterDocument(p.d.UNID); err != nil {
				return err
			}
		}
	}
	return nil
}

// runListLimit caps each list of a report as kept in the database (the JSON file written with
// --report and the printed report are complete); counts are always complete.
const runListLimit = 1000

func (im *Importer) saveRun(ctx context.Context, rep *Report) error {
	short := *rep
	short.Skipped = capList(rep.Skipped)
	short.Explained = capList(rep.Explained)
	short.Mismatches = capList(rep.Mismatches)
	if len(rep.Attachments) > runListLimit {
		short.Attachments = rep.Attachments[:runListLimit]
	}
	if len(rep.Deleted) > runListLimit {
		short.Deleted = rep.Deleted[:runListLimit]
	}
	b, err := json.Marshal(&short)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, im.db, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO notes_runs (kind, started_at, passed, report) VALUES ($1, $2, $3, $4) RETURNING id`,
			rep.Kind, rep.StartedAt, rep.Passed, b).Scan(&id); err != nil {
			return fmt.Errorf("notes: save report: %w", err)
		}
		outcome := audit.Success
		if !rep.Passed {
			outcome = audit.Failure
		}
		return audit.Record(ctx, tx, audit.Event{Username: "notes-migration", Action: "notes." + rep.Kind,
			Object: fmt.Sprintf("notes_run:%d", id), Outcome: outcome,
			Detail: fmt.Sprintf("docs=%d created=%d updated=%d unchanged=%d skipped=%d mismatches=%d",
				rep.Total.Docs, rep.Total.Created, rep.Total.Updated, rep.Total.Unchanged, rep.Total.Skipped, len(rep.Mismatches))})
	})
}
