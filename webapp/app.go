package webapp

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/analyzers"
	"infowork/attachment"
	"infowork/auth"
	"infowork/label"
	"infowork/ratelimit"
	"infowork/search"
	"infowork/submission"
	"infowork/workflow"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the web application.
type Options struct {
	DB *pgxpool.Pool
	// ReadDB serves long read-only work (the audit export; statistics and exports later) and
	// may point at a hot standby; nil means DB.
	ReadDB         *pgxpool.Pool
	Auth           *auth.Service
	Submissions    *submission.Service
	Engine         search.Engine
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Gatherer       prometheus.Gatherer
	CookieSecure   bool     // set the Secure flag on cookies (behind HTTPS)
	TrustedProxies []string // proxies (addresses or CIDR prefixes) whose X-Forwarded-For is believed
	BodyLimit      int      // bytes; default 2 MiB
	// Limiter keeps the rate-limit counters in the shared database; nil builds one on DB (the
	// caller then has no handle to run its purge loop, which tests do not need).
	Limiter    *ratelimit.Limiter
	RateLimits RateLimits
	// Attachments stores uploads (attachments.go); nil turns the attachment routes off (503).
	// BodyLimit is raised above its size limit with headroom.
	Attachments *attachment.Service
	// Workflow runs the editorial workflow (workflows.go); nil builds one on DB.
	Workflow *workflow.Service
	// Analyzer segments text for the topic trends of the statistics pages (issue 7); nil turns
	// the trends panel off.
	Analyzer *analyzers.Analyzer
	// ExportDir holds the files of export jobs (issue 7); "" means a new directory under the
	// system's temporary directory.
	ExportDir string
}

// App is the web application.
type App struct {
	opts    Options
	log     *slog.Logger
	fiber   *fiber.App
	pages   map[string]*template.Template
	metrics *httpMetrics

	limiter        *ratelimit.Limiter
	limits         RateLimits
	trustedProxies []netip.Prefix

	namesMu sync.Mutex
	names   *nameCache

	stats *statsDeps // statistics, scoring, saved searches and exports (routes_statistics.go)
}

// New builds the app; a template that does not parse fails here, at boot.
func New(opts Options) (*App, error) {
	if opts.DB == nil || opts.Auth == nil || opts.Submissions == nil || opts.Engine == nil {
		return nil, errors.New("webapp: Options.DB, Auth, Submissions and Engine are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadDB == nil {
		opts.ReadDB = opts.DB
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 2 << 20
	}
	opts.BodyLimit = max(opts.BodyLimit, attachmentBodyLimit(opts.Attachments))
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.DefaultGatherer
	}
	if opts.Workflow == nil {
		opts.Workflow = workflow.New(opts.DB)
	}
	a := &App{opts: opts, log: opts.Logger.With("component", "webapp"), metrics: newHTTPMetrics(opts.Registerer),
		limiter: opts.Limiter, limits: opts.RateLimits}
	a.limits.defaults()
	if a.limiter == nil {
		a.limiter = ratelimit.New(opts.DB, ratelimit.Options{Logger: opts.Logger})
	}
	var err error
	if a.trustedProxies, err = parseTrustedProxies(opts.TrustedProxies); err != nil {
		return nil, err
	}
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}
	cfg := fiber.Config{
		AppName:               "infowork",
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          a.handleError,
	}
	if len(opts.TrustedProxies) > 0 {
		cfg.EnableTrustedProxyCheck = true
		cfg.TrustedProxies = opts.TrustedProxies
		cfg.ProxyHeader = fiber.HeaderXForwardedFor
	}
	a.fiber = fiber.New(cfg)
	a.routes()
	return a, nil
}

// Handler exposes the Fiber app (tests use Fiber's Test method).
func (a *App) Handler() *fiber.App { return a.fiber }

// Listen serves on addr until Shutdown.
func (a *App) Listen(addr string) error { return a.fiber.Listen(addr) }

// Serve serves on ln until Shutdown. The caller owns ln and closes it after Shutdown, which also
// ends a Serve that had not started yet when Shutdown ran.
func (a *App) Serve(ln net.Listener) error { return a.fiber.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests.
func (a *App) Shutdown(ctx context.Context) error { return a.fiber.ShutdownWithContext(ctx) }

var funcs = template.FuncMap{
	"levelName": levelName,
	"int": func(v any) int {
		switch x := v.(type) {
		case label.Level:
			return int(x)
		case int:
			return x
		}
		return 0
	},
	"seq":      func(n int) []int { return make([]int, n) },
	"now":      func() string { return time.Now().In(search.Location).Format("2006-01-02 15:04") },
	"contains": func(list []string, v string) bool { return slices.Contains(list, v) },
	"marking": func(level int, cats []string) string {
		return label.Label{Level: label.Level(level), Categories: cats}.Chinese()
	},
	"urgencyName": submission.UrgencyName,
	"stateName":   submission.StateName,
	"date":        func(t time.Time) string { return t.In(search.Location).Format("2006-01-02") },
	"datetime":    func(t time.Time) string { return t.In(search.Location).Format("2006-01-02 15:04") },
	"safe":        func(s string) template.HTML { return template.HTML(s) }, // #nosec G203 -- only for HTML the app produced: sanitized bodies and escaped highlights
	"add":         func(a, b int) int { return a + b },
	"sub":         func(a, b int) int { return a - b },
	"paragraphs":  func(s string) []string { return strings.Split(s, "\n") },
}

func (a *App) parseTemplates() error {
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return fmt.Errorf("webapp: %w", err)
	}
	a.pages = map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(templateFS, "templates/"+e.Name())
		if err != nil {
			return fmt.Errorf("webapp: %w", err)
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(body))
		}
		if err != nil {
			return fmt.Errorf("webapp: template %s: %w", e.Name(), err)
		}
		a.pages[name] = t
	}
	return nil
}

// page is the data every page template gets.
type page struct {
	Title   string
	User    *auth.User
	CSRF    string
	Nav     string
	Flash   string
	Error   string
	Data    any
	Degrade bool
	// Restricted hides the navigation: the session may only change its password or complete
	// or enroll its second factor.
	Restricted bool
}

func (a *App) render(c *fiber.Ctx, status int, name string, p page) error {
	t, ok := a.pages[name]
	if !ok {
		return fmt.Errorf("webapp: no template %q", name)
	}
	if s := sessionOf(c); s != nil {
		u := s.User
		p.User = &u
		p.CSRF = s.CSRFToken
		p.Restricted = s.Restriction != ""
	}
	if p.CSRF == "" {
		p.CSRF = c.Locals(localPreCSRF).(string)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("webapp: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// apiError is the JSON error body of every API failure.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// httpError carries a status, a machine code and a message for the user.
type httpError struct {
	status  int
	code    string
	message string
	fields  map[string]string
}

func (e *httpError) Error() string { return e.message }

func errStatus(status int, code, msg string) error {
	return &httpError{status: status, code: code, message: msg}
}

func isAPI(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), "/api/") }

// handleError turns every error into a JSON error (API) or an error page (browser).
func (a *App) handleError(c *fiber.Ctx, err error) error {
	he := classify(err)
	if he.status >= 500 {
		a.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if isAPI(c) || strings.HasPrefix(c.Path(), "/healthz") || strings.HasPrefix(c.Path(), "/readyz") {
		return c.Status(he.status).JSON(apiError{Error: apiErrorBody{Code: he.code, Message: he.message, Fields: he.fields}})
	}
	if he.status == http.StatusUnauthorized {
		return c.Redirect("/login?next="+urlQueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	if c.Locals(localPreCSRF) == nil {
		c.Locals(localPreCSRF, "")
	}
	if rerr := a.render(c, he.status, "error", page{Title: statusTitle(he.status), Error: he.message}); rerr != nil {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(he.status).SendString(he.message)
	}
	return nil
}

// statusTitles are the zh-CN headings of error pages (http.StatusText is English).
var statusTitles = map[int]string{
	http.StatusBadRequest: "请求有误", http.StatusUnauthorized: "需要登录", http.StatusForbidden: "无权访问",
	http.StatusNotFound: "页面不存在", http.StatusMethodNotAllowed: "不支持的请求方法", http.StatusRequestEntityTooLarge: "请求内容过大",
	http.StatusUnsupportedMediaType: "不支持的内容类型", http.StatusUnprocessableEntity: "内容有误", http.StatusTooManyRequests: "请求过于频繁",
	http.StatusServiceUnavailable: "服务暂不可用",
}

func statusTitle(status int) string {
	if t, ok := statusTitles[status]; ok {
		return t
	}
	if status >= 500 {
		return "服务器内部错误"
	}
	return "请求未能完成"
}

// badQueryMessage keeps only the user's part of a bad-query error: engines wrap it with their
// own context ("embedded: search: bad query: 引号未闭合…"), which the user must not see.
func badQueryMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, search.ErrBadQuery.Error()+": "); i >= 0 {
		msg = msg[i+len(search.ErrBadQuery.Error())+2:]
	}
	return msg
}

func classify(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code := map[int]string{400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}[fe.Code]
		if code == "" {
			code = "error"
		}
		msg := map[int]string{404: "页面不存在", 405: "不支持的请求方法", 413: "请求内容过大", 429: "请求过于频繁，请稍后再试"}[fe.Code]
		if msg == "" {
			msg = fe.Message
		}
		return &httpError{status: fe.Code, code: code, message: msg}
	}
	var ve *submission.ValidationError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: http.StatusUnprocessableEntity, code: "validation_failed", message: ve.Error(), fields: ve.Fields}
	case errors.Is(err, errNotFound):
		return &httpError{status: http.StatusNotFound, code: "not_found", message: "记录不存在或无权查看"}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &httpError{status: http.StatusUnauthorized, code: "unauthorized", message: auth.ErrUnauthenticated.Error()}
	case errors.Is(err, submission.ErrForbidden):
		return &httpError{status: http.StatusForbidden, code: "forbidden", message: "当前账户无权执行此操作"}
	case errors.Is(err, search.ErrBadQuery):
		return &httpError{status: http.StatusBadRequest, code: "bad_query", message: badQueryMessage(err)}
	case errors.Is(err, search.ErrUnavailable):
		return &httpError{status: http.StatusServiceUnavailable, code: "search_unavailable", message: "搜索服务暂不可用，列表仍可从数据库浏览"}
	case errors.Is(err, context.Canceled):
		return &httpError{status: 499, code: "canceled", message: "请求已取消"}
	}
	return &httpError{status: http.StatusInternalServerError, code: "internal", message: "服务器内部错误，请稍后重试"}
}
