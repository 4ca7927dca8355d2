package main

import (
	"strings"
	"testing"
)

// The upload limits come from the environment, are checked at start-up with an error naming the
// variable, and reach the attachment store's options.
func TestUploadLimitConfig(t *testing.T) {
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	t.Setenv("INFOWORK_SEARCH_ENGINE", "embedded")
	t.Setenv("INFOWORK_UPLOAD_MAX_BYTES", "")
	t.Setenv("INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES", "")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.attachmentOptions(); o.MaxBytes != 1<<20 || o.MaxDocumentBytes != 20<<20 || o.DataDir != cfg.DataDir {
		t.Errorf("defaults: images %d, documents %d, data dir %q; want 1 MiB, 20 MiB, %q", o.MaxBytes, o.MaxDocumentBytes, o.DataDir, cfg.DataDir)
	}

	t.Setenv("INFOWORK_UPLOAD_MAX_BYTES", "524288")
	t.Setenv("INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES", "52428800")
	if cfg, err = loadConfig(); err != nil {
		t.Fatal(err)
	}
	if o := cfg.attachmentOptions(); o.MaxBytes != 512<<10 || o.MaxDocumentBytes != 50<<20 {
		t.Errorf("configured: images %d, documents %d; want 512 KiB, 50 MiB", o.MaxBytes, o.MaxDocumentBytes)
	}
	for _, c := range []struct{ image, doc, want string }{
		{"", "abc", "INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES"},
		{"", "20MiB", "INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES"},
		{"", "0", "INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES"},
		{"", "104857601", "INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES"}, // above 100 MiB
		{"-1", "", "INFOWORK_UPLOAD_MAX_BYTES"},
		{"67108865", "", "INFOWORK_UPLOAD_MAX_BYTES"}, // above 64 MiB
		{"2097152", "1048576", "must be at least the image limit"},
	} {
		t.Setenv("INFOWORK_UPLOAD_MAX_BYTES", c.image)
		t.Setenv("INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES", c.doc)
		if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("images %q, documents %q: %v, want an error containing %q", c.image, c.doc, err, c.want)
		}
	}
}
