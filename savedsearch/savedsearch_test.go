package savedsearch_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/analyzers"
	"infowork/auth"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/submission"
	"infowork/unit"
)

var (
	anOnce sync.Once
	an     *analyzers.Analyzer
	anErr  error
)

func analyzer(t *testing.T) *analyzers.Analyzer {
	t.Helper()
	anOnce.Do(func() {
		dir, err := os.MkdirTemp("", "infowork-savedsearch-jieba-")
		if err == nil {
			an, anErr = analyzers.New(analyzers.Options{CacheDir: dir})
		} else {
			anErr = err
		}
	})
	if anErr != nil {
		t.Fatal(anErr)
	}
	return an
}

func TestParseParams(t *testing.T) {
	p, err := savedsearch.ParseParams("/search?q=物业+管理&unit=Z1&unit=Z2&classification=secret&from=2026-01-01&page=3")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Encode(); got != "q=%E7%89%A9%E4%B8%9A+%E7%AE%A1%E7%90%86&unit=Z1&unit=Z2&classification=secret&from=2026-01-01" {
		t.Fatalf("canonical form %q (page dropped, order fixed)", got)
	}
	for _, bad := range []string{`q="未闭合`, "month=2026-13", "classification=top", "from=yesterday", "sort=random"} {
		var ve *savedsearch.ValidationError
		if _, err := savedsearch.ParseParams(bad); !errors.As(err, &ve) {
			t.Errorf("ParseParams(%q) = %v, want a validation error", bad, err)
		}
	}
}

func TestMatcher(t *testing.T) {
	m := savedsearch.NewMatcher(analyzer(t))
	d := search.Document{ID: "1", Title: "小区物业管理问题", Body: "居民反映电梯长期故障，物业公司不予维修。", Unit: "Z1", Category: "城乡建设",
		District: "芙蓉区", Date: time.Date(2026, 3, 5, 10, 0, 0, 0, search.Location)}
	cases := []struct {
		q    string
		want bool
	}{
		{"", true},
		{"物业", true},
		{"电梯 故障", true},
		{"电梯 燃气", false},
		{"燃气 | 电梯", true},
		{"物业 -电梯", false},
		{`"物业公司"`, true},
		{`"公司物业"`, false},
		{"title:电梯", false},
		{"body:电梯", true},
		{"q=物业&unit=Z2", false},
		{"q=物业&district=芙蓉区&month=2026-03", true},
		{"q=物业&from=2026-03-06", false},
		{"q=物业&classification=secret", false},
	}
	for _, c := range cases {
		raw := c.q
		if raw != "" && !containsEq(raw) {
			raw = "q=" + raw
		}
		p, err := savedsearch.ParseParams(urlFix(raw))
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		got, err := m.Match(p, d)
		if err != nil || got != c.want {
			t.Errorf("Match(%q) = %v, %v; want %v", c.q, got, err, c.want)
		}
	}
}

func containsEq(s string) bool {
	for _, r := range s {
		if r == '=' {
			return true
		}
	}
	return false
}

// urlFix escapes what a browser would (| and quotes stay literal in ParseQuery, + is a space).
func urlFix(s string) string {
	out := []rune{}
	for _, r := range s {
		switch r {
		case ' ':
			out = append(out, '+')
		case '|':
			out = append(out, []rune("%7C")...)
		default:
			out = append(out, r)
		}
	}
	return string(out)
}

// A subscription fires within seconds of a matching report, once, only for subscribers who may
// read the record.
func TestSubscriptionFiresWhenAMatchingReportIsIndexed(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	log := testenv.Logger(t)
	for _, u := range []unit.Unit{{Code: "Z1", Name: "东湖街道", Kind: unit.KindDirect, District: "芙蓉区"}, {Code: "Z2", Name: "西湖街道", Kind: unit.KindDirect}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	authSvc, err := auth.New(db, auth.Options{Logger: log, SecretKey: []byte("infowork-test-secret-key-32-byte"),
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]int64{}
	for _, u := range []struct {
		name, role, unit string
		level            label.Level
	}{
		{"editor1", "editor", "", label.Secret}, {"public1", "researcher", "", label.Public},
		{"rep2", "reporter", "Z2", label.Secret}, {"rep1", "reporter", "Z1", label.Secret},
	} {
		nu, err := authSvc.CreateUser(ctx, auth.NewUser{Username: u.name, Password: "Fixture-pass-2026", Roles: []string{u.role}, UnitCode: u.unit, Clearance: u.level})
		if err != nil {
			t.Fatal(err)
		}
		users[u.name] = nu.ID
	}
	saved := savedsearch.New(db)
	var ids []int64
	for _, name := range []string{"editor1", "public1", "rep2"} {
		ss, err := saved.Create(ctx, users[name], "物业问题", "q=物业", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := saved.Subscribe(ctx, users[name], ss.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ss.ID)
	}
	// A private saved search is not usable by another user; a shared one is.
	if err := saved.Subscribe(ctx, users["public1"], ids[0]); !errors.Is(err, savedsearch.ErrNotFound) {
		t.Fatalf("subscribing to another user's private search: %v", err)
	}

	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: analyzer(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := prometheus.NewRegistry()
	notifier, err := savedsearch.NewNotifier(savedsearch.NotifierOptions{DB: db, Analyzer: analyzer(t), Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := indexer.New(indexer.Options{DB: db, Engine: eng, Logger: log, Registerer: reg, PollInterval: 100 * time.Millisecond,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}, OnIndexed: notifier.OnIndexed})
	if err != nil {
		t.Fatal(err)
	}
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = ix.Run(ictx) }()
	defer func() { cancel(); <-done }()

	subs := submission.New(db)
	rep1 := access.Subject{UserID: users["rep1"], Username: "rep1", UnitCode: "Z1", Roles: []string{"reporter"}, Clearance: label.Secret}
	create := func(title string, level string, draft bool) int64 {
		c, err := subs.Create(ctx, rep1, submission.Input{Title: title, Body: title + "，请尽快处理。", Classification: level, Draft: draft}, "")
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	count := func(user string) int {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'subscription'`, users[user]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(user string, want int) time.Duration {
		start := time.Now()
		for count(user) < want {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s has %d notifications after 10 s, want %d", user, count(user), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}

	start := time.Now()
	nonMatching := create("道路积水严重", "secret", false)
	draft := create("物业费上涨（草稿）", "public", true)
	secret := create("小区物业管理混乱", "secret", false)
	waitFor("editor1", 1)
	t.Logf("subscription fired %v after the report was stored", time.Since(start))
	// Everything created so far is indexed: wait for an empty outbox, then check who got what.
	for {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if count("editor1") != 1 || count("public1") != 0 || count("rep2") != 0 {
		t.Fatalf("notifications editor %d (want 1), public reader %d (secret record: want 0), other unit's reporter %d (want 0)",
			count("editor1"), count("public1"), count("rep2"))
	}
	var sub int64
	if err := db.QueryRow(ctx, `SELECT submission_id FROM notifications WHERE user_id = $1`, users["editor1"]).Scan(&sub); err != nil || sub != secret {
		t.Fatalf("notified about %d, want %d (not %d or the draft %d)", sub, secret, nonMatching, draft)
	}
	// A public matching report reaches the public researcher too; re-indexing it (an edit)
	// does not notify twice.
	pub := create("物业维修基金使用不透明", "public", false)
	waitFor("public1", 1)
	waitFor("editor1", 2)
	reindex := func(id int64, set string) {
		if _, err := db.Exec(ctx, `UPDATE submissions SET `+set+`version = version + 1 WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO outbox (entity, entity_id) VALUES ('submission', $1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	reindex(pub, "")
	// The draft submitted for real now fires once it reaches the office.
	reindex(draft, "state = 'submitted', ")
	waitFor("editor1", 3)
	waitFor("public1", 2)
	time.Sleep(500 * time.Millisecond)
	if count("editor1") != 3 || count("public1") != 2 {
		t.Fatalf("after re-indexing: editor %d (want 3), public %d (want 2)", count("editor1"), count("public1"))
	}
	ns, err := saved.Notifications(ctx, users["public1"], 10)
	if err != nil || len(ns) != 2 || ns[0].SubmissionID != draft {
		t.Fatalf("notifications of public1: %+v %v", ns, err)
	}
	// Unsubscribed: no more.
	if err := saved.Unsubscribe(ctx, users["editor1"], ids[0]); err != nil {
		t.Fatal(err)
	}
	create("物业又出问题", "public", false)
	waitFor("public1", 3)
	if count("editor1") != 3 {
		t.Fatalf("an unsubscribed user was notified")
	}

	// A state filter (办理状态) is honoured: a subscription to records in review does not fire
	// for a submitted record, and fires when that record enters review.
	inReview, err := saved.Create(ctx, users["editor1"], "审核中的物业问题", "q=物业&state=in_review&category=", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Subscribe(ctx, users["editor1"], inReview.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // reported after the subscription was made
	later := create("物业服务投诉增多", "public", false)
	waitFor("public1", 4) // indexed and matched by the unfiltered subscription
	time.Sleep(300 * time.Millisecond)
	if count("editor1") != 3 {
		t.Fatalf("a subscription filtered to state in_review fired for a submitted record (%d notifications)", count("editor1"))
	}
	reindex(later, "state = 'in_review', ")
	waitFor("editor1", 4)
	if err := db.QueryRow(ctx, `SELECT submission_id FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT 1`, users["editor1"]).Scan(&sub); err != nil || sub != later {
		t.Fatalf("state-filtered subscription notified about %d, want %d", sub, later)
	}
}

func TestDescribe(t *testing.T) {
	p, err := savedsearch.ParseParams("q=物业&unit=Z1&classification=secret&from=2026-01-01&to=2026-03-31")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Describe(); got != "检索词「物业」；单位 Z1；密级 秘密；2026-01-01 至 2026-03-31" {
		t.Fatalf("%q", got)
	}
	if p, _ := savedsearch.ParseParams(""); p.Describe() != "全部信息" {
		t.Fatal(p.Describe())
	}
}
