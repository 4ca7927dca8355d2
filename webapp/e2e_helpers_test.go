package webapp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/analyzers"
	"infowork/auth"
	"infowork/category"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/submission"
	"infowork/unit"
	"infowork/webapp"
)

// The analyzer loads jieba (about a second), so one instance serves every test of the binary.
var (
	analyzerOnce sync.Once
	analyzerDir  string
	analyzer     *analyzers.Analyzer
	analyzerErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if analyzer != nil {
		analyzer.Close()
	}
	if analyzerDir != "" {
		os.RemoveAll(analyzerDir)
	}
	os.Exit(code)
}

func sharedAnalyzer(t *testing.T) *analyzers.Analyzer {
	t.Helper()
	analyzerOnce.Do(func() {
		analyzerDir, analyzerErr = os.MkdirTemp("", "infowork-webapp-test-jieba-")
		if analyzerErr == nil {
			analyzer, analyzerErr = analyzers.New(analyzers.Options{CacheDir: analyzerDir})
		}
	})
	if analyzerErr != nil {
		t.Fatalf("analyzer: %v", analyzerErr)
	}
	return analyzer
}

// Fixture data: three units in two districts (one bureau without a district), a two-level
// category tree and one account per kind of reader.
const password = "Fixture-pass-2026"

type fixtureUnit struct{ Code, Name, Kind, District string }

var fixtureUnits = []fixtureUnit{
	{"Z101", "芙蓉区东湖街道直报点", unit.KindDirect, "芙蓉区"},
	{"Z102", "岳麓区西湖街道直报点", unit.KindDirect, "岳麓区"},
	{"B101", "市住房和城乡建设局", unit.KindBureau, ""},
}

var unitByCode = func() map[string]fixtureUnit {
	m := map[string]fixtureUnit{}
	for _, u := range fixtureUnits {
		m[u.Code] = u
	}
	return m
}()

type fixtureCategory struct{ Code, Name, Parent, Top string }

var fixtureCategories = []fixtureCategory{
	{"C1", "城乡建设", "", "城乡建设"},
	{"C11", "物业管理", "C1", "城乡建设"},
	{"C2", "社会治理", "", "社会治理"},
	{"C21", "基层治理", "C2", "社会治理"},
}

var categoryTop = func() map[string]string {
	m := map[string]string{}
	for _, c := range fixtureCategories {
		m[c.Code] = c.Top
	}
	return m
}()

type fixtureUser struct {
	Username  string
	Role      string
	Unit      string
	Clearance label.Level
}

var fixtureUsers = []fixtureUser{
	{"rep_a", "reporter", "Z101", label.Secret},
	{"rep_a2", "reporter", "Z101", label.Secret},
	{"rep_b", "reporter", "Z102", label.Secret},
	{"rep_c", "reporter", "B101", label.Secret},
	{"res_secret", "researcher", "", label.Secret},
	{"res_public", "researcher", "", label.Public},
	{"editor1", "editor", "", label.Secret},
}

var userUnit = func() map[string]string {
	m := map[string]string{}
	for _, u := range fixtureUsers {
		m[u.Username] = u.Unit
	}
	return m
}()

// stack is the whole application on a real database, a real embedded engine and a real
// loopback port, with the indexer running beside it as in `infowork serve`.
type stack struct {
	DB     *pgxpool.Pool
	App    *webapp.App
	Engine search.Engine // what the web app sees
	Base   string        // http://127.0.0.1:PORT

	Auth *auth.Service
	Opts webapp.Options // what App was built with (a second replica reuses them)

	mu          sync.Mutex
	tokens      map[string]string
	totpSecrets map[string]string // username → TOTP secret enrolled by token()
}

type stackOptions struct {
	// wrapEngine, when set, wraps the engine the web app sees (fault injection); the indexer
	// keeps writing to the real engine.
	wrapEngine func(search.Engine) search.Engine
	// rateLimits for the app; zero means budgets large enough for any test (the tests of the
	// limits set their own).
	rateLimits     webapp.RateLimits
	trustedProxies []string
}

// testSecretKey seals TOTP secrets in every test stack.
var testSecretKey = []byte("infowork-test-secret-key-32-byte")

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	log := testenv.Logger(t)

	for _, u := range fixtureUnits {
		if _, err := unit.Upsert(ctx, db, unit.Unit{Code: u.Code, Name: u.Name, Kind: u.Kind, District: u.District}); err != nil {
			t.Fatalf("unit %s: %v", u.Code, err)
		}
	}
	for _, c := range fixtureCategories {
		level := 1
		if c.Parent != "" {
			level = 2
		}
		if _, err := category.Upsert(ctx, db, category.Category{Code: c.Code, Name: c.Name, ParentCode: c.Parent, Level: level}); err != nil {
			t.Fatalf("category %s: %v", c.Code, err)
		}
	}
	authSvc, err := auth.New(db, auth.Options{Logger: log, SecretKey: testSecretKey,
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range fixtureUsers {
		if _, err := authSvc.CreateUser(ctx, auth.NewUser{Username: u.Username, Password: password, DisplayName: "测试" + u.Username,
			Roles: []string{u.Role}, UnitCode: u.Unit, Clearance: u.Clearance}); err != nil {
			t.Fatalf("user %s: %v", u.Username, err)
		}
	}

	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: sharedAnalyzer(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	subs := submission.New(db)

	reg := prometheus.NewRegistry()
	reg.MustRegister(indexer.NewOutboxCollector(db))
	ix, err := indexer.New(indexer.Options{DB: db, Engine: eng, Logger: log, Registerer: reg,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}, PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ictx, cancel := context.WithCancel(ctx)
	ixDone := make(chan struct{})
	go func() {
		defer close(ixDone)
		if err := ix.Run(ictx); err != nil {
			t.Errorf("indexer: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-ixDone })

	var webEngine search.Engine = eng
	if o.wrapEngine != nil {
		webEngine = o.wrapEngine(eng)
	}
	limits := o.rateLimits
	if limits == (webapp.RateLimits{}) {
		limits = webapp.RateLimits{LoginPerIP: 100000, LoginPerUser: 100000, PerSession: 1000000}
	}
	opts := webapp.Options{DB: db, Auth: authSvc, Submissions: subs, Engine: webEngine, Logger: log,
		Registerer: reg, Gatherer: reg, RateLimits: limits, TrustedProxies: o.trustedProxies}
	app, base := serveApp(t, opts)
	return &stack{DB: db, App: app, Engine: webEngine, Base: base, Auth: authSvc, Opts: opts,
		tokens: map[string]string{}, totpSecrets: map[string]string{}}
}

// serveApp builds a web app from opts and serves it on a loopback port until the test ends.
func serveApp(t *testing.T, opts webapp.Options) (*webapp.App, string) {
	t.Helper()
	app, err := webapp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Handler().Listener(ln) }()
	base := "http://" + ln.Addr().String()
	// Wait until the server answers: a Shutdown that runs before Listener has started serving
	// is a no-op, and the serve goroutine would then block the cleanup forever.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test server did not start: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := app.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app, base
}

// resp is what a client saw.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	URL    string
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, truncate(string(r.Body), 600)) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// JSON decodes the body into a generic value.
func (r resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v", r, err)
	}
	return m
}

// Decode decodes the body into v.
func (r resp) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: decode: %v", r, err)
	}
}

// apiClient is a program: no cookies, and it looks at redirects instead of following them.
var apiClient = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call performs one request; it never follows redirects and is safe from any goroutine.
func call(hc *http.Client, method, u string, body io.Reader, hdr map[string]string) (resp, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return resp{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b, URL: u}, nil
}

// api calls the JSON API with a bearer token ("" for none); body is JSON-encoded unless it is
// a string (sent as is).
func (s *stack) api(t testing.TB, method, path, token string, body any, hdr ...string) resp {
	t.Helper()
	r, err := s.tryAPI(method, path, token, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *stack) tryAPI(method, path, token string, body any, hdr ...string) (resp, error) {
	h := map[string]string{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return resp{}, err
		}
		rd = strings.NewReader(string(raw))
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = "application/json"
		}
	}
	return call(apiClient, method, s.Base+path, rd, h)
}

// token logs username in through the API once and caches the bearer token.
func (s *stack) token(t testing.TB, username string) string {
	t.Helper()
	s.mu.Lock()
	tok, ok := s.tokens[username]
	s.mu.Unlock()
	if ok {
		return tok
	}
	r := s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": password})
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %s", username, r)
	}
	var out struct {
		Token string `json:"token"`
		State string `json:"state"`
	}
	r.Decode(t, &out)
	if out.Token == "" {
		t.Fatalf("login %s: no token in %s", username, r)
	}
	out.Token = s.completeMFA(t, username, out.Token, out.State)
	s.mu.Lock()
	s.tokens[username] = out.Token
	s.mu.Unlock()
	return out.Token
}

// created is a record as the test made it.
type created struct {
	ID             int64
	Title, Body    string
	Word           string // distinct searchable word
	Unit           string
	Category       string // code, "" for none
	Classification string
	ReportedAt     time.Time
}

type submissionJSON struct {
	ID             int64  `json:"id"`
	Version        int64  `json:"version"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	Unit           string `json:"unit"`
	Category       string `json:"category"`
	District       string `json:"district"`
	Classification string `json:"classification"`
	ReportedAt     string `json:"reported_at"`
}

// createAPI posts a submission as username and returns what was stored; errors are returned
// (not fatal) so goroutines can use it.
func (s *stack) createAPI(username string, c created) (created, error) {
	s.mu.Lock()
	tok := s.tokens[username]
	s.mu.Unlock()
	if tok == "" {
		return c, fmt.Errorf("no token for %s: call stack.token first", username)
	}
	r, err := s.tryAPI("POST", "/api/v1/submissions", tok, map[string]string{
		"title": c.Title, "body": c.Body, "category": c.Category, "classification": c.Classification})
	if err != nil {
		return c, err
	}
	if r.Status != http.StatusCreated {
		return c, fmt.Errorf("create %q as %s: %s", c.Title, username, r)
	}
	var out submissionJSON
	if err := json.Unmarshal(r.Body, &out); err != nil {
		return c, err
	}
	c.ID, c.Unit = out.ID, out.Unit
	if c.ReportedAt, err = time.Parse(time.RFC3339, out.ReportedAt); err != nil {
		return c, fmt.Errorf("reported_at %q: %w", out.ReportedAt, err)
	}
	return c, nil
}

// randomWord is a lower-case Latin word that the analyzer keeps as one token and that no
// other record contains.
func randomWord() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := []byte("kw")
	for range 10 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b = append(b, letters[n.Int64()])
	}
	return string(b)
}

func pick[T any](xs []T) T {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(xs))))
	return xs[n.Int64()]
}

// searchResult is the API search answer.
type searchResult struct {
	Total  int   `json:"total"`
	TookMS int64 `json:"took_ms"`
	Page   int   `json:"page"`
	Size   int   `json:"size"`
	Hits   []struct {
		ID             string  `json:"id"`
		Version        int64   `json:"version"`
		Score          float64 `json:"score"`
		Title          string  `json:"title"`
		TitleHTML      string  `json:"title_html"`
		Snippet        string  `json:"snippet"`
		Unit           string  `json:"unit"`
		UnitName       string  `json:"unit_name"`
		Category       string  `json:"category"`
		District       string  `json:"district"`
		Classification string  `json:"classification"`
		Date           string  `json:"date"`
	} `json:"hits"`
	Facets map[string][]struct {
		Value string `json:"value"`
		Count int    `json:"count"`
		Label string `json:"label"`
	} `json:"facets"`
}

func (s *stack) search(t testing.TB, username string, params url.Values) searchResult {
	t.Helper()
	r := s.api(t, "GET", "/api/v1/search?"+params.Encode(), s.token(t, username), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("search %v as %s: %s", params, username, r)
	}
	var out searchResult
	r.Decode(t, &out)
	return out
}

// waitFor polls cond until it holds or the deadline passes; no bare sleeps.
func waitFor(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := 25 * time.Millisecond
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s (last: %s)", what, within, state)
		}
		time.Sleep(tick)
		tick = min(tick*2, 200*time.Millisecond)
	}
}

// waitIndexed waits until the secret researcher's empty search counts n records.
func (s *stack) waitIndexed(t testing.TB, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d records searchable", n), func() (bool, string) {
		res := s.search(t, "res_secret", url.Values{"size": {"1"}})
		return res.Total == n, fmt.Sprintf("total %d", res.Total)
	})
}

// browser is a person with a cookie jar who looks at every redirect.
type browser struct {
	t    testing.TB
	s    *stack
	hc   *http.Client
	base *url.URL
}

func (s *stack) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.Base)
	return &browser{t: t, s: s, base: u, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) resp {
	b.t.Helper()
	r, err := call(b.hc, "GET", b.s.Base+path, nil, nil)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

func (b *browser) post(path string, form url.Values) resp {
	b.t.Helper()
	r, err := call(b.hc, "POST", b.s.Base+path, strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

func (b *browser) cookie(name string) *http.Cookie {
	for _, c := range b.hc.Jar.Cookies(b.base) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrfOf returns the hidden _csrf of the first form on a page.
func csrfOf(t testing.TB, page resp) string {
	t.Helper()
	m := csrfField.FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("%s: no hidden _csrf field", page)
	}
	return html.UnescapeString(string(m[1]))
}

// login signs in through the login form and returns the session cookie's response.
func (b *browser) login(username string) resp {
	b.t.Helper()
	page := b.get("/login")
	if page.Status != http.StatusOK {
		b.t.Fatalf("GET /login: %s", page)
	}
	r := b.post("/login", url.Values{"_csrf": {csrfOf(b.t, page)}, "username": {username}, "password": {password}, "next": {"/"}})
	if r.Status != http.StatusSeeOther {
		b.t.Fatalf("POST /login as %s: %s", username, r)
	}
	return r
}

// setCookie finds a Set-Cookie header by name.
func setCookie(r resp, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func must(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

// completeMFA finishes the login of an account that needs a second factor, as a program would:
// an administrator without one enrolls it (the secret is kept for later logins); an enrolled
// account sends a code. It returns the token to use.
func (s *stack) completeMFA(t testing.TB, username, token, state string) string {
	t.Helper()
	s.mu.Lock()
	secret := s.totpSecrets[username]
	s.mu.Unlock()
	switch state {
	case "mfa_enrollment_required":
		r := s.api(t, "POST", "/api/v1/auth/mfa/enroll", token, map[string]string{})
		var enr struct {
			Secret string `json:"secret"`
		}
		r.Decode(t, &enr)
		if r := s.api(t, "POST", "/api/v1/auth/mfa/confirm", token, map[string]string{"code": totpCode(t, enr.Secret)}); r.Status != http.StatusNoContent {
			t.Fatalf("enroll %s: %s", username, r)
		}
		s.mu.Lock()
		s.totpSecrets[username] = enr.Secret
		s.mu.Unlock()
	case "mfa_required":
		if secret == "" {
			t.Fatalf("login %s needs a TOTP code and the test does not know the secret", username)
		}
		// Codes are single use per 30-second step; tests log in faster than that.
		if _, err := s.DB.Exec(context.Background(), `UPDATE users SET totp_last_step = NULL WHERE username = $1`, username); err != nil {
			t.Fatal(err)
		}
		r := s.api(t, "POST", "/api/v1/auth/mfa", token, map[string]string{"code": totpCode(t, secret)})
		if r.Status != http.StatusOK {
			t.Fatalf("second factor of %s: %s", username, r)
		}
		var out struct {
			Token string `json:"token"`
		}
		r.Decode(t, &out)
		return out.Token
	}
	return token
}

func totpCode(t testing.TB, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
