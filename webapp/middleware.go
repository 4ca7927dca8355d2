package webapp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/auth"
	"infowork/ha"
	"infowork/store"
)

var errNotFound = store.ErrNotFound

const (
	cookieSession = "infowork_session"
	cookiePreCSRF = "infowork_csrf"
	localSession  = "session"
	localToken    = "token"
	localPreCSRF  = "pre_csrf"
	localBearer   = "bearer"
)

func sessionOf(c *fiber.Ctx) *auth.Session {
	s, _ := c.Locals(localSession).(*auth.Session)
	return s
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// securityHeaders sets the headers every response carries.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if !strings.HasPrefix(c.Path(), "/static/") {
		c.Set("Cache-Control", "no-store")
	}
	return c.Next()
}

// authenticate resolves the bearer token or session cookie, if any, into a session.
func (a *App) authenticate(c *fiber.Ctx) error {
	token := ""
	if h := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		c.Locals(localBearer, true)
	} else {
		token = c.Cookies(cookieSession)
	}
	if token != "" {
		// The session lookup is a read (plus an idempotent last-seen touch), so it is retried
		// across a primary failover like the creates are, instead of answering 500.
		var s auth.Session
		err := ha.Retry(c.UserContext(), func(ctx context.Context) error {
			var aerr error
			s, aerr = a.opts.Auth.Authenticate(ctx, token)
			return aerr
		}, ha.Options{MaxElapsed: 15 * time.Second})
		switch {
		case err == nil:
			c.Locals(localSession, &s)
			c.Locals(localToken, token)
		case errors.Is(err, auth.ErrUnauthenticated):
			if c.Locals(localBearer) == nil {
				c.ClearCookie(cookieSession)
			}
		default:
			return err
		}
	}
	// A pre-session CSRF token (double-submit cookie) protects the login form itself.
	pre := c.Cookies(cookiePreCSRF)
	if len(pre) < 20 {
		pre = randomString()
		c.Cookie(&fiber.Cookie{Name: cookiePreCSRF, Value: pre, Path: "/", HTTPOnly: true, SameSite: "Lax", Secure: a.opts.CookieSecure})
	}
	c.Locals(localPreCSRF, pre)
	return c.Next()
}

// requireLogin rejects anonymous requests (API: 401 JSON; pages: redirect to the login page).
func requireLogin(c *fiber.Ctx) error {
	if sessionOf(c) == nil {
		return auth.ErrUnauthenticated
	}
	return c.Next()
}

func isSafeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// csrf protects every state-changing request that relies on ambient credentials (the session
// cookie): the form field _csrf or the X-CSRF-Token header must match the session's token (or the
// pre-session cookie before login). Bearer-token requests carry no ambient credentials and pass.
func csrf(c *fiber.Ctx) error {
	if isSafeMethod(c.Method()) || c.Locals(localBearer) != nil {
		return c.Next()
	}
	want := ""
	if s := sessionOf(c); s != nil {
		want = s.CSRFToken
	} else if isAPI(c) && c.Cookies(cookieSession) == "" {
		// An API call with neither bearer token nor cookie has no ambient credentials to abuse
		// (for example POST /api/v1/auth/login from a program).
		return c.Next()
	} else {
		want = c.Cookies(cookiePreCSRF)
	}
	got := c.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("_csrf")
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errStatus(fiber.StatusForbidden, "csrf_failed", "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
	}
	return c.Next()
}

func randomString() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "infowork", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by method, route pattern and status code.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "infowork", Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.duration, m.inflight)
	}
	return m
}

// observe records request durations by route pattern (never the raw path: no high cardinality).
func (a *App) observe(c *fiber.Ctx) error {
	start := time.Now()
	a.metrics.inflight.Inc()
	err := c.Next()
	a.metrics.inflight.Dec()
	status := c.Response().StatusCode()
	if err != nil {
		status = classify(err).status
	}
	route := c.Route().Path
	if route == "" || route == "/" && c.Path() != "/" {
		route = "unmatched"
	}
	a.metrics.duration.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	return err
}

// requireJSON refuses a request body that is not declared application/json (415).
func requireJSON(c *fiber.Ctx) error {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return errStatus(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "请求体必须是 application/json")
	}
	return nil
}

// jsonBody decodes an application/json request body into v: 415 for another content type,
// 400 for JSON that does not parse.
func jsonBody(c *fiber.Ctx, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	if err := c.BodyParser(v); err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", "请求体不是合法的 JSON："+err.Error())
	}
	return nil
}
