package webapp

import (
	"github.com/gofiber/fiber/v2"

	"infowork/access"
)

// deskRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for editors' desk: queues, assignment, soft locks, comments and due dates (issue 5).
func (a *App) deskRoutes(f *fiber.App, api fiber.Router) {
	a.bindUnread() // the unread badge in the header (desk_inbox.go)

	noAdmin := a.notForAdministrators
	f.Get("/desk", requireLogin, noAdmin, a.deskView) // desk.go
	f.Post("/submissions/:id<int>/lock", requireLogin, a.deskLockPage)
	f.Post("/submissions/:id<int>/unlock", requireLogin, a.deskUnlockPage)
	f.Post("/submissions/:id<int>/assign", requireLogin, a.deskAssignPage)
	f.Post("/submissions/:id<int>/due", requireLogin, a.deskDuePage)
	f.Post("/submissions/:id<int>/comments", requireLogin, a.deskCommentPage)
	f.Get("/notifications", requireLogin, a.notificationsPage) // desk_inbox.go
	f.Post("/notifications/read", requireLogin, a.notificationsRead)

	api.Get("/desk", requireLogin, noAdmin, a.apiDesk)
	api.Get("/submissions/:id<int>/desk", requireLogin, a.apiDeskCard)
	api.Post("/submissions/:id<int>/lock", requireLogin, a.apiDeskLock)
	api.Delete("/submissions/:id<int>/lock", requireLogin, a.apiDeskUnlock)
	api.Put("/submissions/:id<int>/assignee", requireLogin, a.apiDeskAssign)
	api.Put("/submissions/:id<int>/due", requireLogin, a.apiDeskDue)
	api.Get("/submissions/:id<int>/comments", requireLogin, a.apiDeskComments)
	api.Post("/submissions/:id<int>/comments", requireLogin, a.apiDeskComment)
	api.Get("/notifications", requireLogin, a.apiNotifications)
	api.Post("/notifications/read", requireLogin, a.apiNotificationsRead)
	api.Post("/workflows/validate", requireLogin, a.apiWorkflowValidate) // workflows.go

	// The workflow definition editor belongs to the system administrator (workflow_pages.go).
	sys := a.adminArea(access.RoleSysAdmin)
	f.Get("/admin/workflows", requireLogin, sys, a.adminWorkflows)
	f.Get("/admin/workflows/edit", requireLogin, sys, a.adminWorkflowEdit)
	f.Post("/admin/workflows/edit", requireLogin, sys, a.adminWorkflowSubmit)
	f.Get("/admin/workflows/:name/:version<int>", requireLogin, sys, a.adminWorkflowShow)
}

// notForAdministrators: the three administrators hold no office role and read no records, so
// the desk is not theirs (403, as for records).
func (a *App) notForAdministrators(c *fiber.Ctx) error {
	s := sessionOf(c).User.Subject()
	if s.Has(access.RoleSysAdmin) || s.Has(access.RoleSecAdmin) || s.Has(access.RoleAuditAdmin) {
		return errStatus(fiber.StatusForbidden, "forbidden", "管理员不办理信息，没有编辑台。")
	}
	return c.Next()
}
