package webapp_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"infowork/attachment"
	"infowork/internal/testenv"
	"infowork/webapp"
)

// The upload limits are configuration (INFOWORK_UPLOAD_MAX_BYTES for images,
// INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES for documents; cmd/infowork turns them into these options):
// with lowered limits a file above its kind's limit is refused with 413 and the limit in the
// message, nothing is stored, and a document between the two limits is accepted.
func TestLoweredUploadLimits(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	dir := t.TempDir()
	svc, err := attachment.New(s.DB, attachment.Options{DataDir: dir, MaxBytes: 8 << 10, MaxDocumentBytes: 64 << 10, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	base := s.replica(t, func(o *webapp.Options) { o.Attachments = svc })
	s = &stack{DB: s.DB, Base: base, Auth: s.Auth, Opts: s.Opts, tokens: map[string]string{}, totpSecrets: map[string]string{}}
	s.token(t, "rep_a")
	sub, err := s.createAPI("rep_a", created{Title: "附件上限核对", Body: "附件上限核对正文。"})
	if err != nil {
		t.Fatal(err)
	}
	before := blobFiles(t, dir)
	line := []byte("防汛演练记录。\n")
	text := func(n int) []byte { return bytes.Repeat(line, n/len(line)+1) } // n bytes and a line more
	png := append(slices.Clone(encodeImage(t, "png")), bytes.Repeat([]byte{0}, 8<<10)...)

	for _, c := range []struct {
		what, limit string
		u           upload
	}{
		{"document above the lowered document limit", "64 KB", upload{filename: "记录.txt", file: text(70 << 10), caption: str("演练记录")}},
		{"image above the lowered image limit", "8 KB", upload{filename: "现场.png", file: png, caption: str("现场照片")}},
	} {
		r := s.upload(t, "rep_a", sub.ID, c.u)
		wantError(t, c.what, r, http.StatusRequestEntityTooLarge, "payload_too_large", "")
		if msg, _ := r.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.limit) {
			t.Errorf("%s: message %q does not name the limit %s", c.what, msg, c.limit)
		}
	}
	if n := s.count(t, `SELECT (SELECT count(*) FROM attachments) + (SELECT count(*) FROM blobs) + (SELECT count(*) FROM extractions)`); n != 0 {
		t.Fatalf("refused uploads stored %d rows", n)
	}
	if got := blobFiles(t, dir); !slices.Equal(got, before) {
		t.Fatalf("refused uploads changed the blob store: %v", got)
	}

	// A document above the image limit but within the document limit is a document, accepted.
	if r := s.upload(t, "rep_a", sub.ID, upload{filename: "记录.txt", file: text(40 << 10), caption: str("演练记录")}); r.Status != http.StatusCreated {
		t.Fatalf("40 KB text under a 64 KB document limit: %s, want 201", r)
	}
	if n := s.count(t, `SELECT count(*) FROM attachments`); n != 1 {
		t.Fatalf("%d attachments after one accepted upload", n)
	}
}
