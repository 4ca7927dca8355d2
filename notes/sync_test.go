package notes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/label"
	"infowork/notes"
	"infowork/store"
	"infowork/submission"
)

const (
	unidA = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"
	unidB = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2"
	unidC = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA3"
	unidD = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4"
)

func report(subject, body string) map[string]any {
	return map[string]any{"Form": "Report", "Subject": subject, "Unit": "B001", "Urgency": "加急",
		"Body": map[string]any{"type": "multipart", "content": []map[string]string{
			{"contentType": "text/html; charset=UTF-8", "data": "<p>" + body + "</p><script>alert(1)</script>"}}}}
}

func (e *env) syncer(t *testing.T, srv string, pass string, reg prometheus.Registerer) *notes.Syncer {
	t.Helper()
	das, err := notes.NewDASClient(notes.DASOptions{BaseURL: srv, Database: "xxgl/info.nsf", Username: "sync", Password: pass, PageSize: 2,
		AllowPlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := notes.NewSyncer(notes.SyncOptions{Importer: e.im, DAS: das, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) title(t *testing.T, unid string) (string, bool) {
	t.Helper()
	var title string
	var archived bool
	if err := e.db.QueryRow(e.ctx, `SELECT title, archived_at IS NOT NULL FROM submissions WHERE source = 'notes' AND source_ref = $1`, unid).
		Scan(&title, &archived); err != nil {
		t.Fatalf("%s: %v", unid, err)
	}
	return title, archived
}

func TestSyncCreateUpdateDeleteWithCheckpoint(t *testing.T) {
	e := newEnv(t, nil)
	das, srv := newDASStandIn("xxgl/info.nsf", "sync", "secret")
	defer srv.Close()
	das.put(unidA, "Report", report("防汛工作部署", "全市部署防汛工作。"))
	das.put(unidB, "Report", report("老旧小区改造", "改造进展顺利。"))
	das.put(unidC, "Report", report("垃圾分类", "分类投放。"))

	reg := prometheus.NewRegistry()
	s := e.syncer(t, srv.URL, "secret", reg)
	rep, err := s.PollOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Created != 3 || !rep.Passed {
		t.Fatalf("first poll: %+v %+v", rep.Total, rep.Mismatches)
	}
	if title, _ := e.title(t, unidB); title != "老旧小区改造" {
		t.Fatalf("title %q", title)
	}
	var body string
	var urgency, unit string
	if err := e.db.QueryRow(e.ctx, `SELECT s.body_html, s.urgency, u.code FROM submissions s JOIN units u ON u.id = s.unit_id
		WHERE s.source_ref = $1`, unidA).Scan(&body, &urgency, &unit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "全市部署防汛工作。") || strings.Contains(body, "script") || urgency != "urgent" || unit != "B001" {
		t.Fatalf("record: body %q urgency %s unit %s", body, urgency, unit)
	}
	cp, err := s.Checkpoint(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp == "" || cp != das.dates[0] {
		t.Fatalf("checkpoint %q, want the server time of the answer %q", cp, das.dates[0])
	}

	// Changes in Notes; the sync restarts (a new process) and resumes from the stored checkpoint.
	das.put(unidB, "Report", report("老旧小区改造进展", "已完成 80%。"))
	das.put(unidD, "Report", report("新建学校", "秋季开学。"))
	gets := das.docGets
	s2 := e.syncer(t, srv.URL, "secret", prometheus.NewRegistry())
	rep, err = s2.PollOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if das.sinces[1] != cp {
		t.Fatalf("second poll asked since=%q, want the checkpoint %q", das.sinces[1], cp)
	}
	if das.docGets-gets != 2 || rep.Total.Updated != 1 || rep.Total.Created != 1 || !rep.Passed {
		t.Fatalf("second poll fetched %d documents: %+v", das.docGets-gets, rep.Total)
	}
	if title, _ := e.title(t, unidB); title != "老旧小区改造进展" {
		t.Fatalf("update not applied: %q", title)
	}

	// A replay of the same answer is a no-op.
	rep, err = s2.PollOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Created+rep.Total.Updated != 0 {
		t.Fatalf("replay changed records: %+v", rep.Total)
	}

	// Deleted in Notes: found by reconciling the UNID sets, archived (never hard-deleted).
	das.remove(unidC)
	rrep, err := s2.Reconcile(e.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rrep.Deleted) != 1 || rrep.Deleted[0] != unidC {
		t.Fatalf("deleted %v", rrep.Deleted)
	}
	if _, archived := e.title(t, unidC); !archived {
		t.Fatal("deleted document's record not archived")
	}
	var idC int64
	if err := e.db.QueryRow(e.ctx, `SELECT id FROM submissions WHERE source_ref = $1`, unidC).Scan(&idC); err != nil {
		t.Fatal(err)
	}
	editor := access.Subject{Username: "editor", Roles: []string{access.RoleEditor}, Clearance: label.Confidential}
	if _, err := submission.New(e.db).Get(e.ctx, editor, idC, "127.0.0.1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a record deleted in Notes is still readable: %v", err)
	}
	if page, err := submission.New(e.db).List(e.ctx, editor, submission.ListOptions{}); err != nil || page.Total != 3 {
		t.Fatalf("list after the deletion: %d records, %v", page.Total, err)
	}
	if _, archived := e.title(t, unidA); archived {
		t.Fatal("a present document was archived")
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source = 'notes'`); n != 4 {
		t.Fatalf("%d records: deletion must archive, not delete", n)
	}

	// Changed on both sides: reported, neither overwritten.
	if _, err := e.db.Exec(e.ctx, `UPDATE submissions SET title = '编辑部改过的标题', version = version + 1 WHERE source_ref = $1`, unidA); err != nil {
		t.Fatal(err)
	}
	das.put(unidA, "Report", report("Notes 中改过的标题", "正文"))
	rep, err = s2.PollOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Conflicts != 1 {
		t.Fatalf("conflict not reported: %+v", rep.Total)
	}
	if title, _ := e.title(t, unidA); title != "编辑部改过的标题" {
		t.Fatalf("infowork edit overwritten: %q", title)
	}
	if n := e.count(t, `SELECT count(*) FROM notes_conflicts WHERE unid = $1 AND kind = 'both_changed'`, unidA); n != 1 {
		t.Fatalf("%d conflicts listed", n)
	}

	// A reconciliation answer that would archive most records is refused.
	for _, u := range []string{unidA, unidB, unidD} {
		das.remove(u)
	}
	if _, err := s2.Reconcile(e.ctx, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("mass deletion not refused: %v", err)
	}
	if _, archived := e.title(t, unidB); archived {
		t.Fatal("refused reconciliation archived a record")
	}
}

func TestSyncAuthFailureKeepsCheckpoint(t *testing.T) {
	e := newEnv(t, nil)
	das, srv := newDASStandIn("xxgl/info.nsf", "sync", "secret")
	defer srv.Close()
	das.put(unidA, "Report", report("防汛工作部署", "全市部署防汛工作。"))
	good := e.syncer(t, srv.URL, "secret", prometheus.NewRegistry())
	if _, err := good.PollOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	cp, _ := good.Checkpoint(e.ctx)

	das.put(unidB, "Report", report("老旧小区改造", "改造进展顺利。"))
	reg := prometheus.NewRegistry()
	bad := e.syncer(t, srv.URL, "wrong", reg)
	_, err := bad.PollOnce(e.ctx)
	if !errors.Is(err, notes.ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	if cp2, _ := bad.Checkpoint(e.ctx); cp2 != cp {
		t.Fatalf("checkpoint moved on an auth failure: %q → %q", cp, cp2)
	}
	if n := counterValue(t, reg, "infowork_notes_sync_errors_total", "auth"); n != 1 {
		t.Fatalf("auth errors metric %v", n)
	}

	// The sync dies in the middle of a batch (pages of two: B and C on page 0, D on page 1). What
	// was applied stays applied, the checkpoint does not move, and the rerun applies the rest and
	// replays what was applied as no-ops: nothing lost, nothing duplicated.
	das.put(unidC, "Report", report("垃圾分类", "分类投放。"))
	das.failIn = 3 // collection pages 0 and 1, then the first document request (B) fails
	if _, err := good.PollOnce(e.ctx); err == nil {
		t.Fatal("server error not reported")
	}
	if cp2, _ := good.Checkpoint(e.ctx); cp2 != cp {
		t.Fatal("checkpoint moved on a failed run")
	}
	das.put(unidD, "Report", report("新建学校", "秋季开学。"))
	das.failIn = 5 // page 0, page 1, B, C, then D fails: B and C are applied
	if _, err := good.PollOnce(e.ctx); err == nil {
		t.Fatal("server error not reported")
	}
	if cp2, _ := good.Checkpoint(e.ctx); cp2 != cp {
		t.Fatal("checkpoint moved on a failed run")
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source_ref IN ($1, $2)`, unidB, unidC); n != 2 {
		t.Fatalf("%d of B and C applied before the failure", n)
	}
	rep, err := good.PollOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Created != 1 || rep.Total.Unchanged != 2 {
		t.Fatalf("rerun applied %+v", rep.Total)
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source = 'notes'`); n != 4 {
		t.Fatalf("%d records after the rerun, want 4 (no duplicates)", n)
	}
	if cp3, _ := good.Checkpoint(e.ctx); cp3 == cp {
		t.Fatal("checkpoint did not move after the successful rerun")
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{kind=%q} not found", name, kind)
	return 0
}

// Run keeps polling: an incremental export dropped while it runs is applied and moved to done,
// and the lag gauge reflects the last applied poll.
func TestRunAppliesTheDropFolder(t *testing.T) {
	e := newEnv(t, testMapping(t))
	drop := t.TempDir()
	polled := make(chan *notes.Report, 100)
	reg := prometheus.NewRegistry()
	s, err := notes.NewSyncer(notes.SyncOptions{Importer: e.im, DropDir: drop, Interval: 20 * time.Millisecond, Registerer: reg,
		AfterPoll: func(r *notes.Report, err error) {
			if err == nil {
				polled <- r
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-polled // first, empty poll
	src, err := os.ReadFile("testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(drop, "0001.dxl.part"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	// a file appears complete only under its final name (renamed after writing)
	if err := os.Rename(filepath.Join(drop, "0001.dxl.part"), filepath.Join(drop, "0001.dxl")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for applied := false; !applied; {
		select {
		case r := <-polled:
			applied = r.Total.Created == 5 && r.Passed
		case <-deadline:
			t.Fatal("the dropped export was not applied")
		}
	}
	if _, err := os.Stat(filepath.Join(drop, "done", "0001.dxl")); err != nil {
		t.Fatalf("applied file not moved: %v", err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "infowork_notes_sync_lag_seconds" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v < 0 || v > 30 {
				t.Fatalf("lag %v s", v)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
