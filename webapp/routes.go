package webapp

import (
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes registers every route in one place.
func (a *App) routes() {
	f := a.fiber
	f.Use(recover.New())
	f.Use(a.observe)
	f.Use(a.resolveClientIP) // trusted-proxy handling, for audit rows and rate limits (ratelimit.go)
	f.Use(securityHeaders)

	static, _ := fs.Sub(staticFS, "static")
	f.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))

	f.Get("/healthz", a.healthz)
	f.Get("/readyz", a.readyz)
	f.Get("/metrics", a.metricsHandler())

	f.Use(a.authenticate)
	f.Use(csrf)
	f.Use(a.guard) // per-session rate limit; restricted sessions reach only their routes (account.go)

	// Pages.
	f.Get("/login", a.loginPage)
	f.Post("/login", a.loginSubmit)
	f.Post("/logout", a.logout)
	f.Get("/login/mfa", requireLogin, a.loginMFAPage)
	f.Post("/login/mfa", requireLogin, a.loginMFASubmit)
	f.Get("/account/password", requireLogin, a.passwordPage)
	f.Post("/account/password", requireLogin, a.passwordSubmit)
	f.Get("/account/mfa", requireLogin, a.mfaPage)
	f.Post("/account/mfa", requireLogin, a.mfaSubmit)
	f.Get("/", requireLogin, a.home)
	f.Get("/submissions", requireLogin, a.submissionList)
	f.Get("/submissions/new", requireLogin, a.submissionNew)
	f.Post("/submissions", requireLogin, a.submissionCreate)
	f.Get("/submissions/:id<int>", requireLogin, a.submissionShow)
	f.Post("/submissions/:id<int>/attachments", requireLogin, a.attachmentUpload)     // attachments.go
	f.Post("/submissions/:id<int>/transitions", requireLogin, a.submissionTransition) // workflow_pages.go
	f.Get("/attachments/:id<int>", requireLogin, a.attachmentDownload)
	f.Get("/attachments/:id<int>/preview", requireLogin, a.attachmentPreview)
	f.Get("/search", requireLogin, a.searchPage)
	a.adminRoutes()  // /admin: the three separated administrators (admin_routes.go)
	a.notesRoutes(f) // notes.go: the system administrator's Notes conflict review (issue 8)

	// JSON API.
	api := f.Group("/api/v1")
	api.Post("/auth/login", a.apiLogin)
	api.Post("/auth/logout", requireLogin, a.apiLogout)
	api.Post("/auth/mfa", requireLogin, a.apiMFA)
	api.Post("/auth/mfa/enroll", requireLogin, a.apiMFAEnroll)
	api.Post("/auth/mfa/confirm", requireLogin, a.apiMFAConfirm)
	api.Post("/auth/password", requireLogin, a.apiPassword)
	api.Get("/me", requireLogin, a.apiMe)
	api.Get("/submissions", requireLogin, a.apiSubmissionList)
	api.Post("/submissions", requireLogin, a.apiSubmissionCreate)
	api.Get("/submissions/:id<int>", requireLogin, a.apiSubmissionGet)
	api.Get("/submissions/:id<int>/attachments", requireLogin, a.apiAttachmentList)
	api.Post("/submissions/:id<int>/attachments", requireLogin, a.apiAttachmentUpload)
	api.Get("/attachments/:id<int>", requireLogin, a.apiAttachmentDownload)
	api.Get("/submissions/:id<int>/transitions", requireLogin, a.apiTransitions) // workflows.go
	api.Post("/submissions/:id<int>/transitions", requireLogin, a.apiTransition)
	api.Get("/submissions/:id<int>/history", requireLogin, a.apiHistory)
	api.Get("/workflows", requireLogin, a.apiWorkflows)
	api.Post("/workflows", requireLogin, a.apiWorkflowPublish)
	api.Get("/search", requireLogin, a.apiSearch)
	api.Get("/categories", requireLogin, a.apiCategories)
	api.Get("/units", requireLogin, a.apiUnits)

	// Each capability registers its pages and API routes in its own file, so that work on one
	// does not collide with work on another.
	a.deskRoutes(f, api)       // routes_desk.go: editors' desk, assignment, locks, comments (issue 5)
	a.draftRoutes(f, api)      // routes_drafts.go: drafts, merging, revisions, intake (issue 5)
	a.documentRoutes(f, api)   // routes_documents.go: attachment versions, extraction, previews (issue 11)
	a.periodicalRoutes(f, api) // routes_periodicals.go: periodicals, sign-off, endorsements (issue 6)
	a.statisticsRoutes(f, api) // routes_statistics.go: statistics, scoring, dashboards, exports (issue 7)
	api.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })

	f.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}
