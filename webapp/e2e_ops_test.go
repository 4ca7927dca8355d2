package webapp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"infowork/search"
)

var routeParam = regexp.MustCompile(`:[A-Za-z_]+(<[^>]*>)?\??`)

// TestCSRFOnEveryStateChangingRoute walks the route table: whatever route is added later, a
// state-changing request that relies on the session cookie alone is refused.
func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	b.login("rep_a")
	session := b.cookie("infowork_session").Value
	sessionCSRF := csrfOf(t, b.get("/submissions/new"))
	cookieHdr := "infowork_session=" + session + "; infowork_csrf=" + b.cookie("infowork_csrf").Value

	checked := 0
	for _, rt := range s.App.Handler().GetRoutes(true) {
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		if rt.Path == "/api/v1/auth/login" {
			continue
		}
		path := routeParam.ReplaceAllString(rt.Path, "1")
		for _, enc := range []struct{ ct, body string }{
			{"application/x-www-form-urlencoded", url.Values{"title": {"跨站伪造"}, "body": {"跨站伪造的正文"}}.Encode()},
			{"application/json", `{"title":"跨站伪造","body":"跨站伪造的正文"}`},
		} {
			r, err := call(apiClient, rt.Method, s.Base+path, strings.NewReader(enc.body),
				map[string]string{"Cookie": cookieHdr, "Content-Type": enc.ct, "Origin": "https://evil.example"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusForbidden {
				t.Errorf("%s %s (route %s, %s) with a session cookie and no CSRF token: %s, want 403", rt.Method, path, rt.Path, enc.ct, r)
			}
		}
		checked++
	}
	if checked < 4 {
		t.Fatalf("only %d state-changing routes found in the route table", checked)
	}
	// Nothing happened: the session survived the logout attempts and nothing was stored.
	r := s.api(t, "GET", "/api/v1/submissions", s.token(t, "rep_a"), nil)
	must(t, r.JSON(t)["total"] == float64(0), "a forged request stored a submission: %s", r)
	must(t, b.get("/submissions").Status == http.StatusOK, "a forged logout ended the session")

	// Control: the same cookie with the session's token in the header is accepted, so the 403s
	// above came from the CSRF check.
	r, err := call(apiClient, "POST", s.Base+"/api/v1/submissions", strings.NewReader(`{"title":"带令牌的请求","body":"正文"}`),
		map[string]string{"Cookie": cookieHdr, "Content-Type": "application/json", "X-CSRF-Token": sessionCSRF})
	if err != nil {
		t.Fatal(err)
	}
	must(t, r.Status == http.StatusCreated, "cookie plus X-CSRF-Token: %s, want 201", r)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	b.login("res_secret")
	tok := s.token(t, "res_secret")
	check := func(name string, r resp, page bool) {
		t.Helper()
		csp := r.Header.Get("Content-Security-Policy")
		must(t, strings.Contains(csp, "default-src 'self'") && strings.Contains(csp, "frame-ancestors 'none'"), "%s: CSP %q", name, csp)
		must(t, !strings.Contains(csp, "unsafe-inline") && !strings.Contains(csp, "unsafe-eval"), "%s: CSP %q allows inline code", name, csp)
		must(t, r.Header.Get("X-Content-Type-Options") == "nosniff", "%s: X-Content-Type-Options %q", name, r.Header.Get("X-Content-Type-Options"))
		must(t, r.Header.Get("X-Frame-Options") == "DENY", "%s: X-Frame-Options %q", name, r.Header.Get("X-Frame-Options"))
		if page {
			must(t, strings.Contains(r.Header.Get("Cache-Control"), "no-store"), "%s: Cache-Control %q", name, r.Header.Get("Cache-Control"))
		}
	}
	check("login page", s.browser(t).get("/login"), true)
	check("redirect to login", s.browser(t).get("/search"), true)
	check("search page", b.get("/search"), true)
	check("list page", b.get("/submissions"), true)
	check("404 page", b.get("/no-such-page"), true)
	check("API 200", s.api(t, "GET", "/api/v1/search", tok, nil), true)
	check("API 401", s.api(t, "GET", "/api/v1/search", "", nil), true)
	check("API 404", s.api(t, "GET", "/api/v1/nope", tok, nil), true)
	check("healthz", s.api(t, "GET", "/healthz", "", nil), false)
	static := s.api(t, "GET", "/static/app.css", "", nil)
	must(t, static.Status == http.StatusOK, "static: %s", static)
	check("static", static, false)
	must(t, !strings.Contains(static.Header.Get("Cache-Control"), "no-store"), "static files should be cacheable: %q", static.Header.Get("Cache-Control"))
	// No inline script or style on a page (the CSP would block it).
	page := b.get("/search")
	must(t, !regexp.MustCompile(`<script>|<style|style="| on[a-z]+="`).Match(page.Body), "search page has inline script or style")
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	r := s.api(t, "GET", "/healthz", "", nil)
	must(t, r.Status == 200 && r.JSON(t)["status"] == "ok", "healthz: %s", r)

	tok := s.token(t, "rep_a")
	c, err := s.createAPI("rep_a", created{Title: "指标测试", Body: "正文", Classification: "public"})
	if err != nil {
		t.Fatal(err)
	}
	// The engine shows a document a moment before the indexer acknowledges its outbox row, so
	// wait for the backlog itself.
	var ready resp
	var body map[string]any
	waitFor(t, 10*time.Second, "outbox backlog drained", func() (bool, string) {
		ready = s.api(t, "GET", "/readyz", "", nil)
		body = ready.JSON(t)
		return body["outbox_backlog"] == float64(0), string(ready.Body)
	})
	must(t, ready.Status == 200 && body["status"] == "ok" && body["database"] == "ok" && body["search"] == "ok" && body["engine"] == "embedded", "readyz: %s", ready)
	_, ok := body["outbox_oldest_age_seconds"].(float64)
	must(t, ok, "readyz lacks outbox_oldest_age_seconds: %s", ready.Body)

	// Traffic on parameterized routes.
	s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d", c.ID), tok, nil)
	s.api(t, "GET", "/api/v1/submissions/424242", tok, nil)
	s.api(t, "GET", "/api/v1/search?q=x", tok, nil)
	s.api(t, "GET", "/api/v1/unknown/777", tok, nil)
	s.browser(t).get("/submissions/31337")

	m := s.api(t, "GET", "/metrics", "", nil)
	if m.Status != 200 {
		t.Fatalf("metrics: %s", m)
	}
	text := string(m.Body)
	for _, want := range []string{
		`infowork_http_request_duration_seconds_bucket{`,
		`route="/api/v1/search"`,
		`route="/api/v1/submissions/:id<int>"`,
		"\ninfowork_outbox_backlog 0\n",
		"\ninfowork_outbox_oldest_age_seconds ",
		"\ninfowork_indexer_batches_total{",
	} {
		must(t, strings.Contains(text, want), "metrics lack %q", want)
	}
	routes := map[string]bool{}
	for _, m := range regexp.MustCompile(`infowork_http_request_duration_seconds_count\{[^}]*route="([^"]*)"`).FindAllStringSubmatch(text, -1) {
		routes[m[1]] = true
	}
	for r := range routes {
		if regexp.MustCompile(`/\d+`).MatchString(r) {
			t.Errorf("metrics carry a raw id path as route label: %q (all routes: %v)", r, routes)
		}
	}
}

// unavailableEngine is fault injection around the real engine: search is down, writes still
// go through (the indexer uses the real engine directly).
type unavailableEngine struct{ search.Engine }

func (unavailableEngine) Search(context.Context, search.Query) (search.Result, error) {
	return search.Result{}, fmt.Errorf("test: connection refused: %w", search.ErrUnavailable)
}

func (unavailableEngine) Ping(context.Context) error {
	return fmt.Errorf("test: connection refused: %w", search.ErrUnavailable)
}

func TestDegradedSearch(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{wrapEngine: func(e search.Engine) search.Engine { return unavailableEngine{e} }})
	r := s.api(t, "GET", "/readyz", "", nil)
	body := r.JSON(t)
	must(t, r.Status == http.StatusOK && body["status"] == "degraded" && body["search"] == "unavailable" && body["database"] == "ok", "readyz: %s", r)

	s.token(t, "rep_a")
	if _, err := s.createAPI("rep_a", created{Title: "搜索故障期间的报送", Body: "正文照常保存。", Classification: "public"}); err != nil {
		t.Fatalf("submitting while search is down: %v", err)
	}
	b := s.browser(t)
	b.login("rep_a")
	page := b.get("/search?q=" + url.QueryEscape("报送"))
	wantHTML(t, page, http.StatusServiceUnavailable, "搜索服务暂不可用", "搜索服务降级")
	wantAPIError(t, s.api(t, "GET", "/api/v1/search?q=x", s.token(t, "rep_a"), nil), http.StatusServiceUnavailable, "search_unavailable")
	// Lists come from the database and keep working.
	wantHTML(t, b.get("/submissions"), http.StatusOK, "搜索故障期间的报送", "共 1 条")
	r = s.api(t, "GET", "/api/v1/submissions", s.token(t, "rep_a"), nil)
	must(t, r.Status == http.StatusOK && r.JSON(t)["total"] == float64(1), "API list while search is down: %s", r)
}
