package opensearch

import (
	"context"
	"testing"

	"infowork/search"
	"infowork/search/internal/esengine/estest"
	"infowork/search/searchtest"
)

// TestConformance runs the shared suite against the real OpenSearch node at
// $INFOWORK_TEST_OPENSEARCH_URL (required in CI, skipped locally without it).
func TestConformance(t *testing.T) {
	urls := estest.URLs(t)
	searchtest.Run(t, func(t *testing.T) search.Engine {
		e, err := Open(context.Background(), Options{
			URLs: urls, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t), Refresh: "true",
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestOpenIsIdempotentAndUsesTheAlias(t *testing.T) {
	urls := estest.URLs(t)
	prefix := estest.Prefix(t, urls)
	ctx := context.Background()
	opts := Options{URLs: urls, IndexPrefix: prefix, Analyzer: estest.Analyzer(t), Refresh: "true"}
	first, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	d := search.Document{ID: "1", Version: 2, Title: "北京市委", Body: "会议", Unit: "u1"}
	if _, err := first.Apply(ctx, []search.Op{{Kind: search.OpUpsert, ID: "1", Version: 2, Doc: &d}}); err != nil {
		t.Fatal(err)
	}
	// A second process opening the same prefix finds the alias and the document.
	second, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.Alias() != prefix+"submissions" {
		t.Fatalf("Alias = %q", second.Alias())
	}
	if v, err := second.Versions(ctx, []string{"1"}); err != nil || v["1"] != 2 {
		t.Fatalf("Versions = %v, %v", v, err)
	}
}
