package periodical_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/draft"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/periodical"
	"infowork/render"
	"infowork/search"
	"infowork/submission"
	"infowork/workflow"
)

type fixture struct {
	db                     *pgxpool.Pool
	svc                    *periodical.Service
	editor, signer, leader access.Subject
	lowSigner              access.Subject
	reporterA, reporterB   access.Subject
	subs                   *submission.Service
}

func user(t *testing.T, db *pgxpool.Pool, name, unit string, roles []string, cl label.Level) access.Subject {
	t.Helper()
	var id int64
	err := db.QueryRow(context.Background(), `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
		VALUES ($1, $1, 'x', (SELECT id FROM units WHERE code = $2), $3, $4) RETURNING id`, name, unit, roles, int(cl)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return access.Subject{UserID: id, Username: name, UnitCode: unit, Roles: roles, Clearance: cl}
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := testenv.DB(t)
	ctx := context.Background()
	for _, u := range [][2]string{{"OFFICE", "市委办公室"}, {"A01", "城东区委办"}, {"B02", "市住建局"}, {"C03", "市发改委"}} {
		kind := "bureau"
		if u[0] == "OFFICE" {
			kind = "office"
		}
		if _, err := db.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ($1, $2, $3)`, u[0], u[1], kind); err != nil {
			t.Fatal(err)
		}
	}
	f := fixture{db: db, subs: submission.New(db)}
	f.editor = user(t, db, "editor1", "OFFICE", []string{access.RoleEditor}, label.Secret)
	f.signer = user(t, db, "signer1", "OFFICE", []string{access.RoleSigner}, label.Secret)
	f.lowSigner = user(t, db, "signer2", "OFFICE", []string{access.RoleSigner}, label.Public)
	f.leader = user(t, db, "leader1", "OFFICE", []string{access.RoleLeader}, label.Secret)
	f.reporterA = user(t, db, "repA", "A01", []string{access.RoleReporter}, label.Internal)
	f.reporterB = user(t, db, "repB", "B02", []string{access.RoleReporter}, label.Internal)
	fixed := time.Date(2026, 11, 25, 9, 30, 0, 0, search.Location)
	f.svc = periodical.New(db, periodical.Options{Logger: testenv.Logger(t), Now: func() time.Time { return fixed }})
	return f
}

func (f fixture) submit(t *testing.T, sub access.Subject, title, classification string) periodical.Ref {
	t.Helper()
	c, err := f.subs.Create(context.Background(), sub, submission.Input{Title: title, Body: title + "的详细情况。\n第二段内容。", Classification: classification}, "")
	if err != nil {
		t.Fatal(err)
	}
	return periodical.Ref{Kind: periodical.KindSubmission, ID: c.ID}
}

func (f fixture) daily(t *testing.T, signer string) periodical.Periodical {
	t.Helper()
	p, err := f.svc.CreatePeriodical(context.Background(), f.editor, periodical.PeriodicalInput{Code: "mryq", Name: "每日要情", Level: "city",
		Frequency: "daily", Classification: label.Internal, Sections: []string{"要情快报", "基层动态"}, MastheadOrg: "中共示范市委办公室",
		Distribution: []string{"省委办公厅", "市委常委"}, SignerUsername: signer}, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNumberingConcurrent(t *testing.T) {
	f := newFixture(t)
	p := f.daily(t, "")
	const n = 12
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			is, err := f.svc.CreateIssue(context.Background(), f.editor, p.ID, periodical.IssueInput{}, "")
			ids[i], errs[i] = is.ID, err
		}(i)
	}
	wg.Wait()
	years, totals := map[int]bool{}, map[int]bool{}
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("concurrent creation %d: %v", i, errs[i])
		}
		is, err := f.svc.Issue(context.Background(), f.editor, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if years[is.YearNumber] || totals[is.TotalNumber] {
			t.Fatalf("number %d / total %d given twice", is.YearNumber, is.TotalNumber)
		}
		years[is.YearNumber], totals[is.TotalNumber] = true, true
	}
	for i := 1; i <= n; i++ {
		if !years[i] || !totals[i] {
			t.Errorf("numbers are not 1..%d without gaps: %v %v", n, years, totals)
		}
	}
	// A new year restarts the year number; the running total goes on.
	is, err := f.svc.CreateIssue(context.Background(), f.editor, p.ID, periodical.IssueInput{Date: time.Date(2027, 1, 2, 10, 0, 0, 0, search.Location)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if is.Year != 2027 || is.YearNumber != 1 || is.TotalNumber != n+1 {
		t.Errorf("new year: got %s", is.NumberText())
	}
	// The database refuses a duplicate number even if the counters were bypassed.
	_, err = f.db.Exec(context.Background(), `INSERT INTO periodical_issues (periodical_id, year, year_number, total_number, issue_date, classification)
		VALUES ($1, 2026, 1, 999, CURRENT_DATE, 1)`, p.ID)
	if err == nil || !strings.Contains(err.Error(), "periodical_issues_year_number") {
		t.Errorf("duplicate year number accepted: %v", err)
	}
}

func TestCompileSignLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "signer1")
	a := f.submit(t, f.reporterA, "城东区推进老旧小区改造", "internal")
	b := f.submit(t, f.reporterB, "市住建局开展燃气安全检查", "public")
	secret := f.submit(t, f.editor2(t), "涉密专项工作进展", "secret")

	is, err := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if is.NumberText() != "2026年第1期（总第1期）" || is.State != "draft" {
		t.Fatalf("new issue: %s %s", is.NumberText(), is.State)
	}
	// Basket follows the editor.
	if _, err := f.svc.BasketAdd(ctx, f.editor, []periodical.Ref{b, a}); err != nil {
		t.Fatal(err)
	}
	basket, err := f.svc.Basket(ctx, f.editor)
	if err != nil || len(basket) != 2 || basket[0].Ref != b {
		t.Fatalf("basket: %v %v", basket, err)
	}
	// Refused: an item above the issue's classification; nothing is added.
	_, err = f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{a, secret}, "要情快报", "")
	var refused *periodical.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Error(), "高于本期密级") {
		t.Fatalf("secret item: %v", err)
	}
	if got, _ := f.svc.Issue(ctx, f.editor, is.ID); len(got.Items) != 0 {
		t.Fatalf("refused compile half-wrote %d items", len(got.Items))
	}
	// Reporters cannot compile.
	if _, err := f.svc.AddItems(ctx, f.reporterA, is.ID, []periodical.Ref{a}, "", ""); !errors.Is(err, periodical.ErrForbidden) {
		t.Errorf("reporter compiled: %v", err)
	}
	if n, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{b, a}, "要情快报", ""); err != nil || n != 2 {
		t.Fatalf("add: %d %v", n, err)
	}
	if basket, _ := f.svc.Basket(ctx, f.editor); len(basket) != 0 {
		t.Errorf("compiled items stay in the basket: %v", basket)
	}
	// Adding again is harmless.
	if n, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{a}, "要情快报", ""); err != nil || n != 0 {
		t.Errorf("re-add: %d %v", n, err)
	}
	got, _ := f.svc.Issue(ctx, f.editor, is.ID)
	if got.Items[0].Ref != b || got.Items[1].Ref != a {
		t.Fatalf("default order is not the order added: %v", got.Items)
	}
	// Keyboard move: a up.
	if err := f.svc.Move(ctx, f.editor, is.ID, got.Items[1].ID, -1); err != nil {
		t.Fatal(err)
	}
	got, _ = f.svc.Issue(ctx, f.editor, is.ID)
	if got.Items[0].Ref != a {
		t.Fatalf("move up: %v", got.Items)
	}
	// Drag-and-drop order: b into 基层动态.
	if err := f.svc.Reorder(ctx, f.editor, is.ID, []periodical.Place{{ItemID: got.Items[0].ID, Section: "要情快报"}, {ItemID: got.Items[1].ID, Section: "基层动态"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Reorder(ctx, f.editor, is.ID, []periodical.Place{{ItemID: got.Items[0].ID, Section: "要情快报"}}); err == nil {
		t.Error("a reorder that leaves an item out was accepted")
	}
	if err := f.svc.SetNote(ctx, f.editor, is.ID, got.Items[0].ID, "此件做法值得借鉴。"); err != nil {
		t.Fatal(err)
	}
	// Only a signer signs.
	if _, err := f.svc.Sign(ctx, f.editor, is.ID, ""); !errors.Is(err, periodical.ErrForbidden) {
		t.Fatalf("editor signed: %v", err)
	}
	rev, err := f.svc.Sign(ctx, f.signer, is.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.ContentHash) != 64 || rev.PDFSize == 0 || rev.DOCXSize == 0 {
		t.Fatalf("revision: %+v", rev)
	}
	snap, hash, ok, err := f.svc.Snapshot(ctx, f.signer, is.ID, 1)
	if err != nil || !ok || hash != rev.ContentHash {
		t.Fatalf("snapshot integrity: %v %v", ok, err)
	}
	if snap.Sections[0].Name != "要情快报" || snap.Sections[0].Items[0].EditorNote != "此件做法值得借鉴。" || snap.Sections[1].Items[0].Units[0] != "市住建局" {
		t.Errorf("snapshot content: %+v", snap)
	}
	// Twice: refused with a reason; removing an item from a signed issue: refused.
	_, err = f.svc.Sign(ctx, f.signer, is.ID, "")
	var se *periodical.StateError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "不能重复签发") {
		t.Fatalf("second signature: %v", err)
	}
	if err := f.svc.RemoveItem(ctx, f.editor, is.ID, got.Items[0].ID, ""); !errors.As(err, &se) || !strings.Contains(se.Reason, "不能删除条目") {
		t.Fatalf("remove from signed issue: %v", err)
	}
	// The signed revision is write-once in the database too.
	if _, err := f.db.Exec(ctx, `UPDATE periodical_issue_revisions SET reason = 'x'`); err == nil {
		t.Error("a signed revision was updated")
	}
	pdf, sum, _, err := f.svc.Output(ctx, f.leader, is.ID, 0, periodical.FormatPDF, "")
	if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") || sum != rev.PDFSHA256 {
		t.Fatalf("pdf output: %v", err)
	}
	// Correction: a new revision with its reason; the first stays.
	if err := f.svc.RequestCorrection(ctx, f.signer, is.ID, "第二条标题有误", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveItem(ctx, f.editor, is.ID, got.Items[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	rev2, err := f.svc.Sign(ctx, f.signer, is.ID, "")
	if err != nil || rev2.Revision != 2 || rev2.Reason != "第二条标题有误" || rev2.ContentHash == rev.ContentHash {
		t.Fatalf("second revision: %+v %v", rev2, err)
	}
	got, _ = f.svc.Issue(ctx, f.editor, is.ID)
	if len(got.Revisions) != 2 || got.Revisions[0].ContentHash != rev.ContentHash {
		t.Errorf("revisions: %+v", got.Revisions)
	}
	// Distribution and archive.
	if n, err := f.svc.Distribute(ctx, f.editor, is.ID, nil, "electronic", ""); err != nil || n != 2 {
		t.Fatalf("distribute: %d %v", n, err)
	}
	var queued int
	_ = f.db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = $1`, b.ID).Scan(&queued)
	if err := f.svc.Archive(ctx, f.editor, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	var after int
	_ = f.db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = $1`, b.ID).Scan(&after)
	if after != queued+1 {
		t.Errorf("archiving did not queue the item for re-indexing (%d → %d)", queued, after)
	}
	if err := f.svc.RequestCorrection(ctx, f.signer, is.ID, "再改", ""); !errors.As(err, &se) {
		t.Errorf("archived issue accepted a correction: %v", err)
	}
	// Its items are indexed with the archived flag; the search page names the issue beside them.
	docs, err := submission.Documents(ctx, f.db, []int64{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if docs[b.ID].Archived != true || docs[a.ID].Archived {
		t.Errorf("archived flags: a=%v (removed in revision 2) b=%v", docs[a.ID].Archived, docs[b.ID].Archived)
	}
	pl, err := f.svc.Placements(ctx, []periodical.Ref{b}, 3)
	if err != nil || len(pl[b]) != 1 || pl[b][0].State != "archived" || pl[b][0].Number != "2026年第1期" {
		t.Errorf("placements: %v %v", pl, err)
	}
}

// editor2 is an editor cleared for secret material who can submit (for a secret fixture).
func (f fixture) editor2(t *testing.T) access.Subject {
	return user(t, f.db, "repSecret", "C03", []string{access.RoleReporter}, label.Secret)
}

func TestSignerMayNotSee(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "signer2") // designated signer cleared for public only
	internal := f.submit(t, f.reporterA, "内部情况反映", "internal")
	is, err := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{internal}, "", "")
	var refused *periodical.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Error(), "签发人signer2无权查看《内部情况反映》") {
		t.Fatalf("want a refusal naming the signer, got %v", err)
	}
	// Another record the editor may not see at all.
	_, err = f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{{Kind: "submission", ID: 99999}}, "", "")
	if !errors.As(err, &refused) || !strings.Contains(refused.Error(), "不存在或无权查看") {
		t.Fatalf("missing record: %v", err)
	}
	// An unsigned issue can be voided: its numbers stay taken.
	if err := f.svc.Void(ctx, f.editor, is.ID, "选题调整", ""); err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if err != nil || next.YearNumber != 2 {
		t.Fatalf("after a void issue the next number is %d (%v), want 2", next.YearNumber, err)
	}
	var se0 *periodical.StateError
	if err := f.svc.Void(ctx, f.editor, is.ID, "再次", ""); !errors.As(err, &se0) {
		t.Errorf("voiding twice: %v", err)
	}
	// Signing an empty issue is refused.
	var se *periodical.StateError
	if _, err := f.svc.Sign(ctx, f.lowSigner, is.ID, ""); !errors.As(err, &se) && !errors.Is(err, periodical.ErrNotFound) {
		t.Errorf("empty issue: %v", err)
	}
}

func TestEndorsementFollowUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "")
	a := f.submit(t, f.reporterA, "城东区推进老旧小区改造", "internal")
	is, _ := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if _, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{a}, "", ""); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Issue(ctx, f.editor, is.ID)
	item := got.Items[0]
	in := periodical.EndorsementInput{IssueItemID: item.ID, Leader: "张市长", Level: "city", Text: "请住建局会同城东区抓紧推进。",
		Date: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC),
		ExtraUnits: []string{"B02"}, ScanName: "批示.png", ScanType: "image/png", Scan: []byte("\x89PNG fake scan")}
	var se *periodical.StateError
	if _, err := f.svc.Endorse(ctx, f.editor, in, ""); !errors.As(err, &se) {
		t.Fatalf("endorsement on an unsigned issue: %v", err)
	}
	if _, err := f.svc.Sign(ctx, f.signer, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.Endorse(ctx, f.editor, in, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Tasks) != 2 || e.Tasks[0].UnitCode != "A01" || e.Tasks[1].UnitCode != "B02" || !e.HasScan {
		t.Fatalf("tasks: %+v", e)
	}
	// Unit users see their own unit's task only.
	listA, err := f.svc.Endorsements(ctx, f.reporterA, 0)
	if err != nil || len(listA) != 1 || len(listA[0].Tasks) != 1 || listA[0].Tasks[0].UnitCode != "A01" {
		t.Fatalf("unit A view: %+v %v", listA, err)
	}
	// Reviewing before feedback is refused; a unit cannot answer another unit's task.
	if err := f.svc.Review(ctx, f.editor, e.Tasks[0].ID, "好", ""); !errors.As(err, &se) {
		t.Errorf("review before feedback: %v", err)
	}
	if err := f.svc.Feedback(ctx, f.reporterA, e.Tasks[1].ID, "已完成", ""); !errors.Is(err, periodical.ErrForbidden) {
		t.Errorf("foreign feedback: %v", err)
	}
	for i, rep := range []access.Subject{f.reporterA, f.reporterB} {
		if err := f.svc.Feedback(ctx, rep, e.Tasks[i].ID, "已按批示要求落实。", ""); err != nil {
			t.Fatal(err)
		}
	}
	docs, _ := submission.Documents(ctx, f.db, []int64{a.ID})
	if docs[a.ID].Endorsement != "open" {
		t.Errorf("endorsed facet value while open: %q", docs[a.ID].Endorsement)
	}
	for _, tk := range e.Tasks {
		if err := f.svc.Review(ctx, f.editor, tk.ID, "反馈属实，同意办结。", ""); err != nil {
			t.Fatal(err)
		}
	}
	e, _ = f.svc.Endorsement(ctx, f.leader, e.ID)
	if e.State != "closed" {
		t.Errorf("endorsement not closed after every task: %s", e.State)
	}
	docs, _ = submission.Documents(ctx, f.db, []int64{a.ID})
	if docs[a.ID].Endorsement != "closed" {
		t.Errorf("endorsed facet value after closing: %q", docs[a.ID].Endorsement)
	}
}

func TestDraftItemContributingUnits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "")
	a := f.submit(t, f.reporterA, "城东区老旧小区加装电梯进展", "internal")
	b := f.submit(t, f.reporterB, "住建局推进加装电梯补贴", "internal")
	ds := draft.New(f.db, workflow.New(f.db))
	d, err := ds.Create(ctx, f.editor, draft.CreateInput{Title: "全市加装电梯工作取得进展", SubmissionIDs: []int64{a.ID, b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	is, _ := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	ref := periodical.Ref{Kind: periodical.KindDraft, ID: d.ID}
	if _, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{ref}, "", ""); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Issue(ctx, f.editor, is.ID)
	if len(got.Items) != 1 || got.Items[0].UnitNames() != "城东区委办、市住建局" || got.Items[0].Title != "全市加装电梯工作取得进展" {
		t.Fatalf("draft item: %+v", got.Items)
	}
	if _, err := f.svc.Sign(ctx, f.signer, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.Endorse(ctx, f.editor, periodical.EndorsementInput{IssueItemID: got.Items[0].ID, Leader: "李书记", Level: "city",
		Text: "请两单位抓好落实。", Date: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Tasks) != 2 || e.Tasks[0].UnitCode != "A01" || e.Tasks[1].UnitCode != "B02" {
		t.Fatalf("a merged draft's endorsement tasks its two contributing units: %+v", e.Tasks)
	}
}

func TestDraftFlagsItsSources(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "")
	a := f.submit(t, f.reporterA, "甲单位情况", "internal")
	b := f.submit(t, f.reporterB, "乙单位情况", "internal")
	ds := draft.New(f.db, workflow.New(f.db))
	d, err := ds.Create(ctx, f.editor, draft.CreateInput{Title: "综合情况", SubmissionIDs: []int64{a.ID, b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	is, _ := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if _, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{{Kind: periodical.KindDraft, ID: d.ID}}, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Sign(ctx, f.signer, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Archive(ctx, f.editor, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Issue(ctx, f.editor, is.ID)
	if _, err := f.svc.Endorse(ctx, f.editor, periodical.EndorsementInput{IssueItemID: got.Items[0].ID, Leader: "李书记", Level: "city",
		Text: "阅。", Date: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}, ""); err != nil {
		t.Fatal(err)
	}
	docs, err := submission.Documents(ctx, f.db, []int64{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if !docs[id].Archived || docs[id].Endorsement != "closed" { // no deadline: nothing to follow up
			t.Errorf("source %d of an archived, endorsed draft: archived=%v endorsement=%q", id, docs[id].Archived, docs[id].Endorsement)
		}
	}
}

// TestSignWithoutBrowser: when the PDF cannot be printed nothing is signed.
func TestSignWithoutBrowser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "")
	a := f.submit(t, f.reporterA, "无浏览器测试", "internal")
	broken := periodical.New(f.db, periodical.Options{Printer: render.NewPrinter(render.PDFOptions{Chromium: "/nonexistent/chromium"})})
	is, _ := broken.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if _, err := broken.AddItems(ctx, f.editor, is.ID, []periodical.Ref{a}, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := broken.Sign(ctx, f.signer, is.ID, ""); !errors.Is(err, render.ErrNoBrowser) {
		t.Fatalf("sign without a browser: %v", err)
	}
	got, _ := broken.Issue(ctx, f.editor, is.ID)
	if got.State != "draft" || len(got.Revisions) != 0 {
		t.Errorf("a failed sign-off left state %s and %d revisions", got.State, len(got.Revisions))
	}
}

func TestSectionOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.daily(t, "")
	a := f.submit(t, f.reporterA, "快报一", "internal")
	b := f.submit(t, f.reporterB, "动态一", "internal")
	is, _ := f.svc.CreateIssue(ctx, f.editor, p.ID, periodical.IssueInput{}, "")
	if _, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{a}, "要情快报", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddItems(ctx, f.editor, is.ID, []periodical.Ref{b}, "基层动态", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.MoveSection(ctx, f.editor, is.ID, "基层动态", -1); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Issue(ctx, f.editor, is.ID)
	if s := got.Sections(); len(s) != 2 || s[0] != "基层动态" || s[1] != "要情快报" {
		t.Fatalf("sections after moving 基层动态 up: %v", s)
	}
	if err := f.svc.OrderSections(ctx, f.editor, is.ID, []string{"基层动态"}); err == nil {
		t.Error("an order leaving a section out was accepted")
	}
	if err := f.svc.OrderSections(ctx, f.editor, is.ID, []string{"要情快报", "要情快报"}); err == nil {
		t.Error("an order naming a section twice was accepted")
	}
	if _, err := f.svc.Sign(ctx, f.signer, is.ID, ""); err != nil {
		t.Fatal(err)
	}
	snap, _, _, err := f.svc.Snapshot(ctx, f.signer, is.ID, 1)
	if err != nil || snap.Sections[0].Name != "基层动态" || snap.Sections[0].Items[0].Title != "动态一" {
		t.Fatalf("the signed snapshot keeps the issue's section order: %+v %v", snap.Sections, err)
	}
	if err := f.svc.MoveSection(ctx, f.editor, is.ID, "要情快报", -1); err == nil {
		t.Error("a signed issue's sections were reordered")
	}
	// The same report may also appear in a special issue (专刊).
	sp, err := f.svc.CreatePeriodical(ctx, f.editor, periodical.PeriodicalInput{Code: "zb", Name: "专报", Kind: "special", ParentCode: "mryq",
		Classification: label.Internal, Distribution: []string{"市委主要领导"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	spIssue, _ := f.svc.CreateIssue(ctx, f.editor, sp.ID, periodical.IssueInput{Title: "防汛专题"}, "")
	if _, err := f.svc.AddItems(ctx, f.editor, spIssue.ID, []periodical.Ref{a}, "", ""); err != nil {
		t.Fatalf("a report of a regular issue in a special issue: %v", err)
	}
	pl, _ := f.svc.Placements(ctx, []periodical.Ref{a}, 3)
	if len(pl[a]) != 2 {
		t.Errorf("placements of a report in two issues: %+v", pl[a])
	}
}
