package search_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"infowork/search"
)

func TestScanAllVisitsEveryDocumentOnce(t *testing.T) {
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("%02d", i))
	}
	scan := func(_ context.Context, after string, n int) ([]search.Stored, error) {
		i := sort.SearchStrings(ids, after)
		if i < len(ids) && ids[i] == after {
			i++
		}
		var out []search.Stored
		for ; i < len(ids) && len(out) < n; i++ {
			out = append(out, search.Stored{ID: ids[i], Version: 1})
		}
		return out, nil
	}
	for _, n := range []int{1, 3, 5, 10, 11} { // 5 and 10 end on a full page, then an empty one
		seen := map[string]int{}
		pages := 0
		err := search.ScanAll(context.Background(), scan, n, func(page []search.Stored) error {
			pages++
			for _, s := range page {
				seen[s.ID]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(ids) {
			t.Fatalf("n=%d: saw %d documents, want %d", n, len(seen), len(ids))
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: %s seen %d times", n, id, c)
			}
		}
		if want := len(ids)/n + 1; pages != want {
			t.Fatalf("n=%d: %d pages, want %d", n, pages, want)
		}
	}
}
