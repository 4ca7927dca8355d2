package webapp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/auth"
	"infowork/label"
	"infowork/webapp"
)

// replica starts a second, independent web app (own auth service, own limiter, own metrics)
// on the stack's database, as a second replica behind a load balancer would be.
func (s *stack) replica(t *testing.T, mutate func(*webapp.Options)) string {
	t.Helper()
	o := s.Opts
	reg := prometheus.NewRegistry()
	o.Registerer, o.Gatherer, o.Limiter = reg, reg, nil
	a, err := auth.New(s.DB, auth.Options{SecretKey: testSecretKey,
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	o.Auth = a
	if mutate != nil {
		mutate(&o)
	}
	_, base := serveApp(t, o)
	return base
}

func (s *stack) createUser(t *testing.T, nu auth.NewUser) auth.User {
	t.Helper()
	if nu.Password == "" {
		nu.Password = password
	}
	u, err := s.Auth.CreateUser(context.Background(), nu)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *stack) auditCount(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func errCode(t *testing.T, r resp) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestForcedPasswordChangePages(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	s.createUser(t, auth.NewUser{Username: "newbie", Roles: []string{"researcher"}, Clearance: label.Internal, MustChangePassword: true})

	other := s.browser(t) // an earlier session of the same account
	other.login("newbie")
	b := s.browser(t)
	b.login("newbie")
	for _, path := range []string{"/", "/search", "/submissions", "/account/mfa"} {
		r := b.get(path)
		must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/account/password",
			"GET %s with an initial password: %d → %q, want a redirect to /account/password", path, r.Status, r.Header.Get("Location"))
	}
	pg := b.get("/account/password")
	must(t, pg.Status == http.StatusOK && strings.Contains(string(pg.Body), "初始密码") && !strings.Contains(string(pg.Body), `href="/search"`),
		"forced change page: %s", pg)
	post := func(cur, n1, n2 string) resp {
		return b.post("/account/password", url.Values{"_csrf": {csrfOf(t, pg)}, "current_password": {cur}, "new_password": {n1}, "new_password2": {n2}})
	}
	for _, tt := range []struct{ cur, n1, n2, want string }{
		{"wrong-password-1", "Brand-new-2026x", "Brand-new-2026x", "当前密码不正确"},
		{password, "Brand-new-2026x", "Brand-new-2026y", "两次输入的新密码不一致"},
		{password, "woaini1314", "woaini1314", "密码过于常见"},
		{password, password, password, "不能与当前密码相同"},
	} {
		r := post(tt.cur, tt.n1, tt.n2)
		must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), tt.want), "change %q→%q: %s, want 422 with %q", tt.cur, tt.n1, r, tt.want)
	}
	r := post(password, "Brand-new-2026x", "Brand-new-2026x")
	must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/account/password?changed=1", "valid change: %s", r)
	must(t, strings.Contains(string(b.get("/account/password?changed=1").Body), "密码已修改"), "no confirmation after the change")
	must(t, b.get("/search").Status == http.StatusOK, "after the change the account is still restricted")
	r = other.get("/search")
	must(t, r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login"), "the other session survived the password change: %s", r)
	must(t, s.auditCount(t, `action = 'password.change' AND outcome = 'success' AND username = 'newbie'`) == 1, "password change not audited")
	must(t, s.auditCount(t, `action = 'password.change' AND outcome = 'failure' AND username = 'newbie'`) == 3, "refused changes not audited (3 reach the service)")
}

func TestForcedPasswordChangeAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	s.createUser(t, auth.NewUser{Username: "newbie", Roles: []string{"researcher"}, Clearance: label.Internal, MustChangePassword: true})
	r := s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "newbie", "password": password})
	login := r.JSON(t)
	must(t, r.Status == http.StatusOK && login["state"] == "password_change_required", "login: %s", r)
	tok := login["token"].(string)
	for _, path := range []string{"/api/v1/me", "/api/v1/submissions", "/api/v1/search?q=x"} {
		r := s.api(t, "GET", path, tok, nil)
		must(t, r.Status == http.StatusForbidden && errCode(t, r) == "password_change_required", "GET %s: %s, want 403 password_change_required", path, r)
	}
	r = s.api(t, "POST", "/api/v1/auth/password", tok, map[string]string{"current_password": "nope-nope-nope", "new_password": "Brand-new-2026x"})
	fields, _ := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	must(t, r.Status == http.StatusUnprocessableEntity && fields["current_password"] != nil, "wrong current password: %s", r)
	r = s.api(t, "POST", "/api/v1/auth/password", tok, map[string]string{"current_password": password, "new_password": "qq123456789"})
	fields, _ = r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
	must(t, r.Status == http.StatusUnprocessableEntity && fields["new_password"] != nil, "common new password: %s", r)
	r = s.api(t, "POST", "/api/v1/auth/password", tok, map[string]string{"current_password": password, "new_password": "Brand-new-2026x"})
	must(t, r.Status == http.StatusNoContent, "change: %s", r)
	r = s.api(t, "GET", "/api/v1/me", tok, nil)
	must(t, r.Status == http.StatusOK && r.JSON(t)["username"] == "newbie", "after the change: %s", r)
	r = s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "newbie", "password": "Brand-new-2026x"})
	must(t, r.Status == http.StatusOK && r.JSON(t)["state"] == "active", "login with the new password: %s", r)
}

var totpSecretOnPage = func(t *testing.T, r resp) string {
	t.Helper()
	body := string(r.Body)
	i := strings.Index(body, `id="totp-secret">`)
	if i < 0 {
		t.Fatalf("no secret on the page: %s", r)
	}
	rest := body[i+len(`id="totp-secret">`):]
	return rest[:strings.Index(rest, "<")]
}

func TestTOTPEnrollAndTwoStepLogin(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	b.login("res_secret")

	pg := b.get("/account/mfa")
	must(t, pg.Status == http.StatusOK && strings.Contains(string(pg.Body), "开始绑定"), "enrollment page: %s", pg)
	r := b.post("/account/mfa", url.Values{"_csrf": {csrfOf(t, pg)}})
	must(t, r.Status == http.StatusSeeOther, "start enrollment: %s", r)
	pg = b.get("/account/mfa")
	secret := totpSecretOnPage(t, pg)
	must(t, strings.Contains(string(pg.Body), "otpauth://totp/infowork:res_secret?") && !strings.Contains(string(pg.Body), "<img"),
		"the page must show the otpauth URI as text, without an image from elsewhere: %s", pg)
	r = b.post("/account/mfa", url.Values{"_csrf": {csrfOf(t, pg)}, "code": {"12345"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "动态口令不正确"), "wrong confirmation code: %s", r)
	r = b.post("/account/mfa", url.Values{"_csrf": {csrfOf(t, pg)}, "code": {totpCode(t, secret)}})
	must(t, r.Status == http.StatusSeeOther, "confirm: %s", r)
	must(t, strings.Contains(string(b.get("/account/mfa").Body), "已启用动态口令"), "enrollment not shown as done")

	// Two-step login through the pages.
	if _, err := s.DB.Exec(context.Background(), `UPDATE users SET totp_last_step = NULL WHERE username = 'res_secret'`); err != nil {
		t.Fatal(err)
	}
	c := s.browser(t)
	r = c.login("res_secret")
	must(t, r.Header.Get("Location") == "/login/mfa?next=%2F", "password step redirects to %q", r.Header.Get("Location"))
	pending := c.cookie("infowork_session").Value
	r = c.get("/search")
	must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/login/mfa", "a pending session reached /search: %s", r)
	mfaPage := c.get("/login/mfa")
	r = c.post("/login/mfa", url.Values{"_csrf": {csrfOf(t, mfaPage)}, "code": {"000000"}, "next": {"/search"}})
	if r.Status != http.StatusSeeOther { // (000000 could be the right code once in a million)
		must(t, r.Status == http.StatusUnauthorized && strings.Contains(string(r.Body), "动态口令不正确"), "wrong code: %s", r)
	}
	code := totpCode(t, secret)
	r = c.post("/login/mfa", url.Values{"_csrf": {csrfOf(t, mfaPage)}, "code": {code}, "next": {"/search"}})
	must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/search", "right code: %s", r)
	must(t, c.cookie("infowork_session").Value != pending, "the session id did not change after the second factor")
	must(t, c.get("/search").Status == http.StatusOK, "full session cannot search")

	// The same code again, in another login: refused.
	d := s.browser(t)
	d.login("res_secret")
	r = d.post("/login/mfa", url.Values{"_csrf": {csrfOf(t, d.get("/login/mfa"))}, "code": {code}, "next": {"/"}})
	must(t, r.Status == http.StatusUnauthorized, "replayed code: %s, want 401", r)
	must(t, s.auditCount(t, `action = 'mfa.verify' AND outcome = 'failure' AND detail = 'replayed code'`) == 1, "replay not audited")

	// Through the API.
	if _, err := s.DB.Exec(context.Background(), `UPDATE users SET totp_last_step = NULL WHERE username = 'res_secret'`); err != nil {
		t.Fatal(err)
	}
	r = s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "res_secret", "password": password})
	must(t, r.JSON(t)["state"] == "mfa_required", "API login of an enrolled user: %s", r)
	ptok := r.JSON(t)["token"].(string)
	r = s.api(t, "GET", "/api/v1/me", ptok, nil)
	must(t, r.Status == http.StatusForbidden && errCode(t, r) == "mfa_required", "pending token on /me: %s", r)
	r = s.api(t, "POST", "/api/v1/auth/mfa", ptok, map[string]string{"code": totpCode(t, secret)})
	must(t, r.Status == http.StatusOK && r.JSON(t)["state"] == "active", "API second step: %s", r)
	ftok := r.JSON(t)["token"].(string)
	must(t, s.api(t, "GET", "/api/v1/me", ftok, nil).Status == http.StatusOK, "full token refused")
	must(t, s.api(t, "GET", "/api/v1/me", ptok, nil).Status == http.StatusUnauthorized, "pending token still valid after the second step")
	must(t, s.auditCount(t, `action = 'mfa.enroll' AND outcome = 'success' AND username = 'res_secret'`) == 1, "enrollment not audited")
}

func TestAdministratorWithoutMFAIsRestricted(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	s.createUser(t, auth.NewUser{Username: "sec1", Roles: []string{"secadmin"}, Clearance: label.Secret})
	r := s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "sec1", "password": password})
	must(t, r.JSON(t)["state"] == "mfa_enrollment_required", "administrator login: %s", r)
	tok := r.JSON(t)["token"].(string)
	r = s.api(t, "GET", "/api/v1/me", tok, nil)
	must(t, r.Status == http.StatusForbidden && errCode(t, r) == "mfa_enrollment_required", "administrator without MFA on /me: %s", r)

	b := s.browser(t)
	b.login("sec1")
	for _, path := range []string{"/", "/search", "/account/password"} {
		r := b.get(path)
		must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/account/mfa", "GET %s: %d → %q, want /account/mfa", path, r.Status, r.Header.Get("Location"))
	}
	// Enrolling lifts the restriction (stack.token enrolls through the API).
	tok = s.token(t, "sec1")
	must(t, s.api(t, "GET", "/api/v1/me", tok, nil).Status == http.StatusOK, "enrolled administrator still restricted")
}

func TestBruteForceOverHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	attempt := func(user, pw string) resp {
		return s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw})
	}
	unknown := attempt("nobody", "Wrong-pass-123")
	for i := range 5 {
		r := attempt("rep_b", "Wrong-pass-123")
		must(t, r.Status == unknown.Status && string(r.Body) == string(unknown.Body), "failure %d differs from an unknown user: %s vs %s", i, r, unknown)
	}
	locked := attempt("rep_b", password)
	must(t, locked.Status == http.StatusUnauthorized && string(locked.Body) == string(unknown.Body),
		"right password on a locked account: %s, want exactly the unknown-user answer %s", locked, unknown)
	// Pages: the same message for an unknown user and a wrong password.
	b := s.browser(t)
	pg := b.get("/login")
	p1 := b.post("/login", url.Values{"_csrf": {csrfOf(t, pg)}, "username": {"nobody"}, "password": {"x-Wrong-123"}})
	p2 := b.post("/login", url.Values{"_csrf": {csrfOf(t, pg)}, "username": {"rep_a"}, "password": {"x-Wrong-123"}})
	strip := func(r resp) string { return strings.Replace(string(r.Body), "rep_a", "nobody", 1) } // the form echoes the name
	must(t, p1.Status == http.StatusUnauthorized && p1.Status == p2.Status && strip(p1) == strip(p2), "login pages differ:\n%s\n%s", p1, p2)
	// The lock runs out.
	if _, err := s.DB.Exec(context.Background(), `UPDATE users SET locked_until = now() - interval '1 second' WHERE username = 'rep_b'`); err != nil {
		t.Fatal(err)
	}
	must(t, attempt("rep_b", password).Status == http.StatusOK, "login after the lock ran out")
}

func TestRateLimitsSharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	limits := webapp.RateLimits{LoginPerIP: 1000, LoginPerUser: 3, PerSession: 5}
	s := newStack(t, stackOptions{rateLimits: limits})
	other := s.replica(t, nil)
	bases := []string{s.Base, other}
	login := func(base, user string) resp {
		r, err := call(apiClient, "POST", base+"/api/v1/auth/login", strings.NewReader(`{"username":"`+user+`","password":"Wrong-pass-123"}`),
			map[string]string{"Content-Type": "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Three attempts on one name spread over both replicas; the fourth, on either, is refused.
	for i := range 3 {
		r := login(bases[i%2], "rep_c")
		must(t, r.Status == http.StatusUnauthorized, "attempt %d: %s", i+1, r)
	}
	r := login(bases[1], "rep_c")
	must(t, r.Status == http.StatusTooManyRequests && errCode(t, r) == "rate_limited" && r.Header.Get("Retry-After") != "",
		"fourth attempt on the second replica: %s (Retry-After %q); a per-process limiter would allow it", r, r.Header.Get("Retry-After"))
	r = login(bases[0], "rep_c")
	must(t, r.Status == http.StatusTooManyRequests, "fifth attempt on the first replica: %s", r)
	must(t, login(bases[0], "rep_a").Status == http.StatusUnauthorized, "another name is limited too")
	must(t, s.auditCount(t, `action = 'rate_limit' AND object = 'login_user' AND outcome = 'denied'`) == 1, "the trip must be audited once")
	// The login page says so too.
	b := s.browser(t)
	pg := b.get("/login")
	r = b.post("/login", url.Values{"_csrf": {csrfOf(t, pg)}, "username": {"rep_c"}, "password": {password}})
	must(t, r.Status == http.StatusTooManyRequests && strings.Contains(string(r.Body), "请求过于频繁"), "login page over the limit: %s", r)

	// Requests per session, counted across replicas.
	tok := s.token(t, "res_secret")
	for i := range 5 {
		r, err := call(apiClient, "GET", bases[i%2]+"/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok})
		if err != nil {
			t.Fatal(err)
		}
		must(t, r.Status == http.StatusOK, "request %d: %s", i+1, r)
	}
	r, _ = call(apiClient, "GET", other+"/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok})
	must(t, r.Status == http.StatusTooManyRequests, "sixth request of the session: %s", r)
}

func TestTrustedProxyDecidesClientIP(t *testing.T) {
	t.Parallel()
	limits := webapp.RateLimits{LoginPerIP: 2, LoginPerUser: 1000, PerSession: 1000}
	s := newStack(t, stackOptions{rateLimits: limits}) // trusts nobody
	proxied := s.replica(t, func(o *webapp.Options) { o.TrustedProxies = []string{"127.0.0.0/8"} })
	login := func(base, user, xff string) resp {
		r, err := call(apiClient, "POST", base+"/api/v1/auth/login", strings.NewReader(`{"username":"`+user+`","password":"Wrong-pass-123"}`),
			map[string]string{"Content-Type": "application/json", "X-Forwarded-For": xff})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ipOf := func(user string) string {
		var ip string
		if err := s.DB.QueryRow(context.Background(), `SELECT client_ip FROM audit_log WHERE action = 'login' AND username = $1 ORDER BY id DESC LIMIT 1`, user).Scan(&ip); err != nil {
			t.Fatal(err)
		}
		return ip
	}
	// Untrusted peer: the header is ignored for audit rows and for the per-IP budget.
	login(s.Base, "rep_a", "203.0.113.7")
	must(t, ipOf("rep_a") == "127.0.0.1", "untrusted peer: audit client_ip %q, want 127.0.0.1", ipOf("rep_a"))
	login(s.Base, "rep_a2", "203.0.113.8")
	r := login(s.Base, "rep_b", "203.0.113.9")
	must(t, r.Status == http.StatusTooManyRequests, "a new spoofed X-Forwarded-For each time escaped the per-IP limit: %s", r)

	// Trusted proxy: the client is the rightmost address that is not a trusted proxy; a forged
	// entry to its left does not count.
	login(proxied, "rep_b", "198.51.100.1, 203.0.113.20")
	must(t, ipOf("rep_b") == "203.0.113.20", "trusted proxy: audit client_ip %q, want 203.0.113.20", ipOf("rep_b"))
	for i := range 3 {
		r := login(proxied, "rep_c", "203.0.113.4"+string(rune('1'+i)))
		must(t, r.Status == http.StatusUnauthorized, "distinct clients behind the proxy share a budget: %s", r)
	}
	var keys int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM rate_limits WHERE key LIKE 'login_ip:203.0.113.%'`).Scan(&keys); err != nil || keys != 4 {
		t.Errorf("per-IP counters for proxied clients = %d (%v), want 4", keys, err)
	}
}
