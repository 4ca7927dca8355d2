package webapp

import "github.com/gofiber/fiber/v2"

// periodicalRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for periodicals (刊物), issues, sign-off, distribution and leader endorsements (issue 6).
func (a *App) periodicalRoutes(f *fiber.App, api fiber.Router) {
}
