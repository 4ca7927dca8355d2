package embedded

import (
	"errors"
	"sync"
	"testing"

	"infowork/analyzers"
	"infowork/search"
	"infowork/search/searchtest"
)

var shared struct {
	once sync.Once
	an   *analyzers.Analyzer
	err  error
}

func testAnalyzer(t *testing.T) *analyzers.Analyzer {
	t.Helper()
	shared.once.Do(func() { shared.an, shared.err = analyzers.New(analyzers.Options{}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.an
}

func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Engine {
		e, err := Open(Options{Dir: t.TempDir(), Analyzer: testAnalyzer(t), BatchSize: 5})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir, Analyzer: testAnalyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = Open(Options{Dir: dir, Analyzer: testAnalyzer(t)})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
}

func TestReopenKeepsDocumentsAndTombstones(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir, Analyzer: testAnalyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	d := search.Document{ID: "1", Version: 3, Title: "北京市委", Body: "会议", Unit: "u1"}
	if _, err := e.Apply(ctx, []search.Op{{Kind: search.OpUpsert, ID: "1", Version: 3, Doc: &d}, {Kind: search.OpDelete, ID: "2", Version: 4}}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e, err = Open(Options{Dir: dir, Analyzer: testAnalyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Search(ctx, search.Query{Text: "北京", Scope: search.Scope{AllUnits: true}})
	if err != nil || res.Total != 1 {
		t.Fatalf("after reopen: %+v, %v", res, err)
	}
	d2 := search.Document{ID: "2", Version: 2, Title: "旧稿", Unit: "u1"}
	r, err := e.Apply(ctx, []search.Op{{Kind: search.OpUpsert, ID: "2", Version: 2, Doc: &d2}})
	if err != nil || !r[0].Stale {
		t.Fatalf("stale upsert after reopen: %+v, %v", r, err)
	}
}
