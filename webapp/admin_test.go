package webapp_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"infowork/audit"
	"infowork/auth"
	"infowork/label"
)

// account is a test account with any role set.
type account struct {
	Username  string
	Roles     []string
	Unit      string
	Clearance label.Level
}

// createAccounts stores accounts directly (the fixture's password) and returns their ids.
func createAccounts(t testing.TB, s *stack, accs ...account) map[string]int64 {
	t.Helper()
	svc, err := auth.New(s.DB, auth.Options{HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, a := range accs {
		u, err := svc.CreateUser(context.Background(), auth.NewUser{Username: a.Username, Password: password, DisplayName: "测试" + a.Username,
			Roles: a.Roles, UnitCode: a.Unit, Clearance: a.Clearance})
		if err != nil {
			t.Fatalf("account %s: %v", a.Username, err)
		}
		ids[a.Username] = u.ID
	}
	return ids
}

var admins = []account{
	{"sys1", []string{"sysadmin"}, "", label.Public},
	{"sec1", []string{"secadmin"}, "", label.Public},
	{"aud1", []string{"auditadmin"}, "", label.Public},
}

var totpSecretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// adminLogin signs an administrator in through the login form and, as every administrator must
// (auth.RequiresMFA), enrolls a second factor through the account pages with a code computed from
// the secret the page shows. Call it once per account: a second login would need a fresh code.
func adminLogin(t testing.TB, s *stack, username string) *browser {
	t.Helper()
	b := s.browser(t)
	r := b.login(username)
	if loc := r.Header.Get("Location"); loc != "/" && loc != "/account/mfa" {
		t.Fatalf("login %s: redirected to %q", username, loc)
	}
	r = b.get("/")
	if r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/account/mfa" {
		start := b.get("/account/mfa")
		if r := b.post("/account/mfa", url.Values{"_csrf": {csrfOf(t, start)}}); r.Status != http.StatusSeeOther {
			t.Fatalf("begin TOTP enrollment of %s: %s", username, r)
		}
		pg := b.get("/account/mfa")
		m := totpSecretRE.FindSubmatch(pg.Body)
		if m == nil {
			t.Fatalf("no TOTP secret on the enrollment page of %s: %s", username, pg)
		}
		code, err := totp.GenerateCode(string(m[1]), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r := b.post("/account/mfa", url.Values{"_csrf": {csrfOf(t, pg)}, "code": {code}}); r.Status != http.StatusSeeOther {
			t.Fatalf("confirm TOTP enrollment of %s: %s", username, r)
		}
	}
	return b
}

// form posts a form with the CSRF token of the page at from.
func (b *browser) form(from, action string, v url.Values) resp {
	b.t.Helper()
	pg := b.get(from)
	if pg.Status != http.StatusOK {
		b.t.Fatalf("GET %s: %s", from, pg)
	}
	if v == nil {
		v = url.Values{}
	}
	v.Set("_csrf", csrfOf(b.t, pg))
	return b.post(action, v)
}

type auditRowT struct {
	Username, ClientIP, Action, Object, Outcome, Detail string
	Label                                               *int16
}

func auditRows(t testing.TB, s *stack, action string) []auditRowT {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT username, client_ip, action, object, outcome, detail, label FROM audit_log
		WHERE action LIKE $1 ORDER BY id`, action)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRowT, error) {
		var a auditRowT
		err := r.Scan(&a.Username, &a.ClientIP, &a.Action, &a.Object, &a.Outcome, &a.Detail, &a.Label)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAdminSeparation3x3 drives each of the three administrators against each of the three
// administrative areas (a page and a state-changing action each): only the diagonal is allowed.
// Business roles get 403 everywhere under /admin, and every refusal is audited.
func TestAdminSeparation3x3(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ids := createAccounts(t, s, admins...)

	type area struct {
		name, owner string
		page        string
		action      func(b *browser, csrf string) resp
	}
	areas := []area{
		{"system", "sys1", "/admin/users", func(b *browser, csrf string) resp {
			return b.post("/admin/units", url.Values{"_csrf": {csrf}, "code": {"X" + randomWord()[:8]}, "name": {"新单位"}, "kind": {"direct"}})
		}},
		{"security", "sec1", "/admin/security", func(b *browser, csrf string) resp {
			return b.post(fmt.Sprintf("/admin/security/users/%d", ids["aud1"]), url.Values{"_csrf": {csrf}, "roles": {"auditadmin"}, "clearance": {"public"}})
		}},
		{"audit", "aud1", "/admin/audit", func(b *browser, csrf string) resp {
			return b.post("/admin/audit/verify", url.Values{"_csrf": {csrf}})
		}},
	}
	denied := 0
	for _, who := range []string{"sys1", "sec1", "aud1"} {
		b := adminLogin(t, s, who)
		home := b.get("/")
		csrf := csrfOf(t, b.get(home.Header.Get("Location")))
		for _, ar := range areas {
			allowed := who == ar.owner
			pg := b.get(ar.page)
			act := ar.action(b, csrf)
			if allowed {
				must(t, pg.Status == http.StatusOK, "%s GET %s: %s, want 200", who, ar.page, pg)
				must(t, act.Status == http.StatusOK || act.Status == http.StatusSeeOther, "%s acting in the %s area: %s, want success", who, ar.name, act)
				continue
			}
			denied += 2
			must(t, pg.Status == http.StatusForbidden && strings.Contains(string(pg.Body), "无权访问"),
				"%s GET %s: %s, want a 403 page", who, ar.page, pg)
			must(t, act.Status == http.StatusForbidden, "%s acting in the %s area: %s, want 403", who, ar.name, act)
		}
		// Each administrator lands in its own area, and its navigation shows only that area.
		must(t, home.Status == http.StatusSeeOther, "%s GET /: %s", who, home)
		nav := string(b.get(home.Header.Get("Location")).Body)
		for _, ar := range areas {
			must(t, strings.Contains(nav, `href="`+ar.page+`"`) == (who == ar.owner), "%s navigation and link to %s", who, ar.page)
		}
		must(t, !strings.Contains(nav, `href="/search"`), "%s sees the business navigation", who)
	}
	// The security admin's refused POST changed nothing: aud1 is still the audit admin (it
	// was only ever set to auditadmin by sec1, which is allowed).
	var roles []string
	if err := s.DB.QueryRow(context.Background(), `SELECT roles FROM users WHERE username = 'aud1'`).Scan(&roles); err != nil || strings.Join(roles, ",") != "auditadmin" {
		t.Errorf("aud1 roles = %v (%v)", roles, err)
	}

	// Business roles: 403 on every administrative page, including unknown ones.
	for _, who := range []string{"rep_a", "editor1", "res_secret"} {
		b := s.browser(t)
		b.login(who)
		for _, p := range []string{"/admin", "/admin/users", "/admin/units", "/admin/security", "/admin/records", "/admin/audit",
			"/admin/audit/export.csv", fmt.Sprintf("/admin/users/%d", ids["sys1"]), "/admin/records/1/label", "/admin/nothing-here"} {
			r := b.get(p)
			denied++
			must(t, r.Status == http.StatusForbidden, "%s GET %s: %s, want 403", who, p, r)
		}
	}
	// Anonymous visitors are sent to the login page.
	r := s.browser(t).get("/admin/audit")
	must(t, r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login"), "anonymous GET /admin/audit: %s", r)

	got := auditRows(t, s, "admin.access")
	must(t, len(got) == denied, "%d denied admin.access audit rows, want %d", len(got), denied)
	for _, a := range got {
		must(t, a.Outcome == audit.Denied && a.ClientIP == "127.0.0.1" && strings.HasPrefix(a.Object, "page:"), "denied row %+v", a)
	}
}

var statusRE = regexp.MustCompile(`class="(flash|error)"[^>]*>([^<]*)<`)

func message(r resp) string {
	if m := statusRE.FindSubmatch(r.Body); m != nil {
		return string(m[2])
	}
	return ""
}

// TestAdminActionsAudited performs every administrative action and checks what the
// administrator sees, what changed, and the audit row (action, object, outcome, client IP).
func TestAdminActionsAudited(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	ids := createAccounts(t, s, admins...)
	sys, sec, aud := adminLogin(t, s, "sys1"), adminLogin(t, s, "sec1"), adminLogin(t, s, "aud1")

	last := func(action string) auditRowT {
		t.Helper()
		rows := auditRows(t, s, action)
		if len(rows) == 0 {
			t.Fatalf("no %s audit row", action)
		}
		return rows[len(rows)-1]
	}
	check := func(action, object, outcome, actor string) {
		t.Helper()
		a := last(action)
		must(t, a.Object == object && a.Outcome == outcome && a.Username == actor && a.ClientIP == "127.0.0.1",
			"last %s row = %+v, want object %s outcome %s by %s from 127.0.0.1", action, a, object, outcome, actor)
	}

	// System admin: create an account → reporter, public, must change its password.
	r := sys.form("/admin/users", "/admin/users", url.Values{"username": {"newbie"}, "display_name": {"新同事"}, "unit": {"Z101"}, "password": {"Initial-pass-2026"}})
	must(t, r.Status == http.StatusSeeOther, "create account: %s", r)
	pg := sys.get(r.Header.Get("Location"))
	must(t, strings.Contains(message(pg), "账户已创建"), "after create: %q", message(pg))
	var (
		roles      []string
		clearance  int
		mustChange bool
	)
	if err := s.DB.QueryRow(ctx, `SELECT roles, clearance, must_change_password FROM users WHERE username = 'newbie'`).Scan(&roles, &clearance, &mustChange); err != nil {
		t.Fatal(err)
	}
	must(t, strings.Join(roles, ",") == "reporter" && clearance == 0 && mustChange, "new account: roles %v clearance %d must change %v", roles, clearance, mustChange)
	check("admin.user.create", "user:newbie", audit.Success, "sys1")
	// A refused creation is shown and audited as a failure.
	r = sys.form("/admin/users", "/admin/users", url.Values{"username": {"newbie"}, "unit": {"Z101"}, "password": {"Initial-pass-2026"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(message(r), "已被使用"), "duplicate account: %s", r)
	check("admin.user.create", "user:newbie", audit.Failure, "sys1")

	// Disable kills sessions at once; enable; reset password; unlock.
	tok := s.token(t, "rep_a2")
	var repA2 int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = 'rep_a2'`).Scan(&repA2); err != nil {
		t.Fatal(err)
	}
	userPage := fmt.Sprintf("/admin/users/%d", repA2)
	r = sys.form(userPage, userPage+"/disable", nil)
	must(t, r.Status == http.StatusSeeOther, "disable: %s", r)
	must(t, s.api(t, "GET", "/api/v1/me", tok, nil).Status == http.StatusUnauthorized, "a disabled account's token still works")
	check("admin.user.disable", "user:rep_a2", audit.Success, "sys1")
	must(t, strings.Contains(last("admin.user.disable").Detail, "sessions_revoked=1"), "disable detail %q", last("admin.user.disable").Detail)
	r = sys.form(userPage, userPage+"/enable", nil)
	must(t, r.Status == http.StatusSeeOther, "enable: %s", r)
	check("admin.user.enable", "user:rep_a2", audit.Success, "sys1")
	r = sys.form(userPage, userPage+"/reset-password", url.Values{"password": {"Reset-pass-2026x"}, "password2": {"Reset-pass-2026x"}})
	must(t, r.Status == http.StatusSeeOther, "reset password: %s", r)
	check("admin.user.reset_password", "user:rep_a2", audit.Success, "sys1")
	if err := s.DB.QueryRow(ctx, `SELECT must_change_password FROM users WHERE id = $1`, repA2).Scan(&mustChange); err != nil || !mustChange {
		t.Errorf("after a reset must_change_password = %v (%v)", mustChange, err)
	}
	if _, err := s.DB.Exec(ctx, `UPDATE users SET failed_logins = 5, locked_until = now() + interval '10 minutes' WHERE id = $1`, repA2); err != nil {
		t.Fatal(err)
	}
	r = sys.form(userPage, userPage+"/unlock", nil)
	must(t, r.Status == http.StatusSeeOther, "unlock: %s", r)
	check("admin.user.unlock", "user:rep_a2", audit.Success, "sys1")
	// The system admin cannot disable itself.
	self := fmt.Sprintf("/admin/users/%d", ids["sys1"])
	r = sys.post(self+"/disable", url.Values{"_csrf": {csrfOf(t, sys.get("/admin/users"))}})
	must(t, r.Status == http.StatusUnprocessableEntity, "self-disable: %s", r)
	check("admin.user.disable", fmt.Sprintf("user:%d", ids["sys1"]), audit.Denied, "sys1")

	// Units: create, edit, and a refused cycle.
	r = sys.form("/admin/units", "/admin/units", url.Values{"code": {"Z103"}, "name": {"天心区直报点"}, "kind": {"direct"}, "parent": {"B101"}, "district": {"天心区"}})
	must(t, r.Status == http.StatusSeeOther, "create unit: %s", r)
	check("admin.unit.create", "unit:Z103", audit.Success, "sys1")
	units := string(sys.get("/admin/units").Body)
	must(t, strings.Contains(units, "天心区直报点") && strings.Contains(units, "depth-1"), "unit tree does not show the new child unit")
	var b101 int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM units WHERE code = 'B101'`).Scan(&b101); err != nil {
		t.Fatal(err)
	}
	r = sys.form("/admin/units", fmt.Sprintf("/admin/units/%d", b101), url.Values{"name": {"市住房和城乡建设局"}, "kind": {"bureau"}, "parent": {"Z103"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(message(r), "上级单位不能"), "cycle: %s", r)
	check("admin.unit.update", "unit:B101", audit.Failure, "sys1")
	r = sys.form("/admin/units", fmt.Sprintf("/admin/units/%d", b101), url.Values{"name": {"市住房和城乡建设局（新）"}, "kind": {"bureau"}})
	must(t, r.Status == http.StatusSeeOther, "edit unit: %s", r)
	check("admin.unit.update", "unit:B101", audit.Success, "sys1")

	// Security admin: grant a role and clearance; the user's sessions end.
	repB := s.token(t, "rep_b")
	var repBID int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = 'rep_b'`).Scan(&repBID); err != nil {
		t.Fatal(err)
	}
	secPage := fmt.Sprintf("/admin/security/users/%d", repBID)
	r = sec.form(secPage, secPage, url.Values{"roles": {"researcher"}, "clearance": {"confidential"}})
	must(t, r.Status == http.StatusSeeOther, "authorize: %s", r)
	check("admin.user.authorize", "user:rep_b", audit.Success, "sec1")
	must(t, strings.Contains(last("admin.user.authorize").Detail, "roles reporter→researcher; clearance secret→confidential"), "detail %q", last("admin.user.authorize").Detail)
	must(t, s.api(t, "GET", "/api/v1/me", repB, nil).Status == http.StatusUnauthorized, "a re-authorized account's token still works")
	// Two administrator roles, or an administrator role with a business role: refused.
	for _, bad := range [][]string{{"sysadmin", "auditadmin"}, {"secadmin", "editor"}, {}} {
		r = sec.form(secPage, secPage, url.Values{"roles": bad, "clearance": {"public"}})
		must(t, r.Status == http.StatusUnprocessableEntity, "roles %v: %s, want 422", bad, r)
		check("admin.user.authorize", fmt.Sprintf("user:%d", repBID), audit.Failure, "sec1")
	}
	// Nor its own account.
	own := fmt.Sprintf("/admin/security/users/%d", ids["sec1"])
	r = sec.post(own, url.Values{"_csrf": {csrfOf(t, sec.get("/admin/security"))}, "roles": {"secadmin"}, "clearance": {"confidential"}})
	must(t, r.Status == http.StatusUnprocessableEntity, "self-authorization: %s", r)
	check("admin.user.authorize", fmt.Sprintf("user:%d", ids["sec1"]), audit.Denied, "sec1")

	// Security admin: relabel a record; the version, the outbox and the index follow.
	s.token(t, "rep_a")
	word := randomWord()
	rec, err := s.createAPI("rep_a", created{Title: "标记测试 " + word, Body: "正文 " + word, Classification: "internal"})
	if err != nil {
		t.Fatal(err)
	}
	s.waitIndexed(t, 1)
	labelPage := fmt.Sprintf("/admin/records/%d/label", rec.ID)
	pg = sec.get(labelPage)
	must(t, pg.Status == http.StatusOK && !strings.Contains(string(pg.Body), word), "label page: %s (must not show the title)", pg)
	r = sec.form(labelPage, labelPage, url.Values{"classification": {"secret"}, "readers": {"user:editor1\nunit:Z101"}, "version": {"1"}})
	must(t, r.Status == http.StatusSeeOther, "relabel: %s", r)
	check("admin.record.label", fmt.Sprintf("submission:%d", rec.ID), audit.Success, "sec1")
	lr := last("admin.record.label")
	must(t, lr.Label != nil && *lr.Label == 2 && strings.Contains(lr.Detail, "label internal→secret"), "label row %+v", lr)
	var version int64
	var readers []string
	if err := s.DB.QueryRow(ctx, `SELECT version, readers FROM submissions WHERE id = $1`, rec.ID).Scan(&version, &readers); err != nil {
		t.Fatal(err)
	}
	must(t, version == 2 && strings.Join(readers, ",") == "user:editor1,unit:Z101", "after relabel: version %d readers %v", version, readers)
	waitFor(t, 10e9, "the index follows the new label", func() (bool, string) {
		res := s.search(t, "res_secret", url.Values{"q": {word}})
		ed := s.search(t, "editor1", url.Values{"q": {word}})
		return res.Total == 0 && ed.Total == 1, fmt.Sprintf("researcher %d, editor %d", res.Total, ed.Total)
	})
	// A stale form (old version) and a bad reader are refused and audited.
	r = sec.form(labelPage, labelPage, url.Values{"classification": {"public"}, "version": {"1"}})
	must(t, r.Status == http.StatusUnprocessableEntity, "stale relabel: %s", r)
	r = sec.form(labelPage, labelPage, url.Values{"classification": {"public"}, "readers": {"user:nobody-here"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(message(r), "不存在"), "bad reader: %s", r)
	check("admin.record.label", fmt.Sprintf("submission:%d", rec.ID), audit.Failure, "sec1")

	// Audit admin: query, verify, export — each audited.
	pg = aud.get("/admin/audit?action=admin.user.*")
	must(t, pg.Status == http.StatusOK && strings.Contains(string(pg.Body), "admin.user.create"), "audit page: %s", pg)
	check("audit.query", "audit_log", audit.Success, "aud1")
	r = aud.form("/admin/audit", "/admin/audit/verify", nil)
	must(t, r.Status == http.StatusOK && strings.Contains(message(r), "校验通过"), "verify: %q", message(r))
	check("audit.verify", "audit_log", audit.Success, "aud1")
	r = aud.get("/admin/audit/export.csv?outcome=denied")
	must(t, r.Status == http.StatusOK && strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv"), "export: %s", r)
	check("audit.export", "audit_log", audit.Success, "aud1")
	must(t, strings.Contains(last("audit.export").Detail, "outcome=denied"), "export detail %q", last("audit.export").Detail)

	// The administrators' own actions left the chain intact.
	res, err := audit.Verify(ctx, s.DB)
	must(t, err == nil && res.BrokenAt == 0, "chain after the admin actions: %+v %v", res, err)
}

// TestAuditExportCSV exports a filtered few thousand rows: the header, exactly the filtered rows
// in chain order with their hashes, streamed (chunked, no Content-Length).
func TestAuditExportCSV(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	createAccounts(t, s, admins...)
	const total = 3000
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		for i := range total {
			e := audit.Event{UserID: int64(i%7 + 1), Username: fmt.Sprintf("bulk%d", i%7), ClientIP: "10.1.2.3", Action: "bulk.test",
				Object: fmt.Sprintf("submission:%d", i), Outcome: audit.Success, Detail: fmt.Sprintf("行 %d, \"引号\"", i)}
			if i%3 == 0 {
				e.Outcome = audit.Failure
			}
			if i == 3 {
				e.Username = "=cmd|' /C calc'!A0" // a formula must not reach a spreadsheet as one
			}
			if err := audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := adminLogin(t, s, "aud1")
	req, _ := http.NewRequest("GET", s.Base+"/admin/audit/export.csv?action=bulk.test&outcome=failure", nil)
	res, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", res.StatusCode)
	}
	must(t, res.ContentLength == -1 && len(res.TransferEncoding) == 1 && res.TransferEncoding[0] == "chunked",
		"export is not streamed: Content-Length %d, Transfer-Encoding %v", res.ContentLength, res.TransferEncoding)
	must(t, strings.Contains(res.Header.Get("Content-Disposition"), "attachment"), "Content-Disposition %q", res.Header.Get("Content-Disposition"))
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "at_utc", "user_id", "username", "client_ip", "action", "object", "label", "outcome", "detail", "prev_hash", "hash"}
	must(t, strings.Join(recs[0], ",") == strings.Join(want, ","), "header %v", recs[0])
	rows := recs[1:]
	must(t, len(rows) == total/3, "%d rows exported, want %d", len(rows), total/3)

	// Every row is a filtered one, in ascending id order, with the stored hashes.
	dbRows, err := s.DB.Query(ctx, `SELECT id, prev_hash, hash, username FROM audit_log WHERE action = 'bulk.test' AND outcome = 'failure' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for dbRows.Next() {
		var id int64
		var prev, h []byte
		var user string
		if err := dbRows.Scan(&id, &prev, &h, &user); err != nil {
			t.Fatal(err)
		}
		if i >= len(rows) {
			i++
			continue
		}
		row := rows[i]
		must(t, row[0] == strconv.FormatInt(id, 10) && row[5] == "bulk.test" && row[8] == "failure" && row[10] == hex.EncodeToString(prev) && row[11] == hex.EncodeToString(h),
			"row %d = %v, want id %d with its hashes", i, row, id)
		if strings.HasPrefix(user, "=") {
			must(t, row[3] == "'"+user, "formula user name exported as %q", row[3])
		}
		i++
	}
	must(t, i == len(rows), "database has %d filtered rows, export %d", i, len(rows))

	// The export itself is audited, with its filter.
	ex := auditRows(t, s, "audit.export")
	must(t, len(ex) == 1 && ex[0].Username == "aud1" && strings.Contains(ex[0].Detail, "action=bulk.test"), "export audit rows %+v", ex)
}
