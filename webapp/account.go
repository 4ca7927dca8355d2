package webapp

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/auth"
)

// Restricted sessions (see auth.Session.Restriction) may use only the routes that lift the
// restriction, plus logout. Pages redirect there; the API answers 403 with the restriction as
// the error code.
var restrictedRoutes = map[string]map[string]bool{
	auth.RestrictMFA: {"GET /login/mfa": true, "POST /login/mfa": true, "POST /api/v1/auth/mfa": true,
		"GET /login": true, "POST /login": true},
	auth.RestrictPasswordChange: {"GET /account/password": true, "POST /account/password": true, "POST /api/v1/auth/password": true},
	auth.RestrictMFAEnrollment: {"GET /account/mfa": true, "POST /account/mfa": true,
		"POST /api/v1/auth/mfa/enroll": true, "POST /api/v1/auth/mfa/confirm": true},
}

var restrictionPage = map[string]string{
	auth.RestrictMFA:            "/login/mfa",
	auth.RestrictPasswordChange: "/account/password",
	auth.RestrictMFAEnrollment:  "/account/mfa",
}

var restrictionMessage = map[string]string{
	auth.RestrictMFA:            "请先输入动态口令完成登录",
	auth.RestrictPasswordChange: "请先修改密码（初始密码或密码已过期）",
	auth.RestrictMFAEnrollment:  "管理员账户须先绑定动态口令（TOTP）",
}

// guard applies the per-session request budget and the session's restriction.
func (a *App) guard(c *fiber.Ctx) error {
	s := sessionOf(c)
	if s == nil {
		return c.Next()
	}
	token, _ := c.Locals(localToken).(string)
	d, err := a.allow(c, a.limits.rule("session", a.limits.PerSession), sessionKey(token), s.User.Username)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return errRateLimited(c, d)
	}
	if s.Restriction == "" {
		return c.Next()
	}
	method := c.Method()
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	route := method + " " + strings.TrimSuffix(c.Path(), "/")
	if route == "POST /logout" || route == "POST /api/v1/auth/logout" || restrictedRoutes[s.Restriction][route] {
		return c.Next()
	}
	if isAPI(c) {
		return errStatus(fiber.StatusForbidden, s.Restriction, restrictionMessage[s.Restriction])
	}
	return c.Redirect(restrictionPage[s.Restriction], fiber.StatusSeeOther)
}

// sessionJSON is the answer of every API call that issues a token.
func sessionJSON(s auth.Session) fiber.Map {
	state := s.Restriction
	if state == "" {
		state = "active"
	}
	return fiber.Map{"token": s.Token, "token_type": "Bearer", "expires_at": s.ExpiresAt.UTC().Format(time.RFC3339),
		"state": state, "user": userJSON(s.User)}
}

// --- second step of a login -------------------------------------------------------------

func (a *App) loginMFAPage(c *fiber.Ctx) error {
	if sessionOf(c).State != auth.StateMFAPending {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return a.render(c, fiber.StatusOK, "account_mfa_verify", page{Title: "动态口令", Data: fiber.Map{"Next": safeNext(c.Query("next"))}})
}

func (a *App) loginMFASubmit(c *fiber.Ctx) error {
	next := safeNext(c.FormValue("next"))
	if sessionOf(c).State != auth.StateMFAPending {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	if d, err := a.allowLogin(c, ""); err != nil {
		return err
	} else if !d.Allowed {
		return a.render(c, fiber.StatusTooManyRequests, "account_mfa_verify", page{Title: "动态口令", Error: errRateLimited(c, d).Error(), Data: fiber.Map{"Next": next}})
	}
	token, _ := c.Locals(localToken).(string)
	s, err := a.opts.Auth.VerifyMFA(c.UserContext(), auth.MFARequest{Token: token, Code: c.FormValue("code"),
		ClientIP: clientIP(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	switch {
	case errors.Is(err, auth.ErrMFAInvalid):
		return a.render(c, fiber.StatusUnauthorized, "account_mfa_verify", page{Title: "动态口令", Error: err.Error(), Data: fiber.Map{"Next": next}})
	case errors.Is(err, auth.ErrInvalidCredentials):
		c.ClearCookie(cookieSession)
		c.Locals(localSession, nil)
		return a.render(c, fiber.StatusUnauthorized, "login", page{Title: "登录", Error: err.Error(), Data: fiber.Map{"Next": next}})
	case err != nil:
		return err
	}
	a.setSessionCookie(c, s)
	return c.Redirect(next, fiber.StatusSeeOther)
}

type codeBody struct {
	Code string `json:"code"`
}

func (a *App) apiMFA(c *fiber.Ctx) error {
	var b codeBody
	if err := c.BodyParser(&b); err != nil || b.Code == "" {
		return errStatus(fiber.StatusBadRequest, "bad_request", "请求体必须是 JSON：{\"code\"}")
	}
	if sessionOf(c).State != auth.StateMFAPending {
		return errStatus(fiber.StatusConflict, "mfa_not_pending", "当前会话无需动态口令")
	}
	if d, err := a.allowLogin(c, ""); err != nil {
		return err
	} else if !d.Allowed {
		return errRateLimited(c, d)
	}
	token, _ := c.Locals(localToken).(string)
	s, err := a.opts.Auth.VerifyMFA(c.UserContext(), auth.MFARequest{Token: token, Code: b.Code,
		ClientIP: clientIP(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	switch {
	case errors.Is(err, auth.ErrMFAInvalid):
		return errStatus(fiber.StatusUnauthorized, "invalid_mfa_code", err.Error())
	case errors.Is(err, auth.ErrInvalidCredentials):
		return errStatus(fiber.StatusUnauthorized, "invalid_credentials", err.Error())
	case err != nil:
		return err
	}
	if c.Locals(localBearer) == nil {
		a.setSessionCookie(c, s)
	}
	return c.JSON(sessionJSON(s))
}

// --- password change --------------------------------------------------------------------

func (a *App) passwordPage(c *fiber.Ctx) error {
	p := page{Title: "修改密码", Nav: "account", Data: a.passwordData(c)}
	if c.Query("changed") != "" {
		p.Flash = "密码已修改，本账户的其他会话均已退出。"
	}
	return a.render(c, fiber.StatusOK, "account_password", p)
}

func (a *App) passwordData(c *fiber.Ctx) fiber.Map {
	s := sessionOf(c)
	return fiber.Map{"Forced": s.Restriction == auth.RestrictPasswordChange, "Initial": s.User.MustChangePassword}
}

func (a *App) passwordSubmit(c *fiber.Ctx) error {
	s := sessionOf(c)
	fail := func(msg string) error {
		return a.render(c, fiber.StatusUnprocessableEntity, "account_password", page{Title: "修改密码", Nav: "account", Error: msg, Data: a.passwordData(c)})
	}
	if c.FormValue("new_password") != c.FormValue("new_password2") {
		return fail("两次输入的新密码不一致")
	}
	token, _ := c.Locals(localToken).(string)
	err := a.opts.Auth.ChangePassword(c.UserContext(), auth.ChangePasswordRequest{UserID: s.User.ID,
		CurrentPassword: c.FormValue("current_password"), NewPassword: c.FormValue("new_password"), KeepToken: token, ClientIP: clientIP(c)})
	var pe *auth.PolicyError
	switch {
	case errors.Is(err, auth.ErrWrongPassword):
		return fail(err.Error())
	case errors.As(err, &pe):
		return fail(pe.Msg)
	case err != nil:
		return err
	}
	return c.Redirect("/account/password?changed=1", fiber.StatusSeeOther)
}

type passwordBody struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *App) apiPassword(c *fiber.Ctx) error {
	var b passwordBody
	if err := c.BodyParser(&b); err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", "请求体必须是 JSON：{\"current_password\",\"new_password\"}")
	}
	token, _ := c.Locals(localToken).(string)
	err := a.opts.Auth.ChangePassword(c.UserContext(), auth.ChangePasswordRequest{UserID: sessionOf(c).User.ID,
		CurrentPassword: b.CurrentPassword, NewPassword: b.NewPassword, KeepToken: token, ClientIP: clientIP(c)})
	var pe *auth.PolicyError
	switch {
	case errors.Is(err, auth.ErrWrongPassword):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: err.Error(),
			fields: map[string]string{"current_password": err.Error()}}
	case errors.As(err, &pe):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: pe.Msg,
			fields: map[string]string{"new_password": pe.Msg}}
	case err != nil:
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// --- second-factor enrollment -----------------------------------------------------------

func (a *App) mfaPage(c *fiber.Ctx) error {
	s := sessionOf(c)
	data := fiber.Map{"Enrolled": s.User.MFAEnrolled, "Required": auth.RequiresMFA(s.User.Roles)}
	if !s.User.MFAEnrolled {
		enr, ok, err := a.opts.Auth.PendingTOTP(c.UserContext(), s.User.ID)
		if err != nil {
			return err
		}
		if ok {
			data["Secret"], data["URI"] = enr.Secret, enr.URI
		}
	}
	p := page{Title: "动态口令", Nav: "account", Data: data}
	if c.Query("enrolled") != "" {
		p.Flash = "动态口令已启用，今后登录时需要输入。"
	}
	return a.render(c, fiber.StatusOK, "account_mfa", p)
}

// mfaSubmit starts the enrollment (no code in the form) or confirms it with a code.
func (a *App) mfaSubmit(c *fiber.Ctx) error {
	s := sessionOf(c)
	code := strings.TrimSpace(c.FormValue("code"))
	if code == "" {
		if _, err := a.opts.Auth.BeginTOTP(c.UserContext(), s.User.ID); err != nil && !errors.Is(err, auth.ErrMFAEnrolled) {
			return err
		}
		return c.Redirect("/account/mfa", fiber.StatusSeeOther)
	}
	err := a.opts.Auth.ConfirmTOTP(c.UserContext(), s.User.ID, code, clientIP(c))
	switch {
	case errors.Is(err, auth.ErrMFAInvalid):
		enr, _, perr := a.opts.Auth.PendingTOTP(c.UserContext(), s.User.ID)
		if perr != nil {
			return perr
		}
		return a.render(c, fiber.StatusUnprocessableEntity, "account_mfa", page{Title: "动态口令", Nav: "account", Error: err.Error(),
			Data: fiber.Map{"Required": auth.RequiresMFA(s.User.Roles), "Secret": enr.Secret, "URI": enr.URI}})
	case errors.Is(err, auth.ErrMFAEnrolled):
	case err != nil:
		return err
	}
	return c.Redirect("/account/mfa?enrolled=1", fiber.StatusSeeOther)
}

func (a *App) apiMFAEnroll(c *fiber.Ctx) error {
	enr, err := a.opts.Auth.BeginTOTP(c.UserContext(), sessionOf(c).User.ID)
	if errors.Is(err, auth.ErrMFAEnrolled) {
		return errStatus(fiber.StatusConflict, "mfa_enrolled", err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"secret": enr.Secret, "otpauth_uri": enr.URI})
}

func (a *App) apiMFAConfirm(c *fiber.Ctx) error {
	var b codeBody
	if err := c.BodyParser(&b); err != nil || b.Code == "" {
		return errStatus(fiber.StatusBadRequest, "bad_request", "请求体必须是 JSON：{\"code\"}")
	}
	err := a.opts.Auth.ConfirmTOTP(c.UserContext(), sessionOf(c).User.ID, b.Code, clientIP(c))
	switch {
	case errors.Is(err, auth.ErrMFAInvalid):
		return errStatus(fiber.StatusUnprocessableEntity, "invalid_mfa_code", err.Error())
	case errors.Is(err, auth.ErrMFAEnrolled):
		return errStatus(fiber.StatusConflict, "mfa_enrolled", err.Error())
	case err != nil:
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
