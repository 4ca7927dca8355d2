package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"infowork/access"
	"infowork/analyzers"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search/embedded"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

func seedReports(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect}); err != nil {
		t.Fatal(err)
	}
	sub := access.Subject{Username: "loader", UnitCode: "Z001", Roles: []string{access.RoleReporter}, Clearance: label.Confidential}
	for i := 0; i < n; i++ {
		if _, err := submission.New(db).Create(ctx, sub, submission.Input{Title: "停车问题的报告", Body: "正文"}, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
}

// The embedded engine is rebuilt offline: refused while the index is open elsewhere (serve),
// then a new directory behind CURRENT; reconcile then finds nothing to repair.
func TestReindexAndReconcileEmbedded(t *testing.T) {
	dsn := testenv.DSN(t)
	dataDir := t.TempDir()
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", dataDir)
	t.Setenv("INFOWORK_SEARCH_ENGINE", "embedded")
	seedReports(t, dsn, 7)
	ctx := context.Background()

	an, err := analyzers.New(analyzers.Options{CacheDir: filepath.Join(dataDir, "jieba")})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	serving, err := embedded.Open(embedded.Options{Dir: filepath.Join(dataDir, "index"), Analyzer: an})
	if err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"reindex"})
	if err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Fatalf("reindex while the index is open elsewhere: %v", err)
	}
	if err := serving.Close(); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"reindex", "--batch", "3"}); err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(filepath.Join(dataDir, "index", embedded.CurrentFile))
	if err != nil || !strings.HasPrefix(string(cur), embedded.IndexName+"-") {
		t.Fatalf("CURRENT = %q, %v", cur, err)
	}
	if err := run(ctx, []string{"reconcile", "--dry-run"}); err != nil {
		t.Fatal(err)
	}
	e, err := embedded.Open(embedded.Options{Dir: filepath.Join(dataDir, "index"), Analyzer: an})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if n, err := e.Count(ctx); err != nil || n != 7 {
		t.Fatalf("rebuilt index holds %d documents (%v), want 7", n, err)
	}
}

// Against the test OpenSearch node: reindex twice (the second drops the first rebuild's
// predecessor), then reconcile.
func TestReindexAndReconcileOpenSearch(t *testing.T) {
	url := strings.Split(os.Getenv("INFOWORK_TEST_OPENSEARCH_URL"), ",")[0]
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("INFOWORK_TEST_OPENSEARCH_URL is not set")
		}
		t.Skip("INFOWORK_TEST_OPENSEARCH_URL is not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b) + "_"
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(url, "/")+"/"+prefix+"*", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	})
	dsn := testenv.DSN(t)
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	t.Setenv("INFOWORK_SEARCH_ENGINE", "opensearch")
	t.Setenv("INFOWORK_SEARCH_URLS", url)
	t.Setenv("INFOWORK_SEARCH_INDEX_PREFIX", prefix)
	seedReports(t, dsn, 9)
	ctx := context.Background()
	if err := run(ctx, []string{"reindex", "--batch", "4"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"reindex", "--drop-old"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"reconcile"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"reindex", "--abort"}); err == nil {
		t.Fatal("abort without a run succeeded")
	}
}
