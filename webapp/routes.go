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
	f.Use(securityHeaders)

	static, _ := fs.Sub(staticFS, "static")
	f.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))

	f.Get("/healthz", a.healthz)
	f.Get("/readyz", a.readyz)
	f.Get("/metrics", a.metricsHandler())

	f.Use(a.authenticate)
	f.Use(csrf)

	// Pages.
	f.Get("/login", a.loginPage)
	f.Post("/login", a.loginSubmit)
	f.Post("/logout", a.logout)
	f.Get("/", requireLogin, a.home)
	f.Get("/submissions", requireLogin, a.submissionList)
	f.Get("/submissions/new", requireLogin, a.submissionNew)
	f.Post("/submissions", requireLogin, a.submissionCreate)
	f.Get("/submissions/:id<int>", requireLogin, a.submissionShow)
	f.Get("/search", requireLogin, a.searchPage)

	// JSON API.
	api := f.Group("/api/v1")
	api.Post("/auth/login", a.apiLogin)
	api.Post("/auth/logout", requireLogin, a.apiLogout)
	api.Get("/me", requireLogin, a.apiMe)
	api.Get("/submissions", requireLogin, a.apiSubmissionList)
	api.Post("/submissions", requireLogin, a.apiSubmissionCreate)
	api.Get("/submissions/:id<int>", requireLogin, a.apiSubmissionGet)
	api.Get("/search", requireLogin, a.apiSearch)
	api.Get("/categories", requireLogin, a.apiCategories)
	api.Get("/units", requireLogin, a.apiUnits)
	api.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })

	f.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}
