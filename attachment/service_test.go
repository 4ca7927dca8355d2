package attachment_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/attachment"
	"infowork/extract/extracttest"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

type env struct {
	db      *pgxpool.Pool
	svc     *attachment.Service
	dir     string
	subID   int64
	repA    access.Subject // reporter of Z1, the submission's unit
	repB    access.Subject // reporter of Z2
	res     access.Subject // researcher: reads every unit, attaches to none
	ctx     context.Context
	pngData []byte
}

func newEnv(t *testing.T, maxBytes int64) *env { return newEnvMax(t, maxBytes) }

func newEnvTB(t testing.TB) *env { return newEnvMax(t, 0) }

func newEnvMax(t testing.TB, maxBytes int64) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	for _, c := range []string{"Z1", "Z2"} {
		if _, err := unit.Upsert(ctx, db, unit.Unit{Code: c, Name: "单位" + c, Kind: unit.KindDirect}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	svc, err := attachment.New(db, attachment.Options{DataDir: dir, MaxBytes: maxBytes, MaxDocumentBytes: 4 * maxBytes, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, svc: svc, dir: dir, ctx: ctx,
		repA: access.Subject{Username: "rep_a", UnitCode: "Z1", Roles: []string{access.RoleReporter}, Clearance: label.Secret},
		repB: access.Subject{Username: "rep_b", UnitCode: "Z2", Roles: []string{access.RoleReporter}, Clearance: label.Secret},
		res:  access.Subject{Username: "res", Roles: []string{access.RoleResearcher}, Clearance: label.Secret},
	}
	c, err := submission.New(db).Create(ctx, e.repA, submission.Input{Title: "防汛演练", Body: "东湖街道组织防汛演练。", Classification: "internal"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.subID = c.ID
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	e.pngData = b.Bytes()
	return e
}

func (e *env) upload(sub access.Subject, name, caption string, data []byte) (attachment.Attachment, error) {
	st, err := e.svc.Stage(bytes.NewReader(data))
	if err != nil {
		return attachment.Attachment{}, err
	}
	return e.svc.Create(e.ctx, sub, attachment.NewAttachment{SubmissionID: e.subID, Filename: name, Caption: caption, File: st}, "127.0.0.1")
}

// files lists every regular file under the blob store (relative paths).
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStoredOnceByContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	var v0 int64
	if err := e.db.QueryRow(e.ctx, `SELECT version FROM submissions WHERE id = $1`, e.subID).Scan(&v0); err != nil {
		t.Fatal(err)
	}
	a1, err := e.upload(e.repA, "IMG_0001.png", "东湖街道防汛演练现场", e.pngData)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e.upload(e.repA, `C:\fakepath\copy.png`, "同一张照片的另一次上传", e.pngData)
	if err != nil {
		t.Fatal(err)
	}
	if a1.ID == a2.ID || a1.SHA256 != a2.SHA256 || a2.Filename != "copy.png" || a1.Width != 20 || a1.Height != 10 {
		t.Fatalf("attachments %+v %+v", a1, a2)
	}
	blob := filepath.Join("blobs", a1.SHA256[:2], a1.SHA256[2:4], a1.SHA256)
	if got := files(t, e.dir); !slices.Equal(got, []string{blob}) {
		t.Fatalf("blob store holds %v, want only %s", got, blob)
	}
	stored, err := os.ReadFile(filepath.Join(e.dir, blob))
	if err != nil || !bytes.Equal(stored, e.pngData) {
		t.Fatalf("stored bytes differ: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM blobs`); n != 1 {
		t.Errorf("%d blob rows, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM attachments WHERE submission_id = $1`, e.subID); n != 2 {
		t.Errorf("%d attachment rows, want 2", n)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'attachment.upload' AND label = 1`); n != 2 {
		t.Errorf("%d upload audit rows with the submission's label, want 2", n)
	}
	if n := e.count(t, `SELECT version FROM submissions WHERE id = $1`, e.subID); int64(n) != v0+2 {
		t.Errorf("submission version %d, want %d", n, v0+2)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = $1`, e.subID); n < 2 {
		t.Errorf("%d outbox rows for the submission, want the create's and the uploads'", n)
	}

	// Reads follow the submission: its unit and the researcher see both, the other unit nothing.
	for _, c := range []struct {
		sub  access.Subject
		want int
	}{{e.repA, 2}, {e.res, 2}, {e.repB, 0}} {
		list, err := e.svc.List(e.ctx, c.sub, e.subID)
		if err != nil || len(list) != c.want {
			t.Errorf("List as %s: %d, %v; want %d", c.sub.Username, len(list), err, c.want)
		}
	}
	if _, _, err := e.svc.Open(e.ctx, e.repB, a1.ID, "127.0.0.1", attachment.ActionDownload); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open as the other unit: %v, want not found", err)
	}
	low := e.res
	low.Clearance = label.Public
	if _, _, err := e.svc.Open(e.ctx, low, a1.ID, "127.0.0.1", attachment.ActionDownload); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open below the submission's label: %v, want not found", err)
	}
	a, f, err := e.svc.Open(e.ctx, e.res, a1.ID, "127.0.0.1", attachment.ActionDownload)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if a.Caption != "东湖街道防汛演练现场" || a.ContentType != "image/png" {
		t.Errorf("opened %+v", a)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'attachment.download' AND username = 'res' AND object = $1`,
		"attachment:"+strconv.FormatInt(a1.ID, 10)); n != 1 {
		t.Errorf("%d download audit rows, want 1", n)
	}
}

func TestRefusalsStoreNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4096)
	before := files(t, e.dir)
	big := bytes.Repeat([]byte{0xFF}, 4*4096+1)
	// An image over the image limit though under the document limit.
	bigPNG := func() []byte {
		img := image.NewGray(image.Rect(0, 0, 90, 90))
		x := uint32(1)
		for i := range img.Pix {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			img.Pix[i] = byte(x)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	cases := []struct {
		name string
		sub  access.Subject
		file string
		cap  string
		data []byte
		want error
	}{
		{"too large", e.repA, "a.png", "说明", big, attachment.ErrTooLarge},
		{"image over the image limit", e.repA, "a.png", "说明", bigPNG, attachment.ErrTooLarge},
		{"html as png", e.repA, "a.png", "说明", []byte("<html><script>alert(1)</script></html>"), attachment.ErrUnsupported},
		{"png as jpg", e.repA, "a.jpg", "说明", e.pngData, attachment.ErrUnsupported},
		{"truncated", e.repA, "a.png", "说明", e.pngData[:len(e.pngData)-5], attachment.ErrMalformed},
		{"no caption", e.repA, "a.png", "", e.pngData, &attachment.ValidationError{}},
		{"filename caption", e.repA, "IMG_1.png", "IMG_1.png", e.pngData, &attachment.ValidationError{}},
		{"other unit", e.repB, "a.png", "说明", e.pngData, store.ErrNotFound},
		{"reader, not the unit", e.res, "a.png", "说明", e.pngData, submission.ErrForbidden},
	}
	for _, c := range cases {
		_, err := e.upload(c.sub, c.file, c.cap, c.data)
		if ve, ok := c.want.(*attachment.ValidationError); ok {
			if !errors.As(err, &ve) {
				t.Errorf("%s: %v, want a validation error", c.name, err)
			}
		} else if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if got := files(t, e.dir); !slices.Equal(got, before) {
			t.Errorf("%s: blob store changed: %v", c.name, got)
		}
	}
	if n := e.count(t, `SELECT (SELECT count(*) FROM blobs) + (SELECT count(*) FROM attachments)`); n != 0 {
		t.Errorf("%d rows stored by refused uploads", n)
	}
	if err := e.svc.CheckUpload(e.ctx, e.repB, e.subID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckUpload other unit: %v", err)
	}
	if err := e.svc.CheckUpload(e.ctx, e.repA, e.subID); err != nil {
		t.Errorf("CheckUpload own unit: %v", err)
	}
}

// TestRowLevelSecurity: under a non-owner role, a query on attachments that forgets the access
// predicate still sees only the attachments of submissions the subject may read.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	if _, err := e.upload(e.repA, "a.png", "演练现场照片", e.pngData); err != nil {
		t.Fatal(err)
	}
	var dbName string
	if err := e.db.QueryRow(e.ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	role := pgx.Identifier{"att_" + dbName}.Sanitize()
	for _, stmt := range []string{`CREATE ROLE ` + role + ` NOLOGIN`, `GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role} {
		if _, err := e.db.Exec(e.ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		e.db.Exec(context.Background(), `DROP OWNED BY `+role) //nolint:errcheck
		e.db.Exec(context.Background(), `DROP ROLE `+role)     //nolint:errcheck
	})
	see := func(sub *access.Subject) int {
		tx, err := e.db.Begin(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(e.ctx) //nolint:errcheck
		if _, err := tx.Exec(e.ctx, `SET LOCAL ROLE `+role); err != nil {
			t.Fatal(err)
		}
		if sub != nil {
			if err := access.SetLocal(e.ctx, tx, *sub); err != nil {
				t.Fatal(err)
			}
		}
		// Versions and extracted text are as visible as their attachment (migration 0009).
		var n, versions, texts int
		if err := tx.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM attachments), (SELECT count(*) FROM attachment_versions),
			(SELECT count(*) FROM extractions)`).Scan(&n, &versions, &texts); err != nil {
			t.Fatal(err)
		}
		if versions != n || texts != n {
			t.Errorf("%+v sees %d attachments, %d versions, %d extractions", sub, n, versions, texts)
		}
		if sub != nil && n > 0 {
			// The upload's statements work under the application role: queueing a content that
			// is already queued is a no-op, not a policy violation.
			if _, err := tx.Exec(e.ctx, `INSERT INTO extractions (blob_sha256) SELECT blob_sha256 FROM attachments ON CONFLICT (blob_sha256) DO NOTHING`); err != nil {
				t.Errorf("%s: queue extraction under the application role: %v", sub.Username, err)
			}
		}
		return n
	}
	low := e.res
	low.Clearance = label.Public
	for _, c := range []struct {
		name string
		sub  *access.Subject
		want int
	}{{"no settings", nil, 0}, {"own unit", &e.repA, 1}, {"other unit", &e.repB, 0}, {"researcher", &e.res, 1}, {"below the label", &low, 0}} {
		if got := see(c.sub); got != c.want {
			t.Errorf("%s sees %d attachments, want %d", c.name, got, c.want)
		}
	}

	// The whole document path as the application role: upload, new version, versions, text.
	cfg := e.db.Config()
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SET ROLE `+role)
		return err
	}
	appDB, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	app, err := attachment.New(appDB, attachment.Options{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := app.Stage(bytes.NewReader(extracttest.DOCX(t, "应用角色上传的文档")))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := app.Create(e.ctx, e.repA, attachment.NewAttachment{SubmissionID: e.subID, Filename: "角色.docx", Caption: "应用角色上传", File: st}, "127.0.0.1")
	if err != nil {
		t.Fatalf("upload as the application role: %v", err)
	}
	st, err = app.Stage(bytes.NewReader(extracttest.DOCX(t, "第二版")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.NewVersion(e.ctx, e.repA, doc.ID, "角色2.docx", st, "127.0.0.1"); err != nil {
		t.Fatalf("new version as the application role: %v", err)
	}
	if vs, err := app.Versions(e.ctx, e.res, doc.ID); err != nil || len(vs) != 2 {
		t.Fatalf("versions as the application role: %v %v", vs, err)
	}
	if _, x, err := app.Extraction(e.ctx, e.res, doc.ID); err != nil || x.State != attachment.ExtractPending {
		t.Fatalf("extraction as the application role: %+v %v", x, err)
	}
	if _, err := app.Versions(e.ctx, e.repB, doc.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another unit's versions: %v", err)
	}
}
