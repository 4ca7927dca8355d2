package notes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
)

// FormStats counts one form (or the total).
type FormStats struct {
	Docs        int `json:"docs"`
	Items       int `json:"items"`
	ItemsStored int `json:"items_stored"`
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Unchanged   int `json:"unchanged"`
	Stale       int `json:"stale"`
	Conflicts   int `json:"conflicts"`
	Skipped     int `json:"skipped"`
	Attachments int `json:"attachments"`
	Verified    int `json:"verified"` // canonical hash of the target equals the source
}

// ReportFile is one attachment or picture and its hash.
type ReportFile struct {
	UNID   string `json:"unid"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ReportEntry is a document-level line: a skip with its reason, an explained difference, or a
// mismatch.
type ReportEntry struct {
	UNID   string `json:"unid"`
	Form   string `json:"form,omitempty"`
	Reason string `json:"reason"`
	Source string `json:"source_hash,omitempty"`
	Target string `json:"target_hash,omitempty"`
}

type seenDoc struct {
	unid, form, hash, outcome string
}

// Report is the verification report of a run. Passed is true only when every document seen was
// imported with the same canonical hash in the target, or its difference is explained (skipped
// with a reason, an older version, a conflict listed for review).
type Report struct {
	Kind        string                `json:"kind"`
	StartedAt   time.Time             `json:"started_at"`
	FinishedAt  time.Time             `json:"finished_at"`
	Files       []string              `json:"files,omitempty"`
	Forms       map[string]*FormStats `json:"forms"`
	Total       FormStats             `json:"total"`
	Design      map[string]int        `json:"design_notes_skipped,omitempty"`
	Skipped     []ReportEntry         `json:"skipped,omitempty"`
	Explained   []ReportEntry         `json:"explained,omitempty"`
	Mismatches  []ReportEntry         `json:"mismatches,omitempty"`
	Attachments []ReportFile          `json:"attachments,omitempty"`
	Unmapped    map[string]int        `json:"unmapped_names,omitempty"`
	Deleted     []string              `json:"deleted,omitempty"`
	Passed      bool                  `json:"passed"`

	docs []seenDoc
}

// NewReport starts a report of the given kind (import, sync).
func NewReport(kind string) *Report {
	return &Report{Kind: kind, StartedAt: time.Now().UTC(), Forms: map[string]*FormStats{}}
}

func (r *Report) form(f string) *FormStats {
	if f == "" {
		f = "(无表单)"
	}
	s, ok := r.Forms[f]
	if !ok {
		s = &FormStats{}
		r.Forms[f] = s
	}
	return s
}

func (r *Report) design(kind string) {
	if r.Design == nil {
		r.Design = map[string]int{}
	}
	r.Design[kind]++
}

func (r *Report) seen(d *Document, hash string) {
	r.docs = append(r.docs, seenDoc{unid: d.UNID, form: d.Form, hash: hash})
}

func (r *Report) outcome(o string) {
	if len(r.docs) > 0 {
		r.docs[len(r.docs)-1].outcome = o
	}
}

func (r *Report) skip(d *Document, reason string) {
	r.Skipped = append(r.Skipped, ReportEntry{UNID: d.UNID, Form: d.Form, Reason: reason})
}

func (r *Report) explain(unid, reason string) {
	r.Explained = append(r.Explained, ReportEntry{UNID: unid, Reason: reason})
}

func (r *Report) mismatch(e ReportEntry) { r.Mismatches = append(r.Mismatches, e) }

func (r *Report) unmapped(name string) {
	if r.Unmapped == nil {
		r.Unmapped = map[string]int{}
	}
	r.Unmapped[name]++
}

// Finish adds up the forms and decides Passed.
func (r *Report) Finish() {
	r.FinishedAt = time.Now().UTC()
	var t FormStats
	for _, f := range r.Forms {
		t.Docs += f.Docs
		t.Items += f.Items
		t.ItemsStored += f.ItemsStored
		t.Created += f.Created
		t.Updated += f.Updated
		t.Unchanged += f.Unchanged
		t.Stale += f.Stale
		t.Conflicts += f.Conflicts
		t.Skipped += f.Skipped
		t.Attachments += f.Attachments
		t.Verified += f.Verified
	}
	r.Total = t
	explainedDocs := t.Skipped + t.Stale + t.Conflicts
	r.Passed = len(r.Mismatches) == 0 && t.Verified+explainedDocs == t.Docs
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// WriteText writes the zh-CN summary an operator reads at the end of a run.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "核对报告（%s）  %s — %s\n", r.Kind, r.StartedAt.Format(time.RFC3339), r.FinishedAt.Format(time.RFC3339))
	forms := make([]string, 0, len(r.Forms))
	for f := range r.Forms {
		forms = append(forms, f)
	}
	sort.Strings(forms)
	fmt.Fprintf(w, "%-24s %6s %7s %7s %6s %6s %6s %6s %6s %6s %6s %6s\n", "表单", "文档", "域", "已存域", "新建", "更新", "未变", "旧版", "冲突", "跳过", "附件", "一致")
	line := func(name string, s FormStats) {
		fmt.Fprintf(w, "%-24s %6d %7d %7d %6d %6d %6d %6d %6d %6d %6d %6d\n", name, s.Docs, s.Items, s.ItemsStored, s.Created,
			s.Updated, s.Unchanged, s.Stale, s.Conflicts, s.Skipped, s.Attachments, s.Verified)
	}
	for _, f := range forms {
		line(f, *r.Forms[f])
	}
	line("合计", r.Total)
	if len(r.Design) > 0 {
		var parts []string
		for k, v := range r.Design {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "跳过的设计元素：%s\n", strings.Join(parts, "，"))
	}
	for _, a := range r.Attachments {
		fmt.Fprintf(w, "附件 %s %s %q %d 字节 sha256=%s\n", a.UNID, a.Kind, a.Name, a.Size, a.SHA256)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "跳过 %s（%s）：%s\n", s.UNID, s.Form, s.Reason)
	}
	for _, s := range r.Explained {
		fmt.Fprintf(w, "说明 %s：%s\n", s.UNID, s.Reason)
	}
	if len(r.Unmapped) > 0 {
		names := make([]string, 0, len(r.Unmapped))
		for n := range r.Unmapped {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "映射文件中没有的 Notes 名称（仅限制、不授权）：%s\n", strings.Join(names, "；"))
	}
	for _, d := range r.Deleted {
		fmt.Fprintf(w, "Notes 中已删除，已归档 %s\n", d)
	}
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "不一致 %s（%s）：%s  源=%s 目标=%s\n", m.UNID, m.Form, m.Reason, m.Source, m.Target)
	}
	if r.Passed {
		fmt.Fprintf(w, "结论：通过，%d 个文档逐一核对一致，无未说明的差异。\n", r.Total.Verified)
	} else {
		fmt.Fprintf(w, "结论：未通过，%d 个文档未核对一致且无说明（不一致 %d 处）。\n",
			r.Total.Docs-r.Total.Verified-r.Total.Skipped-r.Total.Stale-r.Total.Conflicts, len(r.Mismatches))
	}
}

// Verify recomputes, for every document the run saw, the canonical hash from what the database
// holds (items, noteinfo) and compares it with the source; re-reads every attachment and the kept
// original DXL from the blob store and checks their SHA-256; re-parses the kept DXL and checks it
// yields the same document; and checks the record's title and readers are what the mapping gives.
func (im *Importer) Verify(ctx context.Context, rep *Report) error {
	acls := aclCache{}
	for start := 0; start < len(rep.docs); start += 500 {
		batch := rep.docs[start:min(start+500, len(rep.docs))]
		unids := make([]string, 0, len(batch))
		for _, d := range batch {
			unids = append(unids, d.unid)
		}
		targets, err := im.load(ctx, unids)
		if err != nil {
			return err
		}
		for _, sd := range batch {
			if sd.outcome == Skipped || sd.outcome == "" {
				continue
			}
			fs := rep.form(sd.form)
			t, ok := targets[sd.unid]
			if !ok {
				rep.mismatch(ReportEntry{UNID: sd.unid, Form: sd.form, Reason: "目标库中没有该文档", Source: sd.hash})
				continue
			}
			fs.ItemsStored += len(t.doc.Items)
			th := CanonicalHash(t.doc)
			switch {
			case th != t.storedHash:
				rep.mismatch(ReportEntry{UNID: sd.unid, Form: sd.form, Reason: "目标库中的域与其记录的哈希不符", Source: t.storedHash, Target: th})
				continue
			case sd.outcome == Stale || sd.outcome == Conflict:
				continue // explained: listed as an older version or a conflict for review
			case th != sd.hash:
				rep.mismatch(ReportEntry{UNID: sd.unid, Form: sd.form, Reason: "规范哈希不一致", Source: sd.hash, Target: th})
				continue
			}
			acl, err := acls.get(ctx, im, t.aclFrom)
			if err != nil {
				return err
			}
			if reason := im.checkTarget(t, acl); reason != "" {
				rep.mismatch(ReportEntry{UNID: sd.unid, Form: sd.form, Reason: reason, Source: sd.hash, Target: th})
				continue
			}
			if t.localEdit {
				rep.explain(sd.unid, "记录导入后已在 infowork 中修改：核对了 Notes 数据（域、原文、附件），标题与读者以 infowork 为准")
			}
			fs.Verified++
		}
	}
	return nil
}

// VerifyAll checks every stored document (the final check at cut-over, `infowork notes verify`):
// its items against the hash recorded at import, its kept original against both, its files, its
// title and its readers list against the Notes rules and the stored ACL.
func (im *Importer) VerifyAll(ctx context.Context) (*Report, error) {
	rep := NewReport("verify")
	after := ""
	for {
		rows, err := im.db.Query(ctx, `SELECT unid, form, canonical_hash, jsonb_array_length(items)
			FROM notes_documents WHERE unid > $1 ORDER BY unid LIMIT 500`, after)
		if err != nil {
			return rep, fmt.Errorf("notes: verify: %w", err)
		}
		n := 0
		for rows.Next() {
			var sd seenDoc
			var items int
			if err := rows.Scan(&sd.unid, &sd.form, &sd.hash, &items); err != nil {
				rows.Close()
				return rep, fmt.Errorf("notes: verify: %w", err)
			}
			sd.outcome = Unchanged
			rep.docs = append(rep.docs, sd)
			fs := rep.form(sd.form)
			fs.Docs++
			fs.Items += items
			after = sd.unid
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rep, fmt.Errorf("notes: verify: %w", err)
		}
		if err := im.Verify(ctx, rep); err != nil {
			return rep, err
		}
		rep.docs = rep.docs[:0] // verified; keep memory bounded
		if n < 500 {
			break
		}
	}
	rep.Finish()
	return rep, im.saveRun(context.WithoutCancel(ctx), rep)
}

type target struct {
	doc        *Document
	storedHash string
	dxlSHA     string
	title      string
	readers    []string
	replica    string
	source     string
	aclFrom    string
	archived   bool
	localEdit  bool // infowork changed the record since the import: its fields are its own now
	files      map[int]ReportFile
}

func (im *Importer) load(ctx context.Context, unids []string) (map[string]*target, error) {
	tx, err := im.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := access.SetBypass(ctx, tx); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT n.unid, n.unid_synthetic, n.sequence, n.note_class, n.form, COALESCE(n.parent_unid, ''),
			n.conflict, n.items, n.noteinfo, n.canonical_hash, COALESCE(n.dxl_sha256, ''), s.title, s.readers, n.replica_id, n.source,
			COALESCE(n.acl_from, ''), s.archived_at IS NOT NULL, s.version <> n.submission_version
		FROM notes_documents n JOIN submissions s ON s.id = n.submission_id WHERE n.unid = ANY($1)`, unids)
	if err != nil {
		return nil, fmt.Errorf("notes: verify: %w", err)
	}
	out := map[string]*target{}
	for rows.Next() {
		t := &target{doc: &Document{}, files: map[int]ReportFile{}}
		var items, info []byte
		d := t.doc
		if err := rows.Scan(&d.UNID, &d.Synthetic, &d.Sequence, &d.Class, &d.Form, &d.Parent, &d.Conflict, &items, &info,
			&t.storedHash, &t.dxlSHA, &t.title, &t.readers, &t.replica, &t.source, &t.aclFrom, &t.archived, &t.localEdit); err != nil {
			rows.Close()
			return nil, fmt.Errorf("notes: verify: %w", err)
		}
		if err := json.Unmarshal(items, &d.Items); err != nil {
			rows.Close()
			return nil, fmt.Errorf("notes: verify %s: %w", d.UNID, err)
		}
		if len(d.Items) == 0 {
			d.Items = nil
		}
		if err := json.Unmarshal(info, &d.Info); err != nil {
			rows.Close()
			return nil, fmt.Errorf("notes: verify %s: %w", d.UNID, err)
		}
		out[d.UNID] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notes: verify: %w", err)
	}
	frows, err := tx.Query(ctx, `SELECT unid, ordinal, kind, name, sha256, size FROM notes_files WHERE unid = ANY($1)`, unids)
	if err != nil {
		return nil, fmt.Errorf("notes: verify: %w", err)
	}
	defer frows.Close()
	for frows.Next() {
		var f ReportFile
		var ord int
		if err := frows.Scan(&f.UNID, &ord, &f.Kind, &f.Name, &f.SHA256, &f.Size); err != nil {
			return nil, err
		}
		if t, ok := out[f.UNID]; ok {
			t.files[ord] = f
		}
	}
	return out, frows.Err()
}

// checkTarget checks the bytes behind a stored document: attachments, the original DXL and the
// mapped record. It returns "" when all agree, else the first difference.
func (im *Importer) checkTarget(t *target, acl *ACL) string {
	raw, err := im.readBlob(t.dxlSHA)
	if err != nil {
		return "原始 DXL 缺失或已损坏：" + err.Error()
	}
	var again *Document
	if t.source == "das" {
		if again, err = DocumentFromDAS(raw); err != nil {
			return "保存的 DAS 原文无法重新解析"
		}
		applyFlags(again, t.doc.Items) // DAS answers carry no item flags (see keepFlags)
	} else if err := Parse(bytes.NewReader(raw), Handler{Document: func(d *Document) error { again = d; return nil }}); err != nil || again == nil {
		return "保存的原始 DXL 无法重新解析"
	}
	if CanonicalHash(again) != t.storedHash {
		return "保存的原始 DXL 重新解析后与导入的域不一致"
	}
	if len(again.Files) != len(t.files) {
		return fmt.Sprintf("附件数不一致：DXL 中 %d 个，库中 %d 个", len(again.Files), len(t.files))
	}
	for i, f := range again.Files {
		st := t.files[i]
		if st.SHA256 != f.SHA256 || st.Size != f.Size || st.Name != f.Name {
			return fmt.Sprintf("附件 %q 的记录不一致", f.Name)
		}
		if f.Size == 0 {
			continue
		}
		if _, err := im.readBlob(f.SHA256); err != nil {
			return fmt.Sprintf("附件 %q：%v", f.Name, err)
		}
	}
	if t.localEdit {
		return "" // the Notes data above is checked; the record's fields are infowork's now
	}
	rec := im.mapping.Map(t.doc)
	if strings.Join(strings.Fields(rec.Title), " ") != t.title {
		return fmt.Sprintf("标题与映射结果不一致：%q ≠ %q", t.title, rec.Title)
	}
	if !t.archived {
		if want := ComputeReaders(acl, t.doc, im.mapping).Principals; !slices.Equal(want, t.readers) {
			return fmt.Sprintf("读者名单与 Notes 规则不一致：%v ≠ %v", t.readers, want)
		}
	}
	return ""
}

// aclCache holds the stored ACLs verification needs, by notes_databases key.
type aclCache map[string]*ACL

func (c aclCache) get(ctx context.Context, im *Importer, key string) (*ACL, error) {
	if key == "" {
		return nil, nil
	}
	if a, ok := c[key]; ok {
		return a, nil
	}
	var raw []byte
	err := im.db.QueryRow(ctx, `SELECT acl FROM notes_databases WHERE replica_id = $1`, key).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		c[key] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notes: verify: load ACL %s: %w", key, err)
	}
	var a ACL
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("notes: verify: ACL %s: %w", key, err)
	}
	a.From = key
	c[key] = &a
	return &a, nil
}

// readBlob reads a blob and checks its SHA-256.
func (im *Importer) readBlob(sha string) ([]byte, error) {
	if sha == "" {
		return nil, fmt.Errorf("无记录")
	}
	b, err := os.ReadFile(im.blobs.BlobPath(sha)) // #nosec G304 -- built from a stored hex digest
	if err != nil {
		return nil, err
	}
	s := sha256.Sum256(b)
	if hex.EncodeToString(s[:]) != sha {
		return nil, fmt.Errorf("内容的 SHA-256 与地址不符")
	}
	return b, nil
}
