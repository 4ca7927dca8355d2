package notes_test

import (
	"testing"

	"infowork/access"
	"infowork/analyzers"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/submission"
)

// Imported records reach the search index through the outbox like any other record, and a
// search shows them only to those Notes let read them.
func TestImportedRecordsAreSearchableWithTheirReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the Chinese analyzer")
	}
	e := newEnv(t, testMapping(t))
	if _, err := e.im.Import(e.ctx, "testdata/sample.dxl"); err != nil {
		t.Fatal(err)
	}
	an, err := analyzers.New(analyzers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	engine, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: an})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	ix, err := indexer.New(indexer.Options{DB: e.db, Engine: engine, Logger: testenv.Logger(t),
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := engine.Count(e.ctx); err != nil || n != 5 {
		t.Fatalf("index holds %d documents (%v), want the 5 imported", n, err)
	}
	hits := func(user, q string) int {
		sub := access.Subject{Username: user, Roles: []string{access.RoleEditor}, Clearance: label.Confidential}
		res, err := engine.Search(e.ctx, search.Query{Text: q, Scope: access.Scope(sub), Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total
	}
	for _, c := range []struct {
		user, q string
		want    int
	}{
		{"wangwu", "限定读者", 1},  // listed in Readers
		{"lisi", "限定读者", 1},    // listed in Authors
		{"zhaoliu", "限定读者", 0}, // listed, but No Access in the ACL
		{"someone", "限定读者", 0}, // not listed
		{"zhangsan", "隐患", 1},  // rich-text body of the main report (ACL reader)
		{"someone", "隐患", 0},   // -Default- is No Access
	} {
		if got := hits(c.user, c.q); got != c.want {
			t.Errorf("%s searching %q: %d hits, want %d", c.user, c.q, got, c.want)
		}
	}
}
