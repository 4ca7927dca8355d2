package analyzers

import (
	"bytes"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/segment.golden")

// newTestAnalyzer extracts the dictionaries into a fresh directory, proving that segmentation
// does not depend on the Go module cache.
func newTestAnalyzer(t testing.TB, userDict string) *Analyzer {
	t.Helper()
	a, err := New(Options{CacheDir: t.TempDir(), UserDict: userDict})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

var shared struct {
	once sync.Once
	a    *Analyzer
	err  error
}

// sharedAnalyzer is one analyzer for the read-only tests (loading jieba takes ~0.5 s).
func sharedAnalyzer(t testing.TB) *Analyzer {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "analyzers-test")
		if err != nil {
			shared.err = err
			return
		}
		shared.a, shared.err = New(Options{CacheDir: dir})
	})
	if shared.err != nil {
		t.Fatalf("New: %v", shared.err)
	}
	return shared.a
}

func terms(toks []Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Term
	}
	return out
}

func TestNewExtractsIntoEmptyCacheDir(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) < 5 {
		t.Fatalf("cache dir holds %d files, want the 5 dictionaries", len(entries))
	}
	if got := terms(a.Query("南京市长江大桥")); !slices.Equal(got, []string{"南京市", "长江大桥"}) {
		t.Fatalf("Query(南京市长江大桥) = %v", got)
	}
	// A second analyzer reuses the extracted files.
	b, err := New(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	again, _ := os.ReadDir(dir)
	if len(again) != len(entries) {
		t.Fatalf("second New wrote new files: %d → %d", len(entries), len(again))
	}
}

func TestNewBadUserDict(t *testing.T) {
	_, err := New(Options{CacheDir: t.TempDir(), UserDict: filepath.Join(t.TempDir(), "missing.txt")})
	if err == nil {
		t.Fatal("New with a missing user dictionary succeeded")
	}
}

func TestKeyProperties(t *testing.T) {
	a := sharedAnalyzer(t)
	tests := []struct {
		text           string
		index, query   []string // must contain
		notIndex, notQ []string // must not contain
	}{
		{text: "南京市长江大桥", query: []string{"南京市", "长江大桥"}, notQ: []string{"市长"}, notIndex: []string{"市长"}, index: []string{"长江", "大桥"}},
		{text: "北京市委", index: []string{"北京", "北京市委"}},
		{text: "２０１９年、ＡＢＣ", index: []string{"2019", "abc"}, query: []string{"2019", "abc"}},
		{text: "５Ｇ基站", index: []string{"5g基站", "5g", "基站"}, query: []string{"5g基站"}},
		{text: "5G基站", index: []string{"5g基站", "5g"}, query: []string{"5g基站"}},
		{text: "PM2.5浓度", index: []string{"pm2.5", "浓度"}, query: []string{"pm2.5", "浓度"}, notIndex: []string{"pm2", "5", "."}},
		{text: "拨打12345热线", index: []string{"12345热线", "12345", "热线"}, query: []string{"12345热线"}},
		{text: "市发展改革委", index: []string{"发展改革委", "发展", "改革"}},
		{text: "劳动和社会保障", index: []string{"社会保障", "劳动"}},
		{text: "中华人民共和国", index: []string{"人民共和国", "共和国", "中华"}, query: []string{"中华人民共和国"}},
		{text: "A3区　群众反映\n\t\t停车难", index: []string{"a3区", "群众", "停车"}, notIndex: []string{" ", "\n", "　"}},
		{text: "的了。，！", notIndex: []string{"的", "了", "。"}, notQ: []string{"的", "。"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			idx, q := terms(a.Index(tt.text)), terms(a.Query(tt.text))
			for _, w := range tt.index {
				if !slices.Contains(idx, w) {
					t.Errorf("Index = %q, missing %q", idx, w)
				}
			}
			for _, w := range tt.notIndex {
				if slices.Contains(idx, w) {
					t.Errorf("Index = %q, must not contain %q", idx, w)
				}
			}
			for _, w := range tt.query {
				if !slices.Contains(q, w) {
					t.Errorf("Query = %q, missing %q", q, w)
				}
			}
			for _, w := range tt.notQ {
				if slices.Contains(q, w) {
					t.Errorf("Query = %q, must not contain %q", q, w)
				}
			}
		})
	}
}

func TestOffsetsOnOriginalText(t *testing.T) {
	a := sharedAnalyzer(t)
	text := "居民反映：　５Ｇ基站和ＰＭ２．５"
	for _, tok := range a.Index(text) {
		orig := text[tok.Start:tok.End]
		if a.Normalize(orig) != tok.Term {
			t.Errorf("token %q covers %q, which normalizes to %q", tok.Term, orig, a.Normalize(orig))
		}
	}
}

func TestPositions(t *testing.T) {
	a := sharedAnalyzer(t)
	q := a.Query("南京市长江大桥")
	if len(q) != 2 || q[0].Position != 0 || q[1].Position != 1 {
		t.Fatalf("Query positions = %+v", q)
	}
	pos := map[string]int{}
	for _, tok := range a.Index("南京市长江大桥") {
		pos[tok.Term] = tok.Position
	}
	if pos["南京"] != pos["南京市"] || pos["长江"] != pos["长江大桥"] || pos["长江大桥"] != pos["南京市"]+1 {
		t.Fatalf("Index positions = %v; sub-words must share their word's position", pos)
	}
}

func TestHighlight(t *testing.T) {
	a := sharedAnalyzer(t)
	tests := []struct {
		name, text string
		terms      []string
		max        int
		want       string
	}{
		{"whole", "北京市委召开会议", []string{"北京"}, 0, "<mark>北京</mark>市委召开会议"},
		{"fullwidth", "建设５Ｇ基站", []string{"5g基站"}, 0, "建设<mark>５Ｇ基站</mark>"},
		{"merge", "南京市长江大桥", []string{"南京市", "长江大桥"}, 0, "<mark>南京市长江大桥</mark>"},
		{"escape", "<b>北京</b>", []string{"北京"}, 0, "&lt;b&gt;<mark>北京</mark>&lt;/b&gt;"},
		{"no match", "一二三四五六七八九十", []string{"北京"}, 4, "一二三四…"},
		{"sentence start", strings.Repeat("前文很长。", 20) + "今天召开北京会议，" + strings.Repeat("后文", 50), []string{"北京"}, 20, "今天召开<mark>北京</mark>会议，后文后文后文后文后文后…"},
		{"ellipsis", strings.Repeat("前文很长", 30) + "北京" + strings.Repeat("后文", 50), []string{"北京"}, 6, "…<mark>北京</mark>后文后文…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Highlight(tt.text, tt.terms, tt.max); got != tt.want {
				t.Errorf("Highlight = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHighlightPicksDensestWindow(t *testing.T) {
	a := sharedAnalyzer(t)
	text := "北京" + strings.Repeat("无关内容", 40) + "。上海和北京合作。" + strings.Repeat("无关内容", 40)
	got := a.Highlight(text, []string{"北京", "上海"}, 20)
	if !strings.Contains(got, "<mark>上海</mark>") || !strings.Contains(got, "<mark>北京</mark>") {
		t.Fatalf("Highlight = %q, want the window holding both terms", got)
	}
}

func TestReload(t *testing.T) {
	dict := filepath.Join(t.TempDir(), "user.txt")
	if err := os.WriteFile(dict, []byte("# site words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newTestAnalyzer(t, dict)
	if got := terms(a.Query("蓝莓果冻厂")); slices.Contains(got, "蓝莓果冻厂") {
		t.Fatalf("word known before it was added: %v", got)
	}
	if err := os.WriteFile(dict, []byte("蓝莓果冻厂 100\nＸＹＺ工程 n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := terms(a.Query("蓝莓果冻厂")); !slices.Equal(got, []string{"蓝莓果冻厂"}) {
		t.Fatalf("after Reload Query = %v", got)
	}
	if got := terms(a.Query("xyz工程")); !slices.Equal(got, []string{"xyz工程"}) {
		t.Fatalf("user words are not normalized: %v", got)
	}
}

// TestConcurrent shares one jieba instance among goroutines while Reload swaps it (run with -race).
func TestConcurrent(t *testing.T) {
	dict := filepath.Join(t.TempDir(), "user.txt")
	os.WriteFile(dict, []byte("蓝莓果冻厂\n"), 0o644)
	a := newTestAnalyzer(t, dict)
	want := terms(a.Index("南京市长江大桥和北京市委，５Ｇ基站"))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if got := terms(a.Index("南京市长江大桥和北京市委，５Ｇ基站")); !slices.Equal(got, want) {
					errs <- fmt.Sprintf("goroutine %d iteration %d: %v", g, i, got)
					return
				}
				a.Query("蓝莓果冻厂")
			}
		}()
	}
	for range 3 {
		if err := a.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

var goldenInputs = []string{
	"南京市长江大桥",
	"北京市委",
	"２０１９年、ＡＢＣ",
	"5G基站",
	"PM2.5浓度",
	"12345热线",
	"发展改革委",
	"A3区居民反映：　小区门口道路积水严重，\n\t\t希望市政府办公厅协调解决。",
}

func TestGolden(t *testing.T) {
	a := sharedAnalyzer(t)
	var b strings.Builder
	for _, in := range goldenInputs {
		fmt.Fprintf(&b, "input: %q\n", in)
		for _, mode := range []struct {
			name string
			f    func(string) []Token
		}{{"index", a.Index}, {"query", a.Query}} {
			fmt.Fprintf(&b, "  %s:", mode.name)
			for _, tok := range mode.f(in) {
				fmt.Fprintf(&b, " %s@%d[%d:%d]", tok.Term, tok.Position, tok.Start, tok.End)
			}
			b.WriteString("\n")
		}
	}
	path := filepath.Join("testdata", "segment.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./analyzers -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("segmentation changed; diff testdata/segment.golden against:\n%s", b.String())
	}
}

func checkInvariants(t *testing.T, a *Analyzer, text string, terms []string, maxRunes int) {
	// Rune boundaries as Go sees them (an invalid byte is a rune of its own).
	boundary := map[int]bool{len(text): true}
	for i := range text {
		boundary[i] = true
	}
	for _, mode := range [][]Token{a.Index(text), a.Query(text)} {
		for _, tok := range mode {
			if tok.Start < 0 || tok.End > len(text) || tok.Start >= tok.End {
				t.Fatalf("token %+v out of bounds for %q", tok, text)
			}
			if !boundary[tok.Start] || !boundary[tok.End] {
				t.Fatalf("token %+v not on rune boundaries of %q", tok, text)
			}
			if tok.Term == "" || strings.ContainsAny(tok.Term, " \t\n") {
				t.Fatalf("bad term %+v", tok)
			}
		}
	}
	h := a.Highlight(text, terms, maxRunes)
	stripped := strings.ReplaceAll(strings.ReplaceAll(h, "<mark>", ""), "</mark>", "")
	if strings.Contains(stripped, "<") || strings.Contains(stripped, ">") {
		t.Fatalf("Highlight(%q) = %q has unescaped markup", text, h)
	}
	depth := 0
	for rest := h; rest != ""; {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		switch {
		case strings.HasPrefix(rest[i:], "<mark>"):
			depth++
		case strings.HasPrefix(rest[i:], "</mark>"):
			depth--
		}
		if depth < 0 || depth > 1 {
			t.Fatalf("Highlight(%q) = %q: unbalanced marks", text, h)
		}
		rest = rest[i+1:]
	}
	if depth != 0 {
		t.Fatalf("Highlight(%q) = %q: unbalanced marks", text, h)
	}
	if maxRunes > 0 && utf8.RuneCountInString(html.UnescapeString(stripped)) > maxRunes+2 {
		t.Fatalf("Highlight(%q, %d) = %q is too long", text, maxRunes, h)
	}
}

func FuzzAnalyzer(f *testing.F) {
	for _, in := range goldenInputs {
		f.Add(in, "北京", 10)
	}
	f.Add("<script>北京</script>\x00\xff", "<", 3)
	f.Add("PM2.5..5g.。pm", "pm2.5", 0)
	f.Fuzz(func(t *testing.T, text, term string, maxRunes int) {
		a := sharedAnalyzer(t)
		if maxRunes < 0 {
			maxRunes = -maxRunes % 300
		}
		terms := terms(a.Query(term))
		checkInvariants(t, a, text, append(terms, term), maxRunes%300)
	})
}

func TestUserDictLines(t *testing.T) {
	var b strings.Builder
	var buf bytes.Buffer
	userDictLines([]byte("# comment\n\nＡ５区\n热词 100\n零频 0\n词 5 nz\n标签词 n\n"), &buf)
	b.WriteString(buf.String())
	want := "a5区\n热词 100 n\n零频\n词 5 nz\n标签词 n\n"
	if b.String() != want {
		t.Fatalf("userDictLines = %q, want %q", b.String(), want)
	}
}

func BenchmarkIndex(b *testing.B) {
	a := sharedAnalyzer(b)
	text := strings.Repeat("A3区居民反映：小区门口道路积水严重，希望市政府办公厅协调解决。５Ｇ基站建设和PM2.5治理也需要关注。", 6)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		a.Index(text)
	}
}

func TestTraditionalFoldsToSimplified(t *testing.T) {
	a := sharedAnalyzer(t)
	if n := len(t2s()); n < 2000 {
		t.Fatalf("t2s table has %d entries; the OpenCC tables did not load", n)
	}
	terms := func(toks []Token) []string {
		var out []string
		for _, tk := range toks {
			out = append(out, tk.Term)
		}
		return out
	}
	trad := "國務院辦公廳關於發展改革委員會的報告"
	simp := "国务院办公厅关于发展改革委员会的报告"
	if got, want := terms(a.Query(trad)), terms(a.Query(simp)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("traditional query terms %v, simplified %v: want equal", got, want)
	}
	// Offsets still point into the traditional original.
	for _, tk := range a.Index(trad) {
		if !utf8.ValidString(trad[tk.Start:tk.End]) || tk.End > len(trad) {
			t.Fatalf("token %+v has offsets outside the original", tk)
		}
	}
	h := a.Highlight(trad, []string{"报告"}, 0)
	if !strings.Contains(h, "<mark>報告</mark>") {
		t.Fatalf("highlight %q: want the traditional original marked", h)
	}
}
