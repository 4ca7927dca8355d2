package workflow_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
	"infowork/workflow"
)

// fixture is a database with two units and one account per role the workflow needs.
type fixture struct {
	db    *pgxpool.Pool
	subs  *submission.Service
	wf    *workflow.Service
	users map[string]access.Subject
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	for _, u := range []unit.Unit{{Code: "Z101", Name: "芙蓉区东湖街道直报点", Kind: unit.KindDirect, District: "芙蓉区"},
		{Code: "Z102", Name: "岳麓区西湖街道直报点", Kind: unit.KindDirect, District: "岳麓区"}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{db: db, subs: submission.New(db), wf: workflow.New(db), users: map[string]access.Subject{}}
	for _, u := range []struct{ name, role, unit string }{
		{"rep_a", access.RoleReporter, "Z101"}, {"appr_a", access.RoleUnitApprover, "Z101"},
		{"rep_b", access.RoleReporter, "Z102"}, {"appr_b", access.RoleUnitApprover, "Z102"},
		{"editor1", access.RoleEditor, ""}, {"editor2", access.RoleEditor, ""}, {"admin", access.RoleSysAdmin, ""},
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

func (f *fixture) draft(t *testing.T, author string) int64 {
	t.Helper()
	c, err := f.subs.Create(context.Background(), f.users[author], submission.Input{Title: "东湖街道加装电梯进展", Body: "正文。",
		WriterName: "张三", WriterPhone: "0731-84001234", Draft: true}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (f *fixture) version(t *testing.T, id int64) (int64, string) {
	t.Helper()
	var v int64
	var st string
	if err := f.db.QueryRow(context.Background(), `SELECT version, state FROM submissions WHERE id = $1`, id).Scan(&v, &st); err != nil {
		t.Fatal(err)
	}
	return v, st
}

// step takes a transition with the current version and fails the test if it is refused.
func (f *fixture) step(t *testing.T, who string, id int64, code string, in workflow.Input) workflow.Result {
	t.Helper()
	v, _ := f.version(t, id)
	in.ExpectedVersion = v
	res, err := f.wf.Transition(context.Background(), f.users[who], id, code, in)
	if err != nil {
		t.Fatalf("%s %s on %d: %v", who, code, id, err)
	}
	if res.Version != v+1 {
		t.Fatalf("%s %s: version %d, want %d", who, code, res.Version, v+1)
	}
	return res
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) indexedState(t *testing.T, id int64) string {
	t.Helper()
	docs, err := submission.Documents(context.Background(), f.db, []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	return docs[id].State
}

func TestMigrationSeedsEmbeddedDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	list, err := f.wf.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Version != 2 || !list[0].Active || list[1].Version != 1 || list[1].Active {
		t.Fatalf("seeded versions: %+v", list)
	}
	d, err := f.wf.Definition(context.Background(), workflow.DefaultName, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, workflow.Default()) {
		t.Errorf("migration 0010 seeds a default definition that differs from workflow/default.json")
	}
	// A report created without a draft flag follows the active version and starts in its
	// direct state (submitted).
	c, err := f.subs.Create(context.Background(), f.users["rep_a"], submission.Input{Title: "直接报送", Body: "正文"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var wv int
	var st string
	if err := f.db.QueryRow(context.Background(), `SELECT workflow_version, state FROM submissions WHERE id = $1`, c.ID).Scan(&wv, &st); err != nil {
		t.Fatal(err)
	}
	if wv != 2 || st != submission.StateSubmitted {
		t.Errorf("new report: workflow version %d state %s, want 2 submitted", wv, st)
	}
}

func TestDefaultPathAuditedHistoryIndexed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.draft(t, "rep_a")
	if s := f.indexedState(t, id); s != "draft" {
		t.Fatalf("indexed state %q, want draft", s)
	}
	av, err := f.wf.Available(ctx, f.users["rep_a"], id)
	if err != nil {
		t.Fatal(err)
	}
	if av.State != "draft" || len(av.Transitions) != 2 || av.Transitions[0].Code != "submit" || av.Transitions[1].Code != "discard" {
		t.Fatalf("reporter on a draft: %+v", av)
	}
	auditBefore := f.count(t, `SELECT count(*) FROM audit_log WHERE action LIKE 'workflow.%'`)

	path := []struct{ who, code, to string }{
		{"rep_a", "submit", "unit_approval"}, {"appr_a", "approve", "submitted"}, {"editor1", "review", "in_review"}, {"editor1", "adopt", "adopted"},
	}
	for _, p := range path {
		res := f.step(t, p.who, id, p.code, workflow.Input{ClientIP: "10.0.0.7"})
		if res.To != p.to {
			t.Fatalf("%s %s: to %s, want %s", p.who, p.code, res.To, p.to)
		}
		// The search index re-reads the row and sees the new state.
		if s := f.indexedState(t, id); s != p.to {
			t.Errorf("after %s the indexer reads state %q, want %q", p.code, s, p.to)
		}
		if n := f.count(t, `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = $1`, id); n < 1 {
			t.Errorf("after %s: no outbox row", p.code)
		}
		if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = $1 AND object = $2 AND username = $3 AND client_ip = '10.0.0.7'
			AND detail LIKE '%to=' || $4 || '%'`, "workflow."+p.code, "submission:"+itoa(id), p.who, p.to); n != 1 {
			t.Errorf("audit rows for %s: %d, want 1", p.code, n)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action LIKE 'workflow.%'`) - auditBefore; n != len(path) {
		t.Errorf("%d workflow audit rows, want %d", n, len(path))
	}
	hist, err := f.wf.History(ctx, f.users["rep_a"], id)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(path) {
		t.Fatalf("history has %d events, want %d", len(hist), len(path))
	}
	for i, p := range path {
		if hist[i].Transition != p.code || hist[i].To != p.to || hist[i].Actor != "测试"+p.who {
			t.Errorf("history[%d] = %+v, want %s by %s", i, hist[i], p.code, p.who)
		}
	}
	if hist[3].ToName != "采用" || hist[0].FromName != "草稿" {
		t.Errorf("history names: %+v", hist)
	}
	// Actions: the approver was notified on unit_approval, the editors on submitted, the unit on
	// adopted; the item is tagged 采用 and was assigned along the way. Other units hear nothing.
	for _, c := range []struct {
		user, kind string
	}{{"appr_a", "workflow.submit"}, {"editor1", "workflow.approve"}, {"editor2", "workflow.approve"}, {"rep_a", "workflow.adopt"}, {"appr_a", "workflow.adopt"}} {
		if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id = $1 AND submission_id = $2 AND kind = $3`, f.users[c.user].UserID, id, c.kind); n != 1 {
			t.Errorf("%s notified of %s %d times, want 1", c.user, c.kind, n)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id IN ($1, $2)`, f.users["rep_b"].UserID, f.users["appr_b"].UserID); n != 0 {
		t.Errorf("another unit got %d notifications", n)
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'workflow.submit'`, f.users["rep_a"].UserID); n != 0 {
		t.Errorf("the actor was notified of their own transition")
	}
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND tags = '{采用}' AND assigned_role = 'editor'`, id); n != 1 {
		t.Errorf("tag or assignment missing")
	}
	if av, err = f.wf.Available(ctx, f.users["editor1"], id); err != nil || len(av.Transitions) != 0 || av.StateName != "采用" {
		t.Errorf("adopted is terminal: %+v %v", av, err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestReturnWithReasonAndResubmit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.draft(t, "rep_a")
	f.step(t, "rep_a", id, "submit", workflow.Input{})
	f.step(t, "appr_a", id, "approve", workflow.Input{})
	f.step(t, "editor1", id, "review", workflow.Input{})

	// A return needs a reason from the list and a comment.
	v, _ := f.version(t, id)
	for _, in := range []workflow.Input{{}, {Reason: "unclear_title"}, {Reason: "bogus", Comment: "说明"}, {Comment: "只有说明"}} {
		in.ExpectedVersion = v
		_, err := f.wf.Transition(ctx, f.users["editor1"], id, "return", in)
		var re *workflow.RefusedError
		if !errors.As(err, &re) || re.Kind != workflow.RefusedGuard || len(re.Fields) == 0 {
			t.Errorf("return with %+v: %v, want a guard refusal", in, err)
		}
	}
	if v2, st := f.version(t, id); v2 != v || st != "in_review" {
		t.Fatalf("a refused return changed the item: version %d state %s", v2, st)
	}
	f.step(t, "editor1", id, "return", workflow.Input{Reason: "unclear_title", Comment: "标题请写明街道名称和事项"})

	// The unit sees the reason in the history.
	hist, err := f.wf.History(ctx, f.users["rep_a"], id)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.To != "returned" || last.ToName != "退回" || last.Reason != "unclear_title" || last.ReasonName != "标题不清" || last.Comment != "标题请写明街道名称和事项" {
		t.Errorf("the unit's view of the return: %+v", last)
	}
	if n := f.count(t, `SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'workflow.return' AND message LIKE '%标题不清%'`, f.users["rep_a"].UserID); n != 1 {
		t.Errorf("the reporter was not notified of the return with its reason")
	}
	// Another unit cannot read the item, its history or its transitions.
	if _, err := f.wf.History(ctx, f.users["rep_b"], id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another unit's history: %v, want not found", err)
	}
	// Revised and resubmitted: it goes through unit approval again.
	f.step(t, "rep_a", id, "resubmit", workflow.Input{Comment: "已修改标题"})
	f.step(t, "appr_a", id, "approve", workflow.Input{})
	if _, st := f.version(t, id); st != "submitted" {
		t.Errorf("after resubmission and approval: %s", st)
	}
	if s := f.indexedState(t, id); s != "submitted" {
		t.Errorf("indexed state %q", s)
	}
}

func TestInvalidTransitionsRefusedAndNothingWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.draft(t, "rep_a")
	inReview := f.draft(t, "rep_a")
	f.step(t, "rep_a", inReview, "submit", workflow.Input{})
	f.step(t, "appr_a", inReview, "approve", workflow.Input{})
	f.step(t, "editor1", inReview, "review", workflow.Input{})

	snapshot := func() [4]int {
		return [4]int{f.count(t, `SELECT count(*) FROM workflow_events`), f.count(t, `SELECT count(*) FROM audit_log`),
			f.count(t, `SELECT count(*) FROM outbox`), f.count(t, `SELECT count(*) FROM notifications`)}
	}
	before := snapshot()
	tests := []struct {
		name, who, code string
		id              int64
		kind            string
		want            []string
	}{
		{"adopt from draft", "editor1", "adopt", id, workflow.RefusedInvalid, []string{"当前状态为「草稿」", `不能执行操作 "adopt"`, "没有可执行的操作"}},
		{"reporter adopts a draft", "rep_a", "adopt", id, workflow.RefusedInvalid, []string{"「草稿」", "提交审签（submit）"}},
		{"reporter adopts in review", "rep_a", "adopt", inReview, workflow.RefusedForbidden, []string{"「编辑审核」", "只能由编辑执行"}},
		{"approver of another unit", "appr_b", "approve", id, "", nil}, // cannot even read it
		{"editor submits a unit's draft", "editor1", "submit", id, workflow.RefusedForbidden, []string{"信息员、单位审签人"}},
		{"unknown transition", "editor1", "publish", inReview, workflow.RefusedInvalid, []string{"采用（adopt）", "综合采用（merge）", "退回（return）", "存档备查（file）"}},
	}
	for _, tc := range tests {
		v, st := f.version(t, tc.id)
		_, err := f.wf.Transition(ctx, f.users[tc.who], tc.id, tc.code, workflow.Input{ExpectedVersion: v})
		if tc.kind == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want not found", tc.name, err)
			}
			continue
		}
		var re *workflow.RefusedError
		if !errors.As(err, &re) || re.Kind != tc.kind {
			t.Errorf("%s: %v, want a %s refusal", tc.name, err, tc.kind)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(re.Message, w) {
				t.Errorf("%s: message %q lacks %q", tc.name, re.Message, w)
			}
		}
		if v2, st2 := f.version(t, tc.id); v2 != v || st2 != st {
			t.Errorf("%s changed the item", tc.name)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("refused transitions wrote something: events/audit/outbox/notifications %v → %v", before, after)
	}
}

func TestConcurrentTransitionsOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.draft(t, "rep_a")
	f.step(t, "rep_a", id, "submit", workflow.Input{})
	f.step(t, "appr_a", id, "approve", workflow.Input{})
	f.step(t, "editor1", id, "review", workflow.Input{})
	v, _ := f.version(t, id)

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	results := make([]workflow.Result, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			who, code := "editor1", "adopt"
			if i%2 == 1 {
				who, code = "editor2", "merge"
			}
			results[i], errs[i] = f.wf.Transition(ctx, f.users[who], id, code, workflow.Input{ExpectedVersion: v})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	var winner workflow.Result
	for i, err := range errs {
		var ce *workflow.ConflictError
		switch {
		case err == nil:
			wins++
			winner = results[i]
		case errors.As(err, &ce):
			if ce.Current != v+1 || !errors.Is(err, workflow.ErrConflict) {
				t.Errorf("conflict reports version %d, want %d", ce.Current, v+1)
			}
		default:
			t.Errorf("transition %d: %v, want success or conflict", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d transitions won, want exactly 1", wins)
	}
	if got, st := f.version(t, id); got != v+1 || st != winner.To {
		t.Errorf("item at version %d state %s, want %d %s", got, st, v+1, winner.To)
	}
	if k := f.count(t, `SELECT count(*) FROM workflow_events WHERE submission_id = $1 AND from_state = 'in_review'`, id); k != 1 {
		t.Errorf("%d events leave in_review, want 1", k)
	}
}

func TestItemsKeepTheirDefinitionVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	old := f.draft(t, "rep_a")

	// Version 2: no unit approval and no filing.
	d := workflow.Default()
	var keep []workflow.Transition
	for _, tr := range d.Transitions {
		switch {
		case tr.Code == "file" || tr.From == "unit_approval":
		case tr.Code == "submit":
			tr.To = "submitted"
			keep = append(keep, tr)
		case tr.Code == "resubmit":
			tr.To = "submitted"
			keep = append(keep, tr)
		default:
			keep = append(keep, tr)
		}
	}
	d.Transitions = keep
	var states []workflow.State
	for _, s := range d.States {
		if s.Code != "unit_approval" && s.Code != "filed" {
			states = append(states, s)
		}
	}
	d.States = states

	// Only the system administrator publishes; the refusal is audited.
	if _, err := f.wf.Publish(ctx, f.users["editor1"], d, "10.0.0.9"); !errors.Is(err, workflow.ErrForbidden) {
		t.Fatalf("editor publishes: %v, want forbidden", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'workflow.publish' AND outcome = 'denied' AND username = 'editor1'`); n != 1 {
		t.Errorf("denied publish audited %d times", n)
	}
	bad := d
	bad.Transitions = append([]workflow.Transition{{Code: "x", From: "draft", To: "nowhere", Label: "x", Roles: []string{"reporter"}}}, d.Transitions...)
	var de *workflow.DefinitionError
	if _, err := f.wf.Publish(ctx, f.users["admin"], bad, ""); !errors.As(err, &de) {
		t.Fatalf("invalid definition published: %v", err)
	}
	st, err := f.wf.Publish(ctx, f.users["admin"], d, "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 3 || !st.Active {
		t.Fatalf("published %+v", st)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'workflow.publish' AND outcome = 'success' AND detail = 'version=3'`); n != 1 {
		t.Errorf("publish audited %d times", n)
	}
	list, err := f.wf.List(ctx)
	if err != nil || len(list) != 3 || list[0].Version != 3 || !list[0].Active || list[1].Active || list[2].Active {
		t.Fatalf("list: %+v %v", list, err)
	}
	// Definitions never change in place.
	if _, err := f.db.Exec(ctx, `UPDATE workflow_definitions SET definition = '{}' WHERE version = 1`); err == nil {
		t.Error("a stored definition was changed in place")
	}

	fresh := f.draft(t, "rep_a")
	// The old item still goes through unit approval (version 2); the new one skips it.
	if r := f.step(t, "rep_a", old, "submit", workflow.Input{}); r.To != "unit_approval" {
		t.Errorf("old item submitted to %s, want unit_approval (version 2)", r.To)
	}
	if r := f.step(t, "rep_a", fresh, "submit", workflow.Input{}); r.To != "submitted" {
		t.Errorf("new item submitted to %s, want submitted (version 2)", r.To)
	}
	f.step(t, "appr_a", old, "approve", workflow.Input{})
	avOld, err := f.wf.Available(ctx, f.users["editor1"], old)
	if err != nil {
		t.Fatal(err)
	}
	avNew, err := f.wf.Available(ctx, f.users["editor1"], fresh)
	if err != nil {
		t.Fatal(err)
	}
	has := func(cs []workflow.Choice, code string) bool {
		for _, c := range cs {
			if c.Code == code {
				return true
			}
		}
		return false
	}
	if avOld.WorkflowVersion != 2 || !has(avOld.Transitions, "file") {
		t.Errorf("old item: %+v", avOld)
	}
	if avNew.WorkflowVersion != 3 || has(avNew.Transitions, "file") {
		t.Errorf("new item: %+v", avNew)
	}
}
