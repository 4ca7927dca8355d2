package mappings

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestAllMappingsAreWellFormed(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]int{}
	for _, m := range all {
		var doc struct {
			Settings map[string]any `json:"settings"`
			Mappings struct {
				Dynamic    string                    `json:"dynamic"`
				Meta       map[string]any            `json:"_meta"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"mappings"`
		}
		if err := json.Unmarshal(m.JSON, &doc); err != nil {
			t.Fatalf("%s v%d: %v", m.Name, m.Version, err)
		}
		if doc.Settings == nil || len(doc.Mappings.Properties) == 0 {
			t.Errorf("%s v%d: want settings and mappings.properties", m.Name, m.Version)
		}
		if doc.Mappings.Dynamic != "strict" {
			t.Errorf("%s v%d: dynamic = %q, want strict (a typo in a field name must fail loudly)", m.Name, m.Version, doc.Mappings.Dynamic)
		}
		if doc.Mappings.Meta["infowork_mapping"] != m.Name || doc.Mappings.Meta["version"] != float64(m.Version) {
			t.Errorf("%s v%d: _meta = %v, want the file's name and version", m.Name, m.Version, doc.Mappings.Meta)
		}
		// Versions are contiguous from 1, so "the next version" is always N+1.
		if m.Version != versions[m.Name]+1 {
			t.Errorf("%s: version %d follows %d", m.Name, m.Version, versions[m.Name])
		}
		versions[m.Name] = m.Version
	}
	if versions["submissions"] == 0 {
		t.Fatal("no submissions mapping")
	}
}

func TestLatestAndGet(t *testing.T) {
	m, err := Latest("submissions")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Get("submissions", m.Version); err != nil || string(got.JSON) != string(m.JSON) {
		t.Fatalf("Get(latest) = %v, %v", got.Version, err)
	}
	if got := m.IndexName("t1_"); got != "t1_submissions.v"+itoa(m.Version) {
		t.Fatalf("IndexName = %q", got)
	}
	if _, err := Latest("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Latest(nope) error = %v", err)
	}
	if _, err := Get("submissions", 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(999) error = %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
