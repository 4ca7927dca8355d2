package workflow_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"infowork/submission"
	"infowork/workflow"
)

// TestGuardsRefuseIncompleteReports: a report without the writer's name or with a phone that is
// not one cannot leave its unit; the refusal names each field and nothing is written.
func TestGuardsRefuseIncompleteReports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.subs.Create(ctx, f.users["rep_a"], submission.Input{Title: "缺执笔人", Body: "正文。", WriterPhone: "12345", Draft: true}, "")
	var ve *submission.ValidationError
	if errors.As(err, &ve) {
		// The intake form may refuse the bad phone itself; then store it without one.
		c, err = f.subs.Create(ctx, f.users["rep_a"], submission.Input{Title: "缺执笔人", Body: "正文。", Draft: true}, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.version(t, c.ID)
	_, err = f.wf.Transition(ctx, f.users["rep_a"], c.ID, "submit", workflow.Input{ExpectedVersion: v})
	var re *workflow.RefusedError
	if !errors.As(err, &re) || re.Kind != workflow.RefusedGuard {
		t.Fatalf("submit without writer: %v, want a guard refusal", err)
	}
	if !strings.Contains(re.Fields["writer_name"], "必须填写执笔人") || re.Fields["writer_phone"] == "" {
		t.Errorf("guard fields: %+v", re.Fields)
	}
	if _, st := f.version(t, c.ID); st != "draft" {
		t.Errorf("state after refusal: %s", st)
	}
	if n := f.count(t, `SELECT count(*) FROM workflow_events WHERE submission_id = $1`, c.ID); n != 0 {
		t.Errorf("%d events written by a refused transition", n)
	}
	// A phone that is not one is refused by the phone check.
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET writer_name = '李四', writer_phone = '电话待补' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.wf.Transition(ctx, f.users["rep_a"], c.ID, "submit", workflow.Input{ExpectedVersion: v})
	if !errors.As(err, &re) || !strings.Contains(re.Fields["writer_phone"], "不像电话号码") || re.Fields["writer_name"] != "" {
		t.Fatalf("bad phone: %v %+v", err, re)
	}
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET writer_phone = '13812345678' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	f.step(t, "rep_a", c.ID, "submit", workflow.Input{})
}

// TestDiscardArchivesWithHistory: a withdrawn draft is archived, not deleted; its history stays
// readable and it allows nothing more.
func TestDiscardArchivesWithHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.draft(t, "rep_a")
	f.step(t, "rep_a", id, "submit", workflow.Input{})
	f.step(t, "rep_a", id, "withdraw", workflow.Input{})
	f.step(t, "rep_a", id, "discard", workflow.Input{Comment: "重复报送，撤销"})
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND archived_at IS NOT NULL AND state = 'withdrawn'`, id); n != 1 {
		t.Fatal("discarded draft not archived in state withdrawn")
	}
	hist, err := f.wf.History(ctx, f.users["rep_a"], id)
	if err != nil || len(hist) != 3 || hist[2].ToName != "已撤销" || hist[2].Comment != "重复报送，撤销" {
		t.Fatalf("history of an archived item: %+v %v", hist, err)
	}
	av, err := f.wf.Available(ctx, f.users["rep_a"], id)
	if err != nil || len(av.Transitions) != 0 {
		t.Errorf("archived item allows %+v (%v)", av.Transitions, err)
	}
}

// TestSoftLockRefusesOthers: while another editor holds the item's soft lock, a transition is
// refused naming the holder; the holder may proceed, and an expired lock is no lock.
func TestSoftLockRefusesOthers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.subs.Create(ctx, f.users["rep_a"], submission.Input{Title: "直报", Body: "正文", WriterName: "张三", WriterPhone: "13812345678"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET lock_holder_id = $2, lock_expires_at = now() + interval '10 minutes' WHERE id = $1`,
		c.ID, f.users["editor1"].UserID); err != nil {
		t.Fatal(err)
	}
	v, _ := f.version(t, c.ID)
	_, err = f.wf.Transition(ctx, f.users["editor2"], c.ID, "review", workflow.Input{ExpectedVersion: v})
	var re *workflow.RefusedError
	if !errors.As(err, &re) || re.Kind != workflow.RefusedLocked || !strings.Contains(re.Message, "测试editor1") {
		t.Fatalf("editor2 on editor1's item: %v", err)
	}
	f.step(t, "editor1", c.ID, "review", workflow.Input{})
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET lock_expires_at = now() - interval '1 second' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	f.step(t, "editor2", c.ID, "adopt", workflow.Input{})
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND lock_holder_id IS NULL`, c.ID); n != 1 {
		t.Error("a terminal state did not release the lock")
	}
}

// TestDirectStateFollowsDefinition: a version whose direct state is unit approval makes reports
// created without the draft flag start there, and drafts start in its initial state.
func TestDirectStateFollowsDefinition(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	d := workflow.Default()
	d.Direct = "unit_approval"
	if _, err := f.wf.Publish(ctx, f.users["admin"], d, ""); err != nil {
		t.Fatal(err)
	}
	c, err := f.subs.Create(ctx, f.users["rep_a"], submission.Input{Title: "直接", Body: "正文"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, st := f.version(t, c.ID); st != "unit_approval" {
		t.Errorf("direct report starts in %s, want unit_approval", st)
	}
	if n := f.count(t, `SELECT count(*) FROM submissions WHERE id = $1 AND assigned_role = 'unit_approver'`, c.ID); n != 1 {
		t.Error("the start state's assign action did not apply")
	}
	if _, st := f.version(t, f.draft(t, "rep_a")); st != "draft" {
		t.Errorf("draft starts in %s", st)
	}
	d.Direct = "adopted"
	var de *workflow.DefinitionError
	if _, err := f.wf.Publish(ctx, f.users["admin"], d, ""); !errors.As(err, &de) || !strings.Contains(err.Error(), "终态") {
		t.Errorf("terminal direct state published: %v", err)
	}
}

func TestDiffNamesChanges(t *testing.T) {
	t.Parallel()
	a := workflow.Default()
	b := workflow.Default()
	b.States = append(b.States, workflow.State{Code: "hold", Name: "暂缓", Terminal: true})
	b.Transitions = b.Transitions[1:]
	b.Transitions[0].Roles = []string{"reporter"}
	b.Direct = "draft"
	changes := workflow.Diff(a, b)
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind+" "+c.What+" "+c.Key+" "+c.Detail)
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{"added 状态 hold 新增「暂缓」", "removed 流转 draft/submit", "changed 流转 draft/discard", `roles：["reporter","unit_approver"] → ["reporter"]`, `changed 设置 direct "submitted" → "draft"`} {
		if !strings.Contains(all, w) {
			t.Errorf("diff lacks %q:\n%s", w, all)
		}
	}
	if len(workflow.Diff(a, a)) != 0 {
		t.Error("a definition differs from itself")
	}
}
