package webapp

// The pages of the three separated administrators (三员分立) under /admin. Each area belongs to
// exactly one administrator role; everyone else (business roles and the other two
// administrators) gets 403 and a "denied" audit row. The administrators hold no office role, so
// they read no records (package access).

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/audit"
	"infowork/auth"
)

// adminAreas maps each administrator role to the first page of its area.
var adminAreas = map[string]string{
	access.RoleSysAdmin:   "/admin/users",
	access.RoleSecAdmin:   "/admin/security",
	access.RoleAuditAdmin: "/admin/audit",
}

type navLink struct{ Href, Label, Key string }

// adminNav is the navigation of an administrator's area (nil for everyone else).
func adminNav(u *auth.User) []navLink {
	if u == nil {
		return nil
	}
	switch auth.AdminRoleOf(u.Roles) {
	case access.RoleSysAdmin:
		return []navLink{{"/admin/users", "用户管理", "admin-users"}, {"/admin/units", "单位管理", "admin-units"}, {"/admin/system", "运行状态", "admin-system"},
			{"/admin/workflows", "流程定义", "admin-workflows"},       // workflow editor: routes_desk.go
			{"/scoring", "考核规则", "scoring"},                       // scoring rules as data: routes_statistics.go
			{"/admin/notes/conflicts", "Notes 冲突", "admin-notes"}} // Notes conflict review: notes.go
	case access.RoleSecAdmin:
		return []navLink{{"/admin/security", "授权与密级", "admin-security"}, {"/admin/records", "信息密级标记", "admin-records"}}
	case access.RoleAuditAdmin:
		return []navLink{{"/admin/audit", "审计日志", "admin-audit"}}
	}
	return nil
}

func init() {
	// Template helpers of the administrators' pages; parsed with the templates in New.
	funcs["adminNav"] = adminNav
	funcs["isAdmin"] = func(u *auth.User) bool { return u != nil && auth.AdminRoleOf(u.Roles) != "" }
	funcs["roleName"] = access.RoleName
	funcs["outcomeName"] = func(o string) string {
		return map[string]string{audit.Success: "成功", audit.Failure: "失败", audit.Denied: "拒绝"}[o]
	}
}

func (a *App) adminRoutes() {
	f := a.fiber
	f.Get("/admin", requireLogin, a.adminHome)

	sys := a.adminArea(access.RoleSysAdmin)
	f.Get("/admin/users", requireLogin, sys, a.adminUsers)
	f.Post("/admin/users", requireLogin, sys, a.adminUserCreate)
	f.Get("/admin/users/:id<int>", requireLogin, sys, a.adminUser)
	f.Post("/admin/users/:id<int>/disable", requireLogin, sys, a.adminUserDisable)
	f.Post("/admin/users/:id<int>/enable", requireLogin, sys, a.adminUserEnable)
	f.Post("/admin/users/:id<int>/reset-password", requireLogin, sys, a.adminUserResetPassword)
	f.Post("/admin/users/:id<int>/unlock", requireLogin, sys, a.adminUserUnlock)
	f.Get("/admin/units", requireLogin, sys, a.adminUnits)
	f.Post("/admin/units", requireLogin, sys, a.adminUnitCreate)
	f.Get("/admin/units/:id<int>", requireLogin, sys, a.adminUnit)
	f.Post("/admin/units/:id<int>", requireLogin, sys, a.adminUnitUpdate)
	f.Get("/admin/system", requireLogin, sys, a.adminSystem)
	f.Post("/admin/system/replay", requireLogin, sys, a.adminSystemReplay)

	sec := a.adminArea(access.RoleSecAdmin)
	f.Get("/admin/security", requireLogin, sec, a.adminSecurity)
	f.Get("/admin/security/users/:id<int>", requireLogin, sec, a.adminSecurityUser)
	f.Post("/admin/security/users/:id<int>", requireLogin, sec, a.adminSecurityUserSave)
	f.Get("/admin/records", requireLogin, sec, a.adminRecordLookup)
	f.Get("/admin/records/:id<int>/label", requireLogin, sec, a.adminRecordLabel)
	f.Post("/admin/records/:id<int>/label", requireLogin, sec, a.adminRecordLabelSave)

	aud := a.adminArea(access.RoleAuditAdmin)
	f.Get("/admin/audit", requireLogin, aud, a.adminAudit)
	f.Get("/admin/audit/export.csv", requireLogin, aud, a.adminAuditExport)
	f.Post("/admin/audit/verify", requireLogin, aud, a.adminAuditVerify)

	// Anything else under /admin: the same refusal for non-administrators, 404 for them.
	f.Use("/admin", requireLogin, func(c *fiber.Ctx) error {
		if auth.AdminRoleOf(sessionOf(c).User.Roles) == "" {
			return a.denyAdmin(c, "")
		}
		return c.Next()
	})
}

// actor is the administrator of the request, for the audit log.
func actor(c *fiber.Ctx) auth.Actor {
	s := sessionOf(c)
	return auth.Actor{UserID: s.User.ID, Username: s.User.Username, ClientIP: clientIP(c)}
}

// adminArea admits only holders of role.
func (a *App) adminArea(role string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if sessionOf(c).User.Subject().Has(role) {
			return c.Next()
		}
		return a.denyAdmin(c, role)
	}
}

// denyAdmin audits a refused administrative request and answers 403.
func (a *App) denyAdmin(c *fiber.Ctx, role string) error {
	u := sessionOf(c).User
	detail := "roles=" + joinRoles(u.Roles)
	msg := "此页面仅限管理员使用。"
	if role != "" {
		detail = "requires " + role + "; " + detail
		msg = "此页面仅限" + access.RoleName(role) + "使用。三员分立：每位管理员只能进入本人职责范围内的页面。"
	}
	if err := audit.Write(c.UserContext(), a.opts.DB, audit.Event{UserID: u.ID, Username: u.Username, ClientIP: clientIP(c),
		Action: "admin.access", Object: "page:" + c.Method() + " " + c.Path(), Outcome: audit.Denied, Detail: detail}); err != nil {
		return err
	}
	return errStatus(fiber.StatusForbidden, "forbidden", msg)
}

func joinRoles(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += ","
		}
		out += r
	}
	return out
}

// adminHome sends each administrator to its own area.
func (a *App) adminHome(c *fiber.Ctx) error {
	role := auth.AdminRoleOf(sessionOf(c).User.Roles)
	if role == "" {
		return a.denyAdmin(c, "")
	}
	return c.Redirect(adminAreas[role], fiber.StatusSeeOther)
}

// adminHomePath is where an administrator lands after login ("" for business users).
func adminHomePath(u auth.User) string { return adminAreas[auth.AdminRoleOf(u.Roles)] }

func paramID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// adminInputMessage returns the administrator-facing message of a refused change, "" when err is
// not one.
func adminInputMessage(err error) string {
	var ie *auth.AdminInputError
	if errors.As(err, &ie) {
		return ie.Message
	}
	if errors.Is(err, auth.ErrSelfAdministration) {
		return auth.ErrSelfAdministration.Error()
	}
	return ""
}
