package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"\n\t\t\t\t\t\u3000\u3000尊敬的领导：\n\t\t", "尊敬的领导："},
		{"\n\t\t\t\t\t\n\t\t\t\t\t\u3000\u3000尊敬的领导：\n\t\t\t\t\t\u3000\u3000我是A3区的居民。\n\t\t\t\t",
			"尊敬的领导：\n我是A3区的居民。"},
		{"第一段。\r\n\r\n\r\n第二段。", "第一段。\n第二段。"},
		{"A市\u00a0\u00a0A2区  \t 桂花坪", "A市 A2区 桂花坪"},
		{"\u3000\u3000   \t\n\t", ""},
		{"尾部空格   \n  行首空格", "尾部空格\n行首空格"},
		{"零\u200b宽\ufeff字符", "零宽字符"},
		{"段落\u2029分隔", "段落\n分隔"},
	}
	for _, c := range cases {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	sh := Location()
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2019/2/28 11:25:05", time.Date(2019, 2, 28, 11, 25, 5, 0, sh)},
		{"2019-02-28 11:25:05", time.Date(2019, 2, 28, 11, 25, 5, 0, sh)},
		{" 2019/4/25 9:32:09 ", time.Date(2019, 4, 25, 9, 32, 9, 0, sh)},
		{"2019/2/28 11:25", time.Date(2019, 2, 28, 11, 25, 0, 0, sh)},
		{"2019/2/28", time.Date(2019, 2, 28, 0, 0, 0, 0, sh)},
		{"2019-02-28", time.Date(2019, 2, 28, 0, 0, 0, 0, sh)},
		{"2019年2月28日", time.Date(2019, 2, 28, 0, 0, 0, 0, sh)},
		// Excel serial (1900 date system, days since 1899-12-30 for serials
		// ≥ 61). By hand: 2019-01-01 is serial 43466 (it is DATE(2019,1,1));
		// + 31 (Jan) + 28 (Feb) + 31 (Mar) = 43556 = 2019-04-01, so 43563 is
		// 2019-04-08. The fraction 0.359259259261 × 86400 s = 31040.0000
		// s = 8 h 37 min 20 s. Hence 2019-04-08 08:37:20 (local, UTC+8).
		{"43563.359259259261", time.Date(2019, 4, 8, 8, 37, 20, 0, sh)},
		{"43678", time.Date(2019, 8, 1, 0, 0, 0, 0, sh)},
		{"1", time.Date(1900, 1, 1, 0, 0, 0, 0, sh)},
		{"59", time.Date(1900, 2, 28, 0, 0, 0, 0, sh)},
		{"60", time.Date(1900, 3, 1, 0, 0, 0, 0, sh)}, // Excel's phantom 1900-02-29
		{"61", time.Date(1900, 3, 1, 0, 0, 0, 0, sh)},
		{"0.99999999999", time.Time{}}, // time only: rejected
	}
	for _, c := range cases {
		got, err := ParseTime(c.in)
		if c.want.IsZero() {
			if err == nil {
				t.Errorf("ParseTime(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTime(%q): %v", c.in, err)
			continue
		}
		if !got.Equal(c.want) || got.Location() != sh {
			t.Errorf("ParseTime(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	// The serial must agree with Excel's epoch computed independently.
	got, _ := ParseTime("43563.359259259261")
	if d := got.Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(-8 * time.Hour)); d != time.Duration(43563)*24*time.Hour+31040*time.Second {
		t.Errorf("serial 43563.359259259261 is %v after the epoch", d)
	}
	for _, bad := range []string{"", "留言时间", "2019/13/1", "abc 12:00", "-5", "99999999"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) succeeded, want an error", bad)
		}
	}
}

// corpusDir returns the corpus folder or skips the test.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir := DefaultCorpusDir()
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("corpus folder %s not found (CI always has it; see ../shared/corpus/README.md): skipping", dir)
	}
	return dir
}

// checkDataset checks the invariants every Dataset must hold.
func checkDataset(t *testing.T, ds *Dataset) {
	t.Helper()
	units := map[string]Unit{}
	for _, u := range ds.Units {
		if _, dup := units[u.Code]; dup {
			t.Errorf("unit code %s twice", u.Code)
		}
		units[u.Code] = u
		switch u.Kind {
		case "district", "bureau", "direct":
		default:
			t.Errorf("unit %s has kind %q", u.Code, u.Kind)
		}
	}
	for _, u := range ds.Units {
		if u.Parent != "" {
			if _, ok := units[u.Parent]; !ok {
				t.Errorf("unit %s has unknown parent %s", u.Code, u.Parent)
			}
		}
		if u.Kind == "direct" && (units[u.Parent].Kind != "district" || units[u.Parent].District != u.District || u.District == "") {
			t.Errorf("direct point %s is not under its district", u.Code)
		}
	}
	cats := map[string]Category{}
	for _, c := range ds.Categories {
		if _, dup := cats[c.Code]; dup {
			t.Errorf("category code %s twice", c.Code)
		}
		cats[c.Code] = c
		if c.Level < 1 || c.Level > 3 || (c.Level == 1) != (c.Parent == "") {
			t.Errorf("category %+v: bad level/parent", c)
		}
	}
	ids := map[string]bool{}
	for _, m := range ds.Messages {
		if ids[m.SourceID] {
			t.Errorf("SourceID %s twice", m.SourceID)
		}
		ids[m.SourceID] = true
		if m.Title == "" || m.Body == "" || m.UnitCode == "" || m.CategoryCode == "" || m.Classification == "" || m.Urgency == "" {
			t.Errorf("%s: empty field: %+v", m.SourceID, m)
		}
		if _, ok := units[m.UnitCode]; !ok {
			t.Errorf("%s: unknown unit %s", m.SourceID, m.UnitCode)
		} else if u := units[m.UnitCode]; u.District != "" && u.District != m.District {
			t.Errorf("%s: unit %s of %s for a message of district %q", m.SourceID, u.Code, u.District, m.District)
		}
		if c, ok := cats[m.CategoryCode]; !ok || c.Level < 2 {
			t.Errorf("%s: category %s is not a known level-2/3 code", m.SourceID, m.CategoryCode)
		}
		for _, s := range []string{m.Title, m.Body, m.Reply} {
			if strings.ContainsAny(s, "\u3000\t\r\u00a0") || strings.Contains(s, "\n\n") || strings.TrimSpace(s) != s {
				t.Errorf("%s: text not clean: %q", m.SourceID, s)
				break
			}
		}
		if m.Time.Location() != Location() {
			t.Errorf("%s: time %v not in Asia/Shanghai", m.SourceID, m.Time)
		}
		switch m.Classification {
		case "public", "internal", "secret", "confidential":
		default:
			t.Errorf("%s: classification %q", m.SourceID, m.Classification)
		}
		switch m.Urgency {
		case "normal", "urgent", "very_urgent":
		default:
			t.Errorf("%s: urgency %q", m.SourceID, m.Urgency)
		}
	}
}

func TestLoadCorpus(t *testing.T) {
	dir := corpusDir(t)
	ds, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ds.Source, "corpus:") {
		t.Errorf("Source = %q", ds.Source)
	}
	for _, w := range ds.Warnings {
		t.Log("warning:", w)
	}
	// 4,326 + 2,816 + 495 = 7,637 rows; about a hundred are merged as
	// duplicates by (title, time).
	if n := len(ds.Messages); n < 7500 || n > 7637 {
		t.Fatalf("%d messages, want 7,500..7,637", n)
	}
	checkDataset(t, ds)

	lo := time.Date(2010, 1, 1, 0, 0, 0, 0, Location())
	hi := time.Date(2021, 1, 1, 0, 0, 0, 0, Location())
	perFile := map[string]int{}
	cls := map[string]int{}
	urg := map[string]int{}
	districts := map[string]int{}
	replies := 0
	for i, m := range ds.Messages {
		if m.Time.Before(lo) || !m.Time.Before(hi) {
			t.Errorf("%s: time %v outside 2010..2020", m.SourceID, m.Time)
		}
		if i > 0 && m.Time.After(ds.Messages[i-1].Time) {
			t.Errorf("messages not newest first at %d", i)
		}
		file, _, _ := strings.Cut(m.SourceID, ":")
		perFile[file]++
		cls[m.Classification]++
		urg[m.Urgency]++
		if m.District != "" {
			districts[m.District]++
		}
		if m.Reply != "" {
			replies++
		}
	}
	t.Logf("per file %v, classification %v, urgency %v, districts %v, replies %d, units %d, categories %d",
		perFile, cls, urg, districts, replies, len(ds.Units), len(ds.Categories))
	if perFile["sheet3"] < 4200 || perFile["sheet4"] < 2700 || perFile["sheet2"] < 400 {
		t.Errorf("per file counts %v too low", perFile)
	}
	if replies < 2700 {
		t.Errorf("%d messages with a reply, want ≥ 2,700", replies)
	}
	if len(districts) < 8 {
		t.Errorf("%d districts found, want ≥ 8: %v", len(districts), districts)
	}
	n := float64(len(ds.Messages))
	share := func(m map[string]int, k string, want, tol float64) {
		if got := float64(m[k]) / n; got < want-tol || got > want+tol {
			t.Errorf("%s share %.3f, want %.2f±%.2f", k, got, want, tol)
		}
	}
	share(cls, "public", 0.70, 0.03)
	share(cls, "internal", 0.20, 0.03)
	share(cls, "secret", 0.08, 0.02)
	share(cls, "confidential", 0.02, 0.01)
	share(urg, "normal", 0.85, 0.03)
	share(urg, "urgent", 0.12, 0.03)
	share(urg, "very_urgent", 0.03, 0.01)

	if c := len(ds.Categories); c < 500 {
		t.Errorf("%d categories, want the full tree (15 top-level, one code per distinct path below: 650)", c)
	}
	if u := len(ds.Units); u < 60 || u > 120 {
		t.Errorf("%d units, want 60..120", u)
	}
	// Every unit kind is used.
	kinds := map[string]int{}
	unitKind := map[string]string{}
	for _, u := range ds.Units {
		unitKind[u.Code] = u.Kind
	}
	for _, m := range ds.Messages {
		kinds[unitKind[m.UnitCode]]++
	}
	if kinds["district"] == 0 || kinds["bureau"] == 0 || kinds["direct"] == 0 {
		t.Errorf("messages per unit kind %v", kinds)
	}

	// A well-known row: sheet4 2549 of SOURCE.txt's sample; its duplicate in sheet 3 comes first
	// and holds the merged row.
	found := false
	for _, m := range ds.Messages {
		if m.SourceID == "sheet3:257340" {
			found = true
			// The title is compared by its SHA-256, so the corpus text stays out of the repository.
			if sum := sha256.Sum256([]byte(m.Title)); hex.EncodeToString(sum[:]) != "058818da24435ffb7ec073e5c057e8d0dc1258ff8557c729c3a2deef951980c5" || m.District != "A2区" || m.Reply == "" ||
				!m.Time.Equal(time.Date(2019, 4, 25, 9, 32, 9, 0, Location())) {
				t.Errorf("sheet3:257340 = %+v", m)
			}
		}
	}
	if !found {
		t.Error("the well-known row sheet3:257340 is missing")
	}
}

func TestLoadLimitAndDeterminism(t *testing.T) {
	dir := corpusDir(t)
	a, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two loads of the same corpus differ")
	}
	c, err := Load(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 100 || !reflect.DeepEqual(c.Messages, a.Messages[:100]) {
		t.Fatalf("Load(dir, 100) is not the first 100 messages of the full load")
	}
}

func TestLoadMissingCorpus(t *testing.T) {
	ds, err := Load("/nonexistent", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Source != "sample" {
		t.Errorf("Source = %q, want sample", ds.Source)
	}
	if len(ds.Warnings) == 0 || !strings.Contains(ds.Warnings[0], "not found at /nonexistent") {
		t.Errorf("warnings %q do not say the corpus folder was not found", ds.Warnings)
	}
	if len(ds.Messages) < 25 {
		t.Errorf("sample has %d messages, want ~30", len(ds.Messages))
	}
	checkDataset(t, ds)
	districts := map[string]bool{}
	for _, m := range ds.Messages {
		districts[m.District] = true
	}
	if len(districts) < 6 {
		t.Errorf("sample covers %d districts", len(districts))
	}
	again, _ := Load("/nonexistent", 0)
	if !reflect.DeepEqual(ds, again) {
		t.Error("two loads of the sample differ")
	}
	few, _ := Load("/nonexistent", 5)
	if len(few.Messages) != 5 {
		t.Errorf("limit 5 gave %d messages", len(few.Messages))
	}
}

func TestDefaultCorpusDir(t *testing.T) {
	d := DefaultCorpusDir()
	if !strings.HasSuffix(d, "civic-messages") {
		t.Errorf("DefaultCorpusDir() = %q", d)
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := corpusDir(b)
	b.ReportAllocs()
	for b.Loop() {
		ds, err := Load(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ds.Messages)), "messages")
	}
}
