package draft_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/draft"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
	"infowork/workflow"
)

type fixture struct {
	db    *pgxpool.Pool
	subs  *submission.Service
	wf    *workflow.Service
	svc   *draft.Service
	users map[string]access.Subject
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	for _, u := range []unit.Unit{{Code: "Z101", Name: "芙蓉区东湖街道直报点", Kind: unit.KindDirect, District: "芙蓉区"},
		{Code: "Z102", Name: "岳麓区西湖街道直报点", Kind: unit.KindDirect, District: "岳麓区"},
		{Code: "B101", Name: "市住房和城乡建设局", Kind: unit.KindBureau}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	wf := workflow.New(db)
	f := &fixture{db: db, subs: submission.New(db), wf: wf, svc: draft.New(db, wf), users: map[string]access.Subject{}}
	for _, u := range []struct{ name, role, unit string }{
		{"rep_a", access.RoleReporter, "Z101"}, {"rep_b", access.RoleReporter, "Z102"}, {"rep_c", access.RoleReporter, "B101"},
		{"editor1", access.RoleEditor, ""}, {"editor2", access.RoleEditor, ""}, {"leader", access.RoleLeader, ""},
	} {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
			VALUES ($1, '测试' || $1, 'x', (SELECT id FROM units WHERE code = $2), $3, 2) RETURNING id`,
			u.name, u.unit, []string{u.role}).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.users[u.name] = access.Subject{UserID: id, Username: u.name, UnitCode: u.unit, Roles: []string{u.role}, Clearance: label.Secret}
	}
	return f
}

// report stores a report that went straight to the office (submitted).
func (f *fixture) report(t *testing.T, who, title, body string) int64 {
	t.Helper()
	c, err := f.subs.Create(context.Background(), f.users[who], submission.Input{Title: title, Body: body,
		WriterName: "张三", WriterPhone: "13812345678"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (f *fixture) state(t *testing.T, id int64) string {
	t.Helper()
	var st string
	if err := f.db.QueryRow(context.Background(), `SELECT state FROM submissions WHERE id = $1`, id).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

const (
	bodyA = "6月12日凌晨，芙蓉区东湖街道遭遇短时强降雨，辖区12处易涝点积水，街道组织网格员连夜排水，转移群众46人。"
	bodyB = "岳麓区西湖街道6月12日启动防汛四级应急响应，设置警示标志20处，疏通排水管网3.2公里，未发生人员伤亡。"
	bodyC = "市住房和城乡建设局派出工作组检查在建工地基坑安全，责令3处积水工地停工整改，并发布暴雨施工安全提示。"
)

func TestMergeThreeReportsCreditsEachUnit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.report(t, "rep_a", "东湖街道应对强降雨", bodyA)
	b := f.report(t, "rep_b", "西湖街道启动防汛响应", bodyB)
	c := f.report(t, "rep_c", "市住建局检查工地基坑安全", bodyC)
	ed := f.users["editor1"]
	// One report already in review, the others waiting: adoption takes each through review.
	if _, err := f.wf.Transition(ctx, ed, a, "review", workflow.Input{ExpectedVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(ctx, f.users["rep_a"], draft.CreateInput{SubmissionIDs: []int64{a}}); !errors.Is(err, draft.ErrForbidden) {
		t.Fatalf("reporter creating a draft: %v", err)
	}
	d, err := f.svc.Create(ctx, ed, draft.CreateInput{Title: "我市各地各部门积极应对强降雨", SubmissionIDs: []int64{a, b, c}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Revision != 1 || len(d.Sources) != 3 {
		t.Fatalf("draft = %+v", d)
	}
	for _, s := range d.Sources {
		if s.SpanRunes < 40 {
			t.Errorf("source %d contributes %d runes to the initial draft", s.SubmissionID, s.SpanRunes)
		}
	}
	// The editor rewrites: an opening of their own, parts of each report kept.
	body := "<p>6月12日，我市出现强降雨天气，各地各部门迅速行动。</p>" +
		"<p>芙蓉区东湖街道组织网格员连夜排水，转移群众46人。</p>" +
		"<p>岳麓区西湖街道设置警示标志20处，疏通排水管网3.2公里。</p>" +
		"<p>市住房和城乡建设局责令3处积水工地停工整改。</p>"
	d2, err := f.svc.Save(ctx, ed, d.ID, draft.SaveInput{Title: d.Title, BodyHTML: body, Note: "压缩改写", ExpectedVersion: d.Version, BaseRevision: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Revision != 2 {
		t.Fatalf("revision = %d", d2.Revision)
	}
	spans := map[int64]string{}
	for _, sp := range d2.Spans {
		spans[sp.SubmissionID] += sp.Text
	}
	if !strings.Contains(spans[a], "组织网格员连夜排水，转移群众46人") || !strings.Contains(spans[b], "设置警示标志20处，疏通排水管网3.2公里") ||
		!strings.Contains(spans[c], "责令3处积水工地停工整改") {
		t.Fatalf("provenance spans: %v", spans)
	}
	if strings.Contains(strings.Join([]string{spans[a], spans[b], spans[c]}, ""), "各地各部门迅速行动") {
		t.Fatalf("the editor's own sentence was attributed to a report: %v", spans)
	}

	// A second editor saving from the old version gets a conflict showing the first one's changes.
	_, err = f.svc.Save(ctx, f.users["editor2"], d.ID, draft.SaveInput{Title: "另一个标题", BodyHTML: "<p>完全不同的正文内容。</p>",
		ExpectedVersion: d.Version, BaseRevision: 1})
	var ce *draft.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, draft.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	if ce.Current.Revision != 2 || ce.ChangedBy != "editor1" || !draft.Changed(ce.Changes) || !strings.Contains(ce.Error(), "第 1 稿") {
		t.Fatalf("conflict = %+v", ce)
	}
	var inserted string
	for _, op := range ce.Changes {
		if op.Op == draft.OpInsert {
			inserted += op.Text
		}
	}
	if !strings.Contains(inserted, "各地各部门迅速行动") {
		t.Errorf("the other's changes do not show their new sentence: %+v", ce.Changes)
	}
	if got, _ := f.svc.Get(ctx, ed, d.ID); got.Title != d.Title || got.Revision != 2 {
		t.Fatalf("a stale save overwrote the draft: %+v", got)
	}

	// Restore revision 1 = revision 3 with revision 1's text; then back to 2's text as revision 4.
	d3, err := f.svc.Restore(ctx, ed, d.ID, 1, d2.Version, "")
	if err != nil {
		t.Fatal(err)
	}
	if d3.Revision != 3 || d3.BodyText != d.BodyText {
		t.Fatalf("restore: rev %d", d3.Revision)
	}
	d4, err := f.svc.Restore(ctx, ed, d.ID, 2, d3.Version, "")
	if err != nil {
		t.Fatal(err)
	}
	revs, err := f.svc.Revisions(ctx, ed, d.ID)
	if err != nil || len(revs) != 4 || revs[0].RestoredFrom == nil || *revs[0].RestoredFrom != 2 {
		t.Fatalf("revisions: %v %+v", err, revs)
	}
	if _, err := f.db.Exec(ctx, `UPDATE draft_revisions SET body_text = 'x' WHERE draft_id = $1`, d.ID); err == nil {
		t.Fatal("a revision was changed")
	}

	// Adopt: three contributing reports from three units, each merged-adopted (综合采用).
	adopted, credits, err := f.svc.Adopt(ctx, ed, d.ID, d4.Version, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if adopted.State != draft.StateAdopted || len(credits) != 3 {
		t.Fatalf("adopt: %s %+v", adopted.State, credits)
	}
	units := map[string]bool{}
	for _, c := range credits {
		units[c.UnitCode] = true
		if c.Kind != draft.CreditMerged || c.EventID == 0 {
			t.Errorf("credit %+v", c)
		}
	}
	if len(units) != 3 {
		t.Errorf("credited units %v", units)
	}
	for _, id := range []int64{a, b, c} {
		if st := f.state(t, id); st != "merged" {
			t.Errorf("report %d state %s, want merged", id, st)
		}
		// The unit sees how its report was used, but not the office's draft.
		cr, err := f.svc.CreditsOf(ctx, f.users["rep_a"], id)
		if err != nil || len(cr) != 1 || cr[0].Kind != draft.CreditMerged || cr[0].DraftTitle != "" {
			t.Errorf("credits of %d: %v %+v", id, err, cr)
		}
	}
	evs, err := f.wf.History(ctx, ed, b)
	if err != nil || len(evs) < 2 || evs[len(evs)-1].To != "merged" && evs[0].To != "merged" {
		t.Errorf("history of %d: %v %+v", b, err, evs)
	}
	var auditRows int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object = $1`, "draft:"+itoa(d.ID)).Scan(&auditRows); err != nil || auditRows != 5 {
		t.Errorf("draft audit rows = %d (%v), want create, save, 2 restores, adopt", auditRows, err)
	}
	if _, _, err := f.svc.Adopt(ctx, ed, d.ID, adopted.Version, ""); err == nil {
		t.Error("adopted twice")
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestSingleSourceIsAdoptedAndWithdrawKeepsHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ed := f.users["editor1"]
	a := f.report(t, "rep_a", "东湖街道应对强降雨", bodyA)
	b := f.report(t, "rep_b", "西湖街道启动防汛响应", bodyB)
	d, err := f.svc.Create(ctx, ed, draft.CreateInput{SubmissionIDs: []int64{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	// Only report a's text is kept: a is adopted (采用), b stays with the office undecided.
	d, err = f.svc.Save(ctx, ed, d.ID, draft.SaveInput{Title: d.Title, BodyHTML: "<p>" + bodyA + "</p>", ExpectedVersion: d.Version, BaseRevision: d.Revision})
	if err != nil {
		t.Fatal(err)
	}
	_, credits, err := f.svc.Adopt(ctx, ed, d.ID, d.Version, "")
	if err != nil || len(credits) != 1 || credits[0].Kind != draft.CreditAdopted || credits[0].SubmissionID != a {
		t.Fatalf("adopt: %v %+v", err, credits)
	}
	if f.state(t, a) != "adopted" || f.state(t, b) != "submitted" {
		t.Fatalf("states %s %s", f.state(t, a), f.state(t, b))
	}

	d2, err := f.svc.Create(ctx, ed, draft.CreateInput{SubmissionIDs: []int64{b}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Withdraw(ctx, ed, d2.ID, "", d2.Version, ""); err == nil {
		t.Fatal("withdrawn without a reason")
	}
	w, err := f.svc.Withdraw(ctx, ed, d2.ID, "内容已在其他稿件中使用", d2.Version, "")
	if err != nil || w.State != draft.StateWithdrawn {
		t.Fatalf("withdraw: %v %s", err, w.State)
	}
	if list, _ := f.svc.List(ctx, ed, draft.ListOptions{}); len(list) != 1 {
		t.Errorf("default list shows %d drafts, want the adopted one only", len(list))
	}
	if list, _ := f.svc.List(ctx, ed, draft.ListOptions{State: draft.StateWithdrawn}); len(list) != 1 || list[0].ID != d2.ID {
		t.Errorf("withdrawn list: %+v", list)
	}
	if revs, err := f.svc.Revisions(ctx, ed, d2.ID); err != nil || len(revs) != 1 {
		t.Errorf("history of a withdrawn draft: %v %d", err, len(revs))
	}
	// Units never see drafts.
	if _, err := f.svc.Get(ctx, f.users["rep_a"], d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reporter reading a draft: %v", err)
	}
}

func TestConcurrentSavesOneWins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.report(t, "rep_a", "东湖街道应对强降雨", bodyA)
	d, err := f.svc.Create(ctx, f.users["editor1"], draft.CreateInput{SubmissionIDs: []int64{a}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"editor1", "editor2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Save(ctx, f.users[who], d.ID, draft.SaveInput{Title: "标题" + who, BodyHTML: "<p>" + who + "改写的正文。</p>",
				ExpectedVersion: d.Version, BaseRevision: 1})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, draft.ErrConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Fatalf("ok=%d conflicts=%d", ok, conflicts)
	}
	revs, _ := f.svc.Revisions(ctx, f.users["editor1"], d.ID)
	if len(revs) != 2 {
		t.Fatalf("%d revisions", len(revs))
	}
}

func TestDiffIsReadable(t *testing.T) {
	ops := draft.Diff("街道组织防汛演练，参加人员120人。", "街道组织抗旱演练，参加人员150人。")
	var del, ins []string
	for _, o := range ops {
		switch o.Op {
		case draft.OpDelete:
			del = append(del, o.Text)
		case draft.OpInsert:
			ins = append(ins, o.Text)
		}
	}
	if strings.Join(del, "|") != "防汛|2" || strings.Join(ins, "|") != "抗旱|5" {
		t.Fatalf("diff: %+v", ops)
	}
	if draft.Changed(draft.Diff("同", "同")) {
		t.Fatal("equal texts differ")
	}
}

// rowCounts counts what a transition writes about reports ids (history, audit, outbox,
// notifications, credits).
func (f *fixture) rowCounts(t *testing.T, ids []int64) map[string]int {
	t.Helper()
	objs := make([]string, len(ids))
	for i, id := range ids {
		objs[i] = "submission:" + strconv.FormatInt(id, 10)
	}
	out := map[string]int{}
	for name, q := range map[string]string{
		"workflow_events": `SELECT count(*) FROM workflow_events WHERE submission_id = ANY($1::bigint[]) AND $2::text[] IS NOT NULL`,
		"audit_log":       `SELECT count(*) FROM audit_log WHERE object = ANY($2::text[]) AND $1::bigint[] IS NOT NULL`,
		"outbox":          `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = ANY($1::bigint[]) AND $2::text[] IS NOT NULL`,
		"notifications":   `SELECT count(*) FROM notifications WHERE submission_id = ANY($1::bigint[]) AND $2::text[] IS NOT NULL`,
		"draft_credits":   `SELECT count(*) FROM draft_credits WHERE submission_id = ANY($1::bigint[]) AND $2::text[] IS NOT NULL`,
	} {
		var n int
		if err := f.db.QueryRow(context.Background(), q, ids, objs).Scan(&n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = n
	}
	return out
}

// TestAdoptionIsOneTransaction: three reports, the third locked by another editor. Adoption is
// refused naming the third report, and nothing of the attempt stays: no report credited or
// moved, no history, audit, outbox, notification or credit rows, the draft unchanged. Once the
// lock is gone, adoption credits all three (综合采用) and the draft in one commit. It runs as
// the application's non-owner role, row-level security in force.
func TestAdoptionIsOneTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app := appPool(t, f)
	svc := draft.New(app, workflow.New(app))
	ed := f.users["editor1"]
	a := f.report(t, "rep_a", "东湖街道应对强降雨", bodyA)
	b := f.report(t, "rep_b", "西湖街道启动防汛响应", bodyB)
	c := f.report(t, "rep_c", "市住建局检查工地基坑安全", bodyC)
	ids := []int64{a, b, c}
	// Report b already in review: its credit is one transition, the others' two (review, merge).
	if _, err := f.wf.Transition(ctx, ed, b, "review", workflow.Input{ExpectedVersion: 1}); err != nil {
		t.Fatal(err)
	}
	// Sources listed out of id order: the reports are still taken in id order, c last.
	d, err := svc.Create(ctx, ed, draft.CreateInput{SubmissionIDs: []int64{c, b, a}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET lock_holder_id = $1, lock_expires_at = now() + interval '10 minutes' WHERE id = $2`,
		f.users["editor2"].UserID, c); err != nil {
		t.Fatal(err)
	}
	before := f.rowCounts(t, ids)
	var draftAudit int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object = $1`, "draft:"+strconv.FormatInt(d.ID, 10)).Scan(&draftAudit); err != nil {
		t.Fatal(err)
	}

	_, credits, err := svc.Adopt(ctx, ed, d.ID, d.Version, "")
	var se *draft.SourceError
	var re *workflow.RefusedError
	if !errors.As(err, &se) || se.SubmissionID != c || !errors.As(err, &re) || re.Kind != workflow.RefusedLocked || credits != nil {
		t.Fatalf("adopt with the third source locked: %v %+v", err, credits)
	}
	for _, want := range []string{"#" + strconv.FormatInt(c, 10), "市住房和城乡建设局", "测试editor2", "稿件未采用"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err.Error(), want)
		}
	}
	if got := []string{f.state(t, a), f.state(t, b), f.state(t, c)}; strings.Join(got, ",") != "submitted,in_review,submitted" {
		t.Errorf("report states after the refused adoption: %v", got)
	}
	if after := f.rowCounts(t, ids); !maps.Equal(before, after) {
		t.Errorf("rows about the reports before %v, after the refused adoption %v", before, after)
	}
	got, err := svc.Get(ctx, ed, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != draft.StateEditing || got.Version != d.Version || got.AdoptedAt != nil {
		t.Errorf("draft after the refused adoption: %s version %d (was %d)", got.State, got.Version, d.Version)
	}
	for _, src := range got.Sources {
		if src.Credit != "" {
			t.Errorf("report %d credited %s by the refused adoption", src.SubmissionID, src.Credit)
		}
	}
	var n int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object = $1`, "draft:"+strconv.FormatInt(d.ID, 10)).Scan(&n); err != nil || n != draftAudit {
		t.Errorf("draft audit rows %d → %d (%v)", draftAudit, n, err)
	}

	if _, err := f.db.Exec(ctx, `UPDATE submissions SET lock_holder_id = NULL, lock_expires_at = NULL WHERE id = $1`, c); err != nil {
		t.Fatal(err)
	}
	adopted, credits, err := svc.Adopt(ctx, ed, d.ID, d.Version, "")
	if err != nil || adopted.State != draft.StateAdopted || len(credits) != 3 {
		t.Fatalf("adopt: %v %s %+v", err, adopted.State, credits)
	}
	for _, id := range ids {
		if st := f.state(t, id); st != "merged" {
			t.Errorf("report %d is %s, want merged", id, st)
		}
	}
	after := f.rowCounts(t, ids)
	// a and c: review + merge; b: merge. Each transition: one history, audit and outbox row.
	for _, k := range []string{"workflow_events", "audit_log", "outbox"} {
		if after[k]-before[k] != 5 {
			t.Errorf("%s: %d new rows, want 5", k, after[k]-before[k])
		}
	}
	if after["draft_credits"] != 3 {
		t.Errorf("%d credit rows, want 3", after["draft_credits"])
	}
	// One commit: now() is the transaction's start time, the same in every row the adoption
	// wrote (transactions of their own would each have had their own).
	var stamps int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM draft_credits c, drafts d WHERE d.id = $1 AND c.draft_id = d.id
			AND c.credited_at = d.adopted_at`, d.ID).Scan(&stamps); err != nil || stamps != 3 {
		t.Errorf("%d credit rows written in the adoption's transaction (%v), want 3", stamps, err)
	}
	var inAdoption int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM workflow_events e, drafts d WHERE d.id = $2 AND e.at = d.adopted_at
			AND e.submission_id = ANY($1::bigint[])`, ids, d.ID).Scan(&inAdoption); err != nil || inAdoption != 5 {
		t.Errorf("%d history rows written in the adoption's transaction (%v), want 5", inAdoption, err)
	}
}
