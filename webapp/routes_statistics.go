package webapp

import "github.com/gofiber/fiber/v2"

// statisticsRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for statistics, scoring, dashboards, saved searches and exports (issue 7).
func (a *App) statisticsRoutes(f *fiber.App, api fiber.Router) {
}
