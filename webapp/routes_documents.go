package webapp

import "github.com/gofiber/fiber/v2"

// documentRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for attachment versions, text extraction and previews (issue 11).
func (a *App) documentRoutes(f *fiber.App, api fiber.Router) {
}
