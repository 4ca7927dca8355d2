package submission_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/category"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
	"infowork/workflow"
)

// fixture is a database with two units, a small category tree and a few people.
type fixture struct {
	db       *pgxpool.Pool
	svc      *submission.Service
	reporter access.Subject // B01, clearance internal
	secret   access.Subject // B01 unit approver, clearance secret
	other    access.Subject // B02 reporter, clearance confidential
	editor   access.Subject // every unit, clearance secret
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := testenv.DB(t)
	ctx := t.Context()
	for _, u := range []unit.Unit{
		{Code: "B01", Name: "发展改革委", Kind: unit.KindBureau},
		{Code: "D02", Name: "东城区", Kind: unit.KindDistrict, District: "东城区"},
		{Code: "B02", Name: "东城区卫健委", Kind: unit.KindBureau, ParentCode: "D02", District: "东城区"},
	} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []category.Category{
		{Code: "ECO", Name: "经济运行", Level: 1},
		{Code: "ECO.IND", Name: "工业", ParentCode: "ECO", Level: 2},
		{Code: "ECO.IND.EV", Name: "新能源汽车", ParentCode: "ECO.IND", Level: 3},
		{Code: "SOC", Name: "社会民生", Level: 1},
	} {
		if _, err := category.Upsert(ctx, db, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `INSERT INTO categories (code, name, level, active) VALUES ('OLD', '已停用', 1, false)`); err != nil {
		t.Fatal(err)
	}
	user := func(name, unitCode string, roles []string, cl label.Level) access.Subject {
		var id int64
		err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
			VALUES ($1, $1 || '姓名', 'x', (SELECT id FROM units WHERE code = $2), $3, $4) RETURNING id`, name, unitCode, roles, int(cl)).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return access.Subject{UserID: id, Username: name, UnitCode: unitCode, Roles: roles, Clearance: cl}
	}
	return fixture{
		db:       db,
		svc:      submission.New(db),
		reporter: user("li", "B01", []string{"reporter"}, label.Internal),
		secret:   user("wang", "B01", []string{"unit_approver"}, label.Secret),
		other:    user("zhao", "B02", []string{"reporter"}, label.Confidential),
		editor:   user("ed", "", []string{"editor"}, label.Secret),
	}
}

func (f fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f fixture) create(t *testing.T, sub access.Subject, in submission.Input) int64 {
	t.Helper()
	c, err := f.svc.Create(t.Context(), sub, in, "10.0.0.1")
	if err != nil {
		t.Fatalf("Create(%q): %v", in.Title, err)
	}
	return c.ID
}

func TestCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	c, err := f.svc.Create(ctx, f.reporter, submission.Input{
		Title: "  关于 工业\t运行的\n情况 ", Body: "第一段。\n\n第二段。", CategoryCode: "ECO.IND",
		Urgency: submission.UrgencyUrgent, Classification: "内部", WriterName: "李四", WriterPhone: "010-6512 3456",
	}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 || c.Version != 1 || c.Duplicate {
		t.Fatalf("Create = %+v", c)
	}
	var (
		title, bodyHTML, bodyText, unitCode, urgency, source string
		cl                                                   int16
		author                                               int64
	)
	err = f.db.QueryRow(ctx, `SELECT s.title, s.body_html, s.body_text, u.code, s.urgency, s.classification, s.author_id, s.source
		FROM submissions s JOIN units u ON u.id = s.unit_id WHERE s.id = $1`, c.ID).
		Scan(&title, &bodyHTML, &bodyText, &unitCode, &urgency, &cl, &author, &source)
	if err != nil {
		t.Fatal(err)
	}
	if title != "关于 工业 运行的 情况" || bodyHTML != "<p>第一段。</p>\n<p>第二段。</p>\n" || bodyText != "第一段。\n第二段。" ||
		unitCode != "B01" || urgency != "urgent" || cl != int16(label.Internal) || author != f.reporter.UserID || source != "web" {
		t.Errorf("stored row: %q %q %q %s %s %d %d %s", title, bodyHTML, bodyText, unitCode, urgency, cl, author, source)
	}
	var outboxN int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE entity = $1 AND entity_id = $2`, submission.Entity, c.ID).Scan(&outboxN); err != nil || outboxN != 1 {
		t.Errorf("outbox rows for the new submission = %d (%v), want 1", outboxN, err)
	}
	var auditN int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'submission.create' AND object = $1 AND label = 1 AND user_id = $2`,
		"submission:"+strconv.FormatInt(c.ID, 10), f.reporter.UserID).Scan(&auditN); err != nil || auditN != 1 {
		t.Errorf("audit rows for the create = %d (%v), want 1", auditN, err)
	}

	got, err := f.svc.Get(ctx, f.reporter, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.CategoryCode != "ECO.IND" || got.CategoryName != "工业" || got.UnitName != "发展改革委" || got.AuthorName != "li姓名" ||
		got.State != submission.StateSubmitted || got.WriterPhone != "010-6512 3456" {
		t.Errorf("Get = %+v", got)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ok := submission.Input{Title: "标题", Body: "正文"}
	with := func(mod func(*submission.Input)) submission.Input { in := ok; mod(&in); return in }
	tests := []struct {
		name   string
		in     submission.Input
		fields []string
	}{
		{"empty title", with(func(in *submission.Input) { in.Title = " \t\u3000 " }), []string{"title"}},
		{"title too long", with(func(in *submission.Input) { in.Title = strings.Repeat("长", 201) }), []string{"title"}},
		{"empty body", with(func(in *submission.Input) { in.Body = "\n \n" }), []string{"body"}},
		{"body of markup only", with(func(in *submission.Input) { in.BodyHTML = "<p><script>alert(1)</script></p>" }), []string{"body"}},
		{"body too long", with(func(in *submission.Input) { in.Body = strings.Repeat("字", submission.MaxBodyRunes+1) }), []string{"body"}},
		{"bad urgency", with(func(in *submission.Input) { in.Urgency = "asap" }), []string{"urgency"}},
		{"bad classification", with(func(in *submission.Input) { in.Classification = "top secret" }), []string{"classification"}},
		{"above clearance", with(func(in *submission.Input) { in.Classification = "secret" }), []string{"classification"}},
		{"above clearance in Chinese", with(func(in *submission.Input) { in.Classification = "机密" }), []string{"classification"}},
		{"unknown category", with(func(in *submission.Input) { in.CategoryCode = "NOPE" }), []string{"category"}},
		{"inactive category", with(func(in *submission.Input) { in.CategoryCode = "OLD" }), []string{"category"}},
		{"bad phone", with(func(in *submission.Input) { in.WriterPhone = "call me" }), []string{"writer_phone"}},
		{"short phone", with(func(in *submission.Input) { in.WriterPhone = "123" }), []string{"writer_phone"}},
		{"long writer name", with(func(in *submission.Input) { in.WriterName = strings.Repeat("名", 51) }), []string{"writer_name"}},
		{"everything wrong", submission.Input{Urgency: "x", Classification: "y", CategoryCode: "z", WriterPhone: "p"},
			[]string{"title", "body", "urgency", "classification", "category", "writer_phone"}},
	}
	for _, tt := range tests {
		_, err := f.svc.Create(t.Context(), f.reporter, tt.in, "")
		var ve *submission.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: error = %v, want *ValidationError", tt.name, err)
			continue
		}
		if got := slices.Sorted(maps.Keys(ve.Fields)); !slices.Equal(got, slices.Sorted(slices.Values(tt.fields))) {
			t.Errorf("%s: fields %v, want %v", tt.name, got, tt.fields)
		}
		for k, msg := range ve.Fields {
			if msg == "" || !strings.Contains(ve.Error(), msg) {
				t.Errorf("%s: field %s has message %q, Error() = %q", tt.name, k, msg, ve.Error())
			}
		}
	}
	for _, table := range []string{"submissions", "outbox", "audit_log"} {
		if n := f.count(t, table); n != 0 {
			t.Errorf("%d %s rows written by rejected input", n, table)
		}
	}
	// The limits themselves are accepted.
	f.create(t, f.reporter, with(func(in *submission.Input) {
		in.Title = strings.Repeat("长", 200)
		in.Classification = "internal"
		in.WriterName = strings.Repeat("名", 50)
		in.WriterPhone = "+86 (10) 6512-3456"
	}))
}

func TestCreateForbidden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	researcher := access.Subject{Username: "r", Roles: []string{"researcher"}, Clearance: label.Confidential}
	for _, sub := range []access.Subject{researcher, f.editor, {Username: "x", Roles: []string{"reporter"}}} {
		_, err := f.svc.Create(t.Context(), sub, submission.Input{Title: "t", Body: "b"}, "")
		if !errors.Is(err, submission.ErrForbidden) {
			t.Errorf("Create as %v (unit %q) = %v, want ErrForbidden", sub.Roles, sub.UnitCode, err)
		}
	}
	if n := f.count(t, "submissions"); n != 0 {
		t.Errorf("%d rows written", n)
	}
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	in := submission.Input{Title: "重复提交", Body: "正文", IdempotencyKey: "key-1"}
	a, err := f.svc.Create(ctx, f.reporter, in, "")
	if err != nil {
		t.Fatal(err)
	}
	in.Title = "重复提交（重试）"
	b, err := f.svc.Create(ctx, f.reporter, in, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Duplicate || !b.Duplicate || a.ID != b.ID || a.Version != b.Version {
		t.Fatalf("first %+v, retry %+v: want the same id, the retry marked Duplicate", a, b)
	}
	if n, o := f.count(t, "submissions"), f.count(t, "outbox"); n != 1 || o != 1 {
		t.Errorf("%d submissions, %d outbox rows after a retry; want 1 and 1", n, o)
	}
	// Another author's identical key is a different request.
	c, err := f.svc.Create(ctx, f.secret, in, "")
	if err != nil || c.Duplicate || c.ID == a.ID {
		t.Errorf("other author with the same key: %+v, %v", c, err)
	}
	// A key longer than 100 bytes is rejected.
	in.IdempotencyKey = strings.Repeat("k", 101)
	var ve *submission.ValidationError
	if _, err := f.svc.Create(ctx, f.reporter, in, ""); !errors.As(err, &ve) {
		t.Errorf("long idempotency key: %v, want a ValidationError", err)
	}
}

func TestBodySanitized(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	dirty := `<p style="color:red" onclick="steal()">第一段<strong>重点</strong><script>alert(1)</script></p>` +
		`<img src="x" onerror="alert(2)"><iframe src="https://evil.example/"></iframe>` +
		`<a href="javascript:alert(3)">链接</a><a href="https://www.gov.cn/">政府网</a>` +
		`<table><tr><td colspan="2" style="x">单元格</td><td onmouseover="x()">二</td></tr></table>` +
		`<STYLE>body{}</STYLE><svg onload="alert(4)"><p>末段</p></svg>`
	id := f.create(t, f.reporter, submission.Input{Title: "清洗", BodyHTML: dirty, Body: "ignored"})
	got, err := f.svc.Get(ctx, f.reporter, id, "")
	if err != nil {
		t.Fatal(err)
	}
	low := strings.ToLower(got.BodyHTML)
	for _, bad := range []string{"<script", "alert(1)", "onerror", "onclick", "onmouseover", "onload", "javascript:", "<img", "<iframe", "style=", "<style", "<svg", "steal"} {
		if strings.Contains(low, bad) {
			t.Errorf("sanitized body contains %q: %s", bad, got.BodyHTML)
		}
	}
	for _, keep := range []string{"<p>", "<strong>重点</strong>", "<table>", `<td colspan="2">`, `href="https://www.gov.cn/"`, `rel="nofollow"`} {
		if !strings.Contains(got.BodyHTML, keep) {
			t.Errorf("sanitized body lost %q: %s", keep, got.BodyHTML)
		}
	}
	if strings.ContainsAny(got.BodyText, "<>") {
		t.Errorf("body_text has markup: %q", got.BodyText)
	}
	for _, want := range []string{"第一段重点", "政府网", "单元格", "末段"} {
		if !strings.Contains(got.BodyText, want) {
			t.Errorf("body_text %q lacks %q", got.BodyText, want)
		}
	}
	if strings.Contains(got.BodyText, "ignored") {
		t.Errorf("BodyHTML set but Body used: %q", got.BodyText)
	}
}

func TestTextHTMLRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text, html, back string
	}{
		{"　　第一段\u3000内容。\r\n\r\n　　第二段 <b>&</b>\n", "<p>第一段\u3000内容。</p>\n<p>第二段 &lt;b&gt;&amp;&lt;/b&gt;</p>\n", "第一段 内容。\n第二段 <b>&</b>"},
		{"单段", "<p>单段</p>\n", "单段"},
		{"\n\n", "", ""},
		{"a\u00a0\u00a0b\tc", "<p>a\u00a0\u00a0b\tc</p>\n", "a b c"},
	}
	for _, tt := range tests {
		h := submission.TextToHTML(tt.text)
		if h != tt.html {
			t.Errorf("TextToHTML(%q) = %q, want %q", tt.text, h, tt.html)
		}
		if back := submission.HTMLToText(h); back != tt.back {
			t.Errorf("HTMLToText(%q) = %q, want %q", h, back, tt.back)
		}
		// A second round trip changes nothing.
		if again := submission.HTMLToText(submission.TextToHTML(tt.back)); again != tt.back {
			t.Errorf("second round trip of %q = %q", tt.back, again)
		}
	}
	if got := submission.HTMLToText("<h2>标题</h2><ul><li>一</li><li>二</li></ul><p>甲<br>乙</p><table><tr><th>北京</th><td>市长</td></tr></table>"); got != "标题\n一\n二\n甲\n乙\n北京 市长" {
		t.Errorf("HTMLToText of blocks = %q", got)
	}
}

func TestGetAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	public := f.create(t, f.reporter, submission.Input{Title: "公开件", Body: "b"})
	secret := f.create(t, f.secret, submission.Input{Title: "秘密件", Body: "b", Classification: "secret"})
	otherUnit := f.create(t, f.other, submission.Input{Title: "他单位", Body: "b"})
	confidential := f.create(t, f.other, submission.Input{Title: "机密件", Body: "b", Classification: "confidential"})
	admin := access.Subject{Username: "sa", UnitCode: "B01", Roles: []string{"sysadmin"}, Clearance: label.Confidential}
	tests := []struct {
		name string
		sub  access.Subject
		id   int64
		ok   bool
	}{
		{"own unit", f.reporter, public, true},
		{"own unit above clearance", f.reporter, secret, false},
		{"own unit at clearance", f.secret, secret, true},
		{"other unit", f.reporter, otherUnit, false},
		{"other unit, high clearance", f.other, public, false},
		{"editor any unit", f.editor, otherUnit, true},
		{"editor above clearance", f.editor, confidential, false},
		{"administrator", admin, public, false},
		{"missing id", f.editor, 999999, false},
	}
	for _, tt := range tests {
		got, err := f.svc.Get(ctx, tt.sub, tt.id, "10.0.0.9")
		switch {
		case tt.ok && (err != nil || got.ID != tt.id):
			t.Errorf("%s: Get = %+v, %v; want the record", tt.name, got.ID, err)
		case !tt.ok && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: Get error = %v, want store.ErrNotFound", tt.name, err)
		case !tt.ok && got.ID != 0:
			t.Errorf("%s: Get returned a record with the error", tt.name)
		}
	}
	// Exactly the successful reads of secret-or-higher records are audited as successes; the
	// public ones are not (refusals of existing records are audited as denials, below).
	rows, err := f.db.Query(ctx, `SELECT username, object, label, client_ip FROM audit_log WHERE action = 'submission.read' AND outcome = 'success' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var u, o, ip string
		var l int
		if err := rows.Scan(&u, &o, &l, &ip); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %s", u, o, l, ip))
	}
	want := []string{fmt.Sprintf("wang submission:%d 2 10.0.0.9", secret)}
	if !slices.Equal(got, want) {
		t.Errorf("read audit rows = %q, want %q", got, want)
	}
	if _, err := f.svc.Get(ctx, f.editor, secret, "10.0.0.10"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'submission.read' AND outcome = 'success' AND username = 'ed'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("editor's secret read audited %d times (%v), want 1", n, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	base := time.Date(2025, 10, 1, 9, 0, 0, 0, search.Location)
	var own []int64 // newest first
	for i := range 7 {
		id := f.create(t, f.reporter, submission.Input{Title: fmt.Sprintf("本单位%d", i), Body: "b", ReportedAt: base.Add(time.Duration(i) * time.Hour)})
		own = append([]int64{id}, own...)
	}
	f.create(t, f.secret, submission.Input{Title: "本单位秘密", Body: "b", Classification: "secret", ReportedAt: base.Add(100 * time.Hour)})
	for i := range 3 {
		f.create(t, f.other, submission.Input{Title: fmt.Sprintf("他单位%d", i), Body: "b", ReportedAt: base.Add(time.Duration(50+i) * time.Hour)})
	}

	var seen []int64
	for page := 1; page <= 3; page++ {
		p, err := f.svc.List(ctx, f.reporter, submission.ListOptions{Page: page, Size: 3})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 7 || p.Page != page || p.Size != 3 {
			t.Errorf("page %d: Total %d Page %d Size %d; want 7, %d, 3", page, p.Total, p.Page, p.Size, page)
		}
		for _, it := range p.Items {
			if it.UnitCode != "B01" || it.Classification > label.Internal {
				t.Errorf("reporter listed %q of unit %s at %v", it.Title, it.UnitCode, it.Classification)
			}
			seen = append(seen, it.ID)
		}
	}
	if !slices.Equal(seen, own) {
		t.Errorf("paged ids %v, want newest first %v", seen, own)
	}
	p, err := f.svc.List(ctx, f.reporter, submission.ListOptions{Page: 4, Size: 3})
	if err != nil || len(p.Items) != 0 || p.Total != 7 {
		t.Errorf("page past the end: %d items, total %d, %v", len(p.Items), p.Total, err)
	}
	// Asking for another unit does not widen the scope.
	p, err = f.svc.List(ctx, f.reporter, submission.ListOptions{UnitCode: "B02"})
	if err != nil || p.Total != 0 || len(p.Items) != 0 {
		t.Errorf("reporter filtering on another unit: total %d, %v", p.Total, err)
	}
	// Defaults and the editor's wider view.
	p, err = f.svc.List(ctx, f.editor, submission.ListOptions{Size: 1000})
	if err != nil || p.Total != 11 || p.Size != 20 || p.Page != 1 || len(p.Items) != 11 || p.Items[0].Title != "本单位秘密" {
		t.Errorf("editor list: total %d size %d page %d items %d, %v", p.Total, p.Size, p.Page, len(p.Items), err)
	}
	p, err = f.svc.List(ctx, f.editor, submission.ListOptions{UnitCode: "B02"})
	if err != nil || p.Total != 3 {
		t.Errorf("editor filtering on B02: total %d, %v", p.Total, err)
	}
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	date := time.Date(2025, 11, 3, 8, 30, 0, 0, search.Location)
	leaf := f.create(t, f.other, submission.Input{Title: "新能源", Body: "第一段\n第二段", CategoryCode: "ECO.IND.EV",
		Classification: "secret", Urgency: "very_urgent", ReportedAt: date})
	top := f.create(t, f.reporter, submission.Input{Title: "民生", Body: "b", CategoryCode: "SOC", ReportedAt: date})
	none := f.create(t, f.reporter, submission.Input{Title: "无类别", Body: "b", ReportedAt: date})
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET readers = '{user:li,unit:B02}' WHERE id = $1`, leaf); err != nil {
		t.Fatal(err)
	}

	docs, err := submission.Documents(ctx, f.db, []int64{leaf, top, none, 999999})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("Documents returned %d documents, want 3 (the missing id absent)", len(docs))
	}
	if _, ok := docs[999999]; ok {
		t.Error("missing id present")
	}
	d := docs[leaf]
	want := search.Document{ID: strconv.FormatInt(leaf, 10), Version: 1, Kind: "submission", Title: "新能源", Body: "第一段\n第二段",
		Unit: "B02", UnitName: "东城区卫健委", Category: "经济运行", Subcategory: "新能源汽车", District: "东城区",
		Classification: int(label.Secret), Urgency: "very_urgent", State: "submitted", Readers: []string{"user:li", "unit:B02"}}
	gotDate := d.Date
	d.Date = time.Time{}
	if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
		t.Errorf("document\n got %+v\nwant %+v", d, want)
	}
	if !gotDate.Equal(date) {
		t.Errorf("Date = %v, want %v", gotDate, date)
	}
	if d := docs[top]; d.Category != "社会民生" || d.Subcategory != "" || d.District != "" || len(d.Readers) != 0 {
		t.Errorf("top-level category document: %+v", d)
	}
	if d := docs[none]; d.Category != "" || d.Subcategory != "" {
		t.Errorf("uncategorized document: %+v", d)
	}
	if docs, err := submission.Documents(ctx, f.db, nil); err != nil || len(docs) != 0 {
		t.Errorf("Documents(nil) = %v, %v", docs, err)
	}
}

// Retries racing each other (a double click, a client retrying on timeout) still make one row.
func TestCreateIdempotentConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 6
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := f.svc.Create(t.Context(), f.reporter, submission.Input{Title: "并发", Body: "b", IdempotencyKey: "k"}, "")
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: id %d, %v; want id %d", i, ids[i], errs[i], ids[0])
		}
	}
	if s, o := f.count(t, "submissions"), f.count(t, "outbox"); s != 1 || o != 1 {
		t.Errorf("%d submissions, %d outbox rows; want 1 and 1", s, o)
	}
}

func TestDeniedReadIsAudited(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := context.Background()
	for _, u := range []unit.Unit{{Code: "ZA", Name: "甲直报点", Kind: unit.KindDirect}, {Code: "ZB", Name: "乙直报点", Kind: unit.KindDirect}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	svc := submission.New(db)
	owner := access.Subject{UserID: 0, Username: "a", UnitCode: "ZA", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	other := access.Subject{UserID: 0, Username: "b", UnitCode: "ZB", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	c, err := svc.Create(ctx, owner, submission.Input{Title: "甲单位信息", Body: "正文"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Get(ctx, other, c.ID, "10.0.0.2")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other unit: %v, want not found", err)
	}
	_, err = svc.Get(ctx, other, c.ID+1000, "10.0.0.2")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v, want not found", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'submission.read' AND outcome = 'denied'
		AND username = 'b' AND object = $1 AND client_ip = '10.0.0.2'`, "submission:"+strconv.FormatInt(c.ID, 10)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("denied reads audited: %d, want 1 (and none for a missing record)", n)
	}
	var all int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE outcome = 'denied'`).Scan(&all); err != nil || all != 1 {
		t.Fatalf("denied rows in all: %d (%v), want 1", all, err)
	}
}

// Every state of the shipped default workflow has its zh-CN name in submission.StateName (pages
// without a definition at hand — exports, lists — would otherwise show the code), and the two
// names agree.
func TestStateNamesCoverDefaultWorkflow(t *testing.T) {
	d := workflow.Default()
	if len(d.States) == 0 {
		t.Fatal("the default workflow has no states")
	}
	for _, st := range d.States {
		if got := submission.StateName(st.Code); got == st.Code || got != st.Name {
			t.Errorf("state %s: submission.StateName gives %q, workflow/default.json names it %q", st.Code, got, st.Name)
		}
	}
}
