package esengine

import (
	"encoding/json"
	"testing"

	"infowork/mappings"
	"infowork/search"
)

// TestFacetFieldsAreAggregatableKeywords: every facet and filter field of the newest mapping is
// an indexed keyword with doc values, so a terms aggregation and a terms query work on it. The
// state facet (issues 5, 7) was added without a new mapping version because state has been such
// a field since v1; a facet whose field would need a mapping change fails here until the new
// version exists.
func TestFacetFieldsAreAggregatableKeywords(t *testing.T) {
	m, err := mappings.Latest("submissions")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		Mappings struct {
			Properties map[string]struct {
				Type      string `json:"type"`
				Index     *bool  `json:"index"`
				DocValues *bool  `json:"doc_values"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(m.JSON, &def); err != nil {
		t.Fatal(err)
	}
	for _, name := range search.AllFacets {
		f, ok := facetFields[name]
		if !ok {
			t.Errorf("facet %s has no field in the engine", name)
			continue
		}
		p, ok := def.Mappings.Properties[f]
		switch {
		case !ok:
			t.Errorf("facet %s: field %q is not in mappings/%s v%d", name, f, m.Name, m.Version)
		case p.Type != "keyword" || (p.Index != nil && !*p.Index) || (p.DocValues != nil && !*p.DocValues):
			t.Errorf("facet %s: field %q is %+v in v%d, want an indexed keyword with doc values", name, f, p, m.Version)
		}
	}
}
