package webapp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/audit"
	"infowork/ratelimit"
)

// RateLimits are the request budgets, counted in shared storage (package ratelimit) so every
// replica enforces the same budget. Zero fields take the defaults; a negative one turns that
// limit off.
type RateLimits struct {
	LoginPerIP   int           // login and second-factor attempts per client IP per Window; default 30
	LoginPerUser int           // login attempts per username per Window; default 10
	PerSession   int           // requests per session per Window; default 600
	Window       time.Duration // default 1 min
}

func (r *RateLimits) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&r.LoginPerIP, 30)
	def(&r.LoginPerUser, 10)
	def(&r.PerSession, 600)
	if r.Window <= 0 {
		r.Window = time.Minute
	}
}

func (r RateLimits) rule(name string, limit int) ratelimit.Rule {
	return ratelimit.Rule{Name: name, Limit: limit, Window: r.Window}
}

const localClientIP = "client_ip"

// parseTrustedProxies accepts addresses and CIDR prefixes.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("webapp: trusted proxy %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (a *App) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.trustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// resolveClientIP decides once per request which address is the client's, for audit rows and
// rate limits. X-Forwarded-For counts only when the direct peer is a trusted proxy, and then it
// is read from the right: each trusted hop is skipped and the first address not trusted is the
// client. (Fiber's c.IP() takes the leftmost entry, which the client itself can write when the
// proxy appends to the header.)
func (a *App) resolveClientIP(c *fiber.Ctx) error {
	c.Locals(localClientIP, a.clientIPOf(c))
	return c.Next()
}

func (a *App) clientIPOf(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	ip := peer.Unmap()
	if len(a.trustedProxies) == 0 || !a.trusted(ip) {
		return ip.String()
	}
	hops := strings.Split(string(c.Request().Header.Peek(fiber.HeaderXForwardedFor)), ",")
	for i := len(hops) - 1; i >= 0 && a.trusted(ip); i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			break
		}
		next, err := netip.ParseAddr(h)
		if err != nil {
			if ap, perr := netip.ParseAddrPort(h); perr == nil {
				next, err = ap.Addr(), nil
			}
		}
		if err != nil {
			break // garbage: keep the last address we could vouch for
		}
		ip = next.Unmap()
	}
	return ip.String()
}

// clientIP is the client address resolved for this request.
func clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(localClientIP).(string); ok {
		return ip
	}
	return c.Context().RemoteIP().String()
}

// errRateLimited is what a request over its budget gets; Retry-After is set on c.
func errRateLimited(c *fiber.Ctx, d ratelimit.Decision) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(d.RetryAfter/time.Second)))
	return errStatus(fiber.StatusTooManyRequests, "rate_limited", fmt.Sprintf("请求过于频繁，请 %d 秒后再试", int(d.RetryAfter/time.Second)))
}

// allow counts one event under rule; the first refusal in a window is audited.
func (a *App) allow(c *fiber.Ctx, rule ratelimit.Rule, key, username string) (ratelimit.Decision, error) {
	d, err := a.limiter.Allow(c.UserContext(), rule, key)
	if err != nil {
		return d, err
	}
	if d.Tripped {
		if err := audit.Write(c.UserContext(), a.opts.DB, audit.Event{Username: username, ClientIP: clientIP(c), Action: "rate_limit",
			Object: rule.Name, Outcome: audit.Denied, Detail: fmt.Sprintf("%s over %d per %s", key, rule.Limit, rule.Window)}); err != nil {
			a.log.Error("audit write failed", "action", "rate_limit", "err", err)
		}
	}
	return d, nil
}

// allowLogin applies the per-IP and, when a username is given, the per-username login budget.
func (a *App) allowLogin(c *fiber.Ctx, username string) (ratelimit.Decision, error) {
	d, err := a.allow(c, a.limits.rule("login_ip", a.limits.LoginPerIP), clientIP(c), username)
	if err != nil || !d.Allowed {
		return d, err
	}
	if username = strings.ToLower(strings.TrimSpace(username)); username != "" {
		if len(username) > 64 {
			username = username[:64]
		}
		return a.allow(c, a.limits.rule("login_user", a.limits.LoginPerUser), username, username)
	}
	return d, nil
}

// sessionKey names a session in the counters without storing its token.
func sessionKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:12])
}
