package webapp

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"infowork/auth"
	"infowork/label"
)

// safeNext keeps redirects after login on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

func (a *App) loginPage(c *fiber.Ctx) error {
	if sessionOf(c) != nil {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return a.render(c, fiber.StatusOK, "login", page{Title: "登录", Data: fiber.Map{"Next": safeNext(c.Query("next"))}})
}

func (a *App) setSessionCookie(c *fiber.Ctx, s auth.Session) {
	c.Cookie(&fiber.Cookie{Name: cookieSession, Value: s.Token, Path: "/", HTTPOnly: true, SameSite: "Lax",
		Secure: a.opts.CookieSecure, Expires: s.ExpiresAt})
}

func (a *App) loginSubmit(c *fiber.Ctx) error {
	next := safeNext(c.FormValue("next"))
	if d, err := a.allowLogin(c, c.FormValue("username")); err != nil {
		return err
	} else if !d.Allowed {
		return a.render(c, fiber.StatusTooManyRequests, "login", page{Title: "登录", Error: errRateLimited(c, d).Error(),
			Data: fiber.Map{"Next": next, "Username": c.FormValue("username")}})
	}
	s, err := a.opts.Auth.Login(c.UserContext(), auth.LoginRequest{
		Username: c.FormValue("username"), Password: c.FormValue("password"),
		Kind: auth.KindWeb, ClientIP: clientIP(c), UserAgent: c.Get(fiber.HeaderUserAgent),
	})
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return a.render(c, fiber.StatusUnauthorized, "login", page{Title: "登录", Error: err.Error(),
			Data: fiber.Map{"Next": next, "Username": c.FormValue("username")}})
	}
	if err != nil {
		return err
	}
	// A fresh session token replaces any previous one (no session fixation).
	if old := c.Cookies(cookieSession); old != "" {
		_ = a.opts.Auth.Logout(c.UserContext(), old, clientIP(c))
	}
	a.setSessionCookie(c, s)
	if s.Restriction == auth.RestrictMFA {
		return c.Redirect("/login/mfa?next="+urlQueryEscape(next), fiber.StatusSeeOther)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

func (a *App) logout(c *fiber.Ctx) error {
	if t, _ := c.Locals(localToken).(string); t != "" {
		if err := a.opts.Auth.Logout(c.UserContext(), t, clientIP(c)); err != nil {
			return err
		}
	}
	c.ClearCookie(cookieSession)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

func (a *App) home(c *fiber.Ctx) error {
	s := sessionOf(c)
	if p := adminHomePath(s.User); p != "" { // administrators land in their own area
		return c.Redirect(p, fiber.StatusSeeOther)
	}
	if s.User.Subject().CanSubmit() && !s.User.Subject().AllUnits() {
		return c.Redirect("/submissions", fiber.StatusSeeOther)
	}
	return c.Redirect("/search", fiber.StatusSeeOther)
}

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (a *App) apiLogin(c *fiber.Ctx) error {
	var b loginBody
	if err := c.BodyParser(&b); err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", "请求体必须是 JSON：{\"username\",\"password\"}")
	}
	if b.Username == "" || b.Password == "" {
		return errStatus(fiber.StatusBadRequest, "bad_request", "username 和 password 都不能为空")
	}
	if d, err := a.allowLogin(c, b.Username); err != nil {
		return err
	} else if !d.Allowed {
		return errRateLimited(c, d)
	}
	s, err := a.opts.Auth.Login(c.UserContext(), auth.LoginRequest{Username: b.Username, Password: b.Password,
		Kind: auth.KindAPI, ClientIP: clientIP(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return errStatus(fiber.StatusUnauthorized, "invalid_credentials", err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(sessionJSON(s))
}

func (a *App) apiLogout(c *fiber.Ctx) error {
	t, _ := c.Locals(localToken).(string)
	if err := a.opts.Auth.Logout(c.UserContext(), t, clientIP(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *App) apiMe(c *fiber.Ctx) error { return c.JSON(userJSON(sessionOf(c).User)) }

func userJSON(u auth.User) fiber.Map {
	return fiber.Map{"id": u.ID, "username": u.Username, "display_name": u.DisplayName, "unit": u.UnitCode, "unit_name": u.UnitName,
		"roles": u.Roles, "clearance": u.Clearance.String(), "clearance_name": label.Level(u.Clearance).Chinese()}
}
