package analyzers

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/yanyiwu/gojieba"
)

// Options configures an Analyzer.
type Options struct {
	// UserDict is an optional extra user dictionary (jieba format: "word [freq] [tag]" per
	// line), read by New and again by every Reload.
	UserDict string
	// Synonyms is an optional extra synonym file (one group per line, words separated by commas
	// or spaces; see dict/synonyms.txt), read with the embedded one by New and by every Reload.
	Synonyms string
	// CacheDir receives the extracted embedded dictionaries; default
	// filepath.Join(os.TempDir(), "infowork-jieba-<short content hash>").
	CacheDir string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Token is one term of analyzed text.
type Token struct {
	Term     string // normalized term as indexed/queried
	Start    int    // byte offset of the token in the original text
	End      int    // byte offset (exclusive) in the original text
	Position int    // word position; search-mode sub-words share the position of their word
}

// Analyzer segments and normalizes Chinese text. It is safe for concurrent use.
type Analyzer struct {
	opts   Options
	log    *slog.Logger
	paths  dictPaths
	stop   map[string]struct{}
	reload sync.Mutex // serializes Reload

	mu sync.RWMutex // readers: segmentation calls; writer: swapping or freeing jb
	jb *gojieba.Jieba

	syn atomic.Pointer[synTable] // query-time synonyms, segmented with jb (see Expand)
}

type dictPaths struct {
	main, hmm, idf, stop string
}

// New extracts the embedded dictionaries and loads jieba with them plus Options.UserDict.
func New(opts Options) (*Analyzer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheDir == "" {
		h, err := embeddedHash()
		if err != nil {
			return nil, fmt.Errorf("analyzers: %w", err)
		}
		opts.CacheDir = filepath.Join(os.TempDir(), "infowork-jieba-"+h)
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil { // #nosec G301 -- holds the public jieba dictionaries only, shared read-only between processes
		return nil, fmt.Errorf("analyzers: create cache dir: %w", err)
	}
	a := &Analyzer{opts: opts, log: opts.Logger.With("component", "analyzers")}
	var err error
	for _, d := range []struct {
		dst  *string
		name string
	}{{&a.paths.main, dictMain}, {&a.paths.hmm, dictHMM}, {&a.paths.idf, dictIDF}, {&a.paths.stop, dictStop}} {
		if *d.dst, err = extractGz(opts.CacheDir, d.name); err != nil {
			return nil, fmt.Errorf("analyzers: %w", err)
		}
	}
	if a.stop, err = readStopWords(); err != nil {
		return nil, fmt.Errorf("analyzers: %w", err)
	}
	groups, err := a.readSynonyms()
	if err != nil {
		return nil, fmt.Errorf("analyzers: %w", err)
	}
	if a.jb, err = a.load(); err != nil {
		return nil, fmt.Errorf("analyzers: %w", err)
	}
	a.syn.Store(a.buildSynonyms(groups))
	return a, nil
}

// load builds a jieba instance from the extracted dictionaries and the current user
// dictionaries. gojieba panics on missing files; that never reaches the caller.
func (a *Analyzer) load() (jb *gojieba.Jieba, err error) {
	var buf bytes.Buffer
	embedded, err := dictFS.ReadFile("dict/" + dictUser)
	if err != nil {
		return nil, fmt.Errorf("read embedded user dictionary: %w", err)
	}
	userDictLines(embedded, &buf)
	if a.opts.UserDict != "" {
		extra, err := os.ReadFile(a.opts.UserDict)
		if err != nil {
			return nil, fmt.Errorf("read user dictionary: %w", err)
		}
		userDictLines(extra, &buf)
	}
	user, err := writeContent(a.opts.CacheDir, dictUser, buf.Bytes())
	if err != nil {
		return nil, err
	}
	for _, p := range []string{a.paths.main, a.paths.hmm, user, a.paths.idf, a.paths.stop} {
		// cppjieba aborts the process on a file it cannot open; check first.
		f, err := os.Open(p) // #nosec G304 -- dictionary paths from the analyzer's own cache dir or options
		if err != nil {
			return nil, fmt.Errorf("load jieba: %w", err)
		}
		_ = f.Close()
	}
	defer func() {
		if r := recover(); r != nil {
			jb, err = nil, fmt.Errorf("load jieba: %v", r)
		}
	}()
	return gojieba.NewJieba(a.paths.main, a.paths.hmm, user, a.paths.idf, a.paths.stop), nil
}

// Reload re-reads Options.UserDict and the synonym files. New words and synonyms apply to calls
// that start after Reload returns; calls in flight finish on the old dictionary, which is freed
// afterwards. On error nothing changes.
func (a *Analyzer) Reload() error {
	a.reload.Lock()
	defer a.reload.Unlock()
	groups, err := a.readSynonyms()
	if err != nil {
		return fmt.Errorf("analyzers: reload: %w", err)
	}
	jb, err := a.load()
	if err != nil {
		return fmt.Errorf("analyzers: reload: %w", err)
	}
	a.mu.Lock()
	old := a.jb
	a.jb = jb
	a.mu.Unlock()
	if old != nil {
		old.Free()
	}
	// Synonyms are stored as token sequences, so they are segmented again with the new
	// dictionary.
	syn := a.buildSynonyms(groups)
	a.syn.Store(syn)
	a.log.Info("dictionaries reloaded", "user_dict", a.opts.UserDict, "synonyms", a.opts.Synonyms, "synonym_groups", syn.groups)
	return nil
}

// Close frees the jieba instance. Index and Query return nothing after Close.
func (a *Analyzer) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jb != nil {
		a.jb.Free()
		a.jb = nil
	}
}

// Index analyzes text for indexing: jieba search mode (words plus the dictionary words inside
// them), normalized, without punctuation, whitespace and stop words.
func (a *Analyzer) Index(text string) []Token { return a.analyze(text, true) }

// Query analyzes text for querying: jieba precise mode, same normalization and filtering.
func (a *Analyzer) Query(text string) []Token { return a.analyze(text, false) }

type span struct{ s, e int } // byte range in normalized text

func (a *Analyzer) analyze(text string, search bool) []Token {
	if text == "" {
		return nil
	}
	nt := normalize(text)
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.jb == nil {
		return nil
	}
	mode := gojieba.DefaultMode
	if search {
		mode = gojieba.SearchMode
	}
	words := a.jb.Tokenize(nt.s, mode, true)
	if len(words) == 0 {
		return nil
	}

	// Precise words are the tokens not strictly inside another one (in search mode cppjieba
	// emits a word's sub-words before the word itself; precise words tile the text).
	all := make([]span, 0, len(words))
	for _, w := range words {
		if w.Start < w.End && w.End <= len(nt.s) {
			all = append(all, span{w.Start, w.End})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s < all[j].s
		}
		return all[i].e > all[j].e
	})
	var tops, subs []span
	for _, sp := range all {
		if len(tops) > 0 && sp.s < tops[len(tops)-1].e {
			if sp != tops[len(tops)-1] {
				subs = append(subs, sp)
			}
			continue
		}
		tops = append(tops, sp)
	}
	tops = glueRuns(nt.s, tops)

	var out []Token
	pos := 0
	si := 0
	for _, top := range tops {
		term := nt.s[top.s:top.e]
		if !a.keep(term) {
			for si < len(subs) && subs[si].s < top.e {
				si++
			}
			continue
		}
		first := len(out)
		emit := func(sp span) {
			t := nt.s[sp.s:sp.e]
			if !a.keep(t) {
				return
			}
			s, e := nt.orig(sp.s, sp.e)
			for _, o := range out[first:] {
				if o.Term == t && o.Start == s {
					return
				}
			}
			out = append(out, Token{Term: t, Start: s, End: e, Position: pos})
		}
		if search {
			for ; si < len(subs) && subs[si].s < top.e; si++ {
				if sub := subs[si]; sub.s >= top.s && sub.e <= top.e && !cutsRun(nt.s, sub) {
					emit(sub)
				}
			}
			if utf8.RuneCountInString(term) > 4 {
				// cppjieba's search mode only looks for 2- and 3-character words inside a word;
				// full mode also finds longer ones (社会保障 in 劳动和社会保障).
				for _, sp := range fullWords(a.jb, nt.s, top) {
					emit(sp)
				}
			}
			for _, r := range runsIn(nt.s, top) {
				if r != top {
					emit(r)
				}
			}
		}
		emit(top)
		sort.SliceStable(out[first:], func(i, j int) bool {
			x, y := out[first+i], out[first+j]
			if x.Start != y.Start {
				return x.Start < y.Start
			}
			return x.End > y.End
		})
		pos++
	}
	return out
}

// fullWords returns the dictionary words of two or more runes inside top (jieba full mode),
// other than top itself.
func fullWords(jb *gojieba.Jieba, s string, top span) []span {
	sub := s[top.s:top.e]
	var out []span
	cursor := 0
	for _, w := range jb.CutAll(sub) {
		i := strings.Index(sub[cursor:], w)
		if i < 0 {
			continue
		}
		cursor += i
		if utf8.RuneCountInString(w) >= 2 && len(w) < len(sub) {
			sp := span{top.s + cursor, top.s + cursor + len(w)}
			if !cutsRun(s, sp) {
				out = append(out, sp)
			}
		}
	}
	return out
}

// keep reports whether term is indexed: it must hold a letter or digit and not be a stop word
// (a number is never a stop word).
func (a *Analyzer) keep(term string) bool {
	alnum, digits := false, true
	for _, r := range term {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			alnum = true
		}
		if r < '0' || r > '9' {
			digits = false
		}
	}
	if !alnum {
		return false
	}
	if digits {
		return true
	}
	_, stop := a.stop[term]
	return !stop
}

func isRunByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// runAt returns the Latin/digit run around byte i: [a-z0-9]+ joined by single dots.
func runs(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		if !isRunByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) {
			if isRunByte(s[j]) {
				j++
				continue
			}
			if s[j] == '.' && j+1 < len(s) && isRunByte(s[j+1]) && j > i {
				j++
				continue
			}
			break
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

// runsIn returns the Latin/digit runs inside sp.
func runsIn(s string, sp span) []span {
	rs := runs(s[sp.s:sp.e])
	for i := range rs {
		rs[i].s += sp.s
		rs[i].e += sp.s
	}
	// A run cut by the word's edge is not a run of the text.
	out := rs[:0]
	for _, r := range rs {
		if (r.s > 0 && (isRunByte(s[r.s-1]) || s[r.s-1] == '.' && r.s > 1 && isRunByte(s[r.s-2]))) ||
			(r.e < len(s) && (isRunByte(s[r.e]) || s[r.e] == '.' && r.e+1 < len(s) && isRunByte(s[r.e+1]))) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// cutsRun reports whether sp starts or ends inside a Latin/digit run (a jieba fragment such as
// "pm2" of "pm2.5").
func cutsRun(s string, sp span) bool {
	inRun := func(i int) bool { // is the boundary at byte i inside a run?
		if i <= 0 || i >= len(s) {
			return false
		}
		l, r := s[i-1], s[i]
		if isRunByte(l) && isRunByte(r) {
			return true
		}
		if l == '.' && isRunByte(r) && i >= 2 && isRunByte(s[i-2]) {
			return true
		}
		return r == '.' && isRunByte(l) && i+1 < len(s) && isRunByte(s[i+1])
	}
	return inRun(sp.s) || inRun(sp.e)
}

// glueRuns merges consecutive words that all lie inside one Latin/digit run of s (jieba splits
// "pm2.5" into pieces) into a single word. Words that reach beyond the run (a dictionary word
// such as "5g基站") are kept as they are.
func glueRuns(s string, tops []span) []span {
	rs := runs(s)
	if len(rs) == 0 {
		return tops
	}
	out := tops[:0:0]
	ri := 0
	for i := 0; i < len(tops); {
		t := tops[i]
		for ri < len(rs) && rs[ri].e <= t.s {
			ri++
		}
		if ri < len(rs) && rs[ri].s <= t.s && t.e <= rs[ri].e {
			r := rs[ri]
			j := i
			for j < len(tops) && tops[j].s >= r.s && tops[j].e <= r.e {
				j++
			}
			merged := span{tops[i].s, tops[j-1].e}
			if merged.s == r.s && merged.e == r.e || j-i > 1 {
				// Also absorb a dot jieba left outside (already inside r by construction).
				out = append(out, merged)
				i = j
				continue
			}
		}
		out = append(out, t)
		i++
	}
	return out
}
