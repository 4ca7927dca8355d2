package analyzers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// alts renders Expand's alternatives as "a b|c" (tokens space-separated, alternatives by |).
func alts(seqs [][]Token) string {
	var parts []string
	for _, s := range seqs {
		parts = append(parts, strings.Join(terms(s), " "))
	}
	return strings.Join(parts, "|")
}

func TestExpand(t *testing.T) {
	a := sharedAnalyzer(t)
	if n := a.SynonymGroups(); n < 30 {
		t.Fatalf("SynonymGroups = %d, want the embedded dictionary (≥ 30)", n)
	}
	tests := []struct {
		text string
		want []string // alternatives that must be present, the first one first
	}{
		{"发改委", []string{"发改委", "发展改革委", "发展 改革 委员会"}},
		{"發改委", []string{"发改委", "发展改革委"}},                   // traditional folds first
		{"发展和改革委员会", []string{"发展 改革 委员会", "发改委", "发展改革委"}}, // the full name finds the short one
		{"人社局", []string{"人社局", "人力资源和社会保障局"}},
		{"网约车", []string{"网约车", "网络 预约 出租汽车"}},
		{"网络预约出租汽车", []string{"网络 预约 出租汽车", "网约车"}},
		{"ＰＭ２．５", []string{"pm2.5", "细 颗粒物"}},
		{"发改委停车", []string{"发改委 停车", "发展改革委 停车"}}, // a synonym inside a longer word
	}
	for _, tt := range tests {
		got := a.Expand(tt.text)
		if len(got) == 0 {
			t.Fatalf("Expand(%q) = nil", tt.text)
		}
		have := strings.Split(alts(got), "|")
		if have[0] != tt.want[0] {
			t.Errorf("Expand(%q)[0] = %q, want the query itself %q", tt.text, have[0], tt.want[0])
		}
		for _, w := range tt.want {
			if !slices.Contains(have, w) {
				t.Errorf("Expand(%q) = %q, want %q among them", tt.text, have, w)
			}
		}
		for _, seq := range got {
			for i, tok := range seq {
				if tok.Position != i {
					t.Errorf("Expand(%q): %q at position %d, want %d", tt.text, tok.Term, tok.Position, i)
				}
			}
		}
	}
	// Words without synonyms come back alone, exactly as Query; no tokens: nil.
	if got := alts(a.Expand("停车 收费")); got != "停车 收费" {
		t.Errorf("Expand(停车 收费) = %q", got)
	}
	if got := a.Expand("的"); got != nil {
		t.Errorf("Expand(stop word) = %v, want nil", got)
	}
	// No false synonyms: 市长 is no abbreviation of anything.
	if got := alts(a.Expand("市长")); got != "市长" {
		t.Errorf("Expand(市长) = %q", got)
	}
	// Many synonym words: bounded.
	if got := a.Expand(strings.Repeat("发改委 人社局 网约车 ", 4)); len(got) > maxAlternatives {
		t.Errorf("Expand of many synonyms gave %d alternatives, want ≤ %d", len(got), maxAlternatives)
	}
}

func TestParseSynonyms(t *testing.T) {
	got := parseSynonyms([]byte("# comment\nＡ,b， c、d  e # tail\n\nsolo\nx x\n發改委 发改委 发展改革委\n"))
	want := [][]string{{"a", "b", "c", "d", "e"}, {"发改委", "发展改革委"}}
	if len(got) != len(want) {
		t.Fatalf("parseSynonyms = %q, want %q", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("parseSynonyms = %q, want %q", got, want)
		}
	}
}

func TestReloadSynonyms(t *testing.T) {
	dir := t.TempDir()
	syn := filepath.Join(dir, "synonyms.txt")
	if err := os.WriteFile(syn, []byte("# site synonyms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{CacheDir: dir, Synonyms: syn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if got := alts(a.Expand("蓝天办")); strings.Contains(got, "|") {
		t.Fatalf("synonym known before it was added: %q", got)
	}
	if err := os.WriteFile(syn, []byte("蓝天办, 大气污染防治办公室\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := alts(a.Expand("蓝天办")); !strings.Contains(got, "|大气污染 防治 办公室") {
		t.Fatalf("after Reload Expand(蓝天办) = %q", got)
	}
	if got := alts(a.Expand("发改委")); !strings.Contains(got, "发展改革委") {
		t.Fatalf("the embedded synonyms are lost with a site file: %q", got)
	}
	// A missing file fails Reload and keeps what was loaded.
	if err := os.Remove(syn); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err == nil {
		t.Fatal("Reload with a missing synonym file succeeded")
	}
	if got := alts(a.Expand("蓝天办")); !strings.Contains(got, "|") {
		t.Fatalf("failed Reload dropped the synonyms: %q", got)
	}
	if _, err := New(Options{CacheDir: dir, Synonyms: syn}); err == nil {
		t.Fatal("New with a missing synonym file succeeded")
	}
}
