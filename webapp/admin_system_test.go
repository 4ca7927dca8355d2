package webapp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestDeadLettersVisibleAndReplayable puts a change in the dead-letter state (as the indexer
// does when the engine refuses it permanently) and checks the system administrator sees it with
// its error, can replay it, and that the replay is audited; nobody else reaches the page.
func TestDeadLettersVisibleAndReplayable(t *testing.T) {
	s := newStack(t, stackOptions{})
	createAccounts(t, s, admins...)
	ctx := context.Background()
	if _, err := s.DB.Exec(ctx, `INSERT INTO outbox (entity, entity_id, attempts, last_error, dead_at)
		VALUES ('submission', 424242, 12, 'mapper_parsing_exception: failed to parse field [date]', now())`); err != nil {
		t.Fatal(err)
	}
	b := adminLogin(t, s, "sys1")
	pg := b.get("/admin/system")
	body := string(pg.Body)
	must(t, pg.Status == http.StatusOK, "system page: %s", pg)
	must(t, strings.Contains(body, "mapper_parsing_exception") && strings.Contains(body, "submission:424242"), "dead letter listed with its error: %s", pg)
	r := b.form("/admin/system", "/admin/system/replay", nil)
	must(t, r.Status == http.StatusSeeOther, "replay: %s", r)
	var dead, waiting int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE dead_at IS NOT NULL), count(*) FILTER (WHERE dead_at IS NULL AND entity_id = 424242) FROM outbox`).Scan(&dead, &waiting); err != nil {
		t.Fatal(err)
	}
	// The indexer may already have processed the replayed row (a missing submission is a delete).
	must(t, dead == 0, "dead letters after replay: %d", dead)
	var audited int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'admin.outbox.replay' AND username = 'sys1' AND detail = 'rows=1'`).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("replay audited %d times (%v)", audited, err)
	}
	for _, who := range []string{"sec1", "aud1"} {
		ob := adminLogin(t, s, who)
		must(t, ob.get("/admin/system").Status == http.StatusForbidden, "%s reached the system page", who)
	}
	rb := s.browser(t)
	rb.login("rep_a")
	must(t, rb.get("/admin/system").Status == http.StatusForbidden, "a reporter reached the system page")
}
