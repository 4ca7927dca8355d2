package webapp

import "github.com/gofiber/fiber/v2"

// deskRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for editors' desk: queues, assignment, soft locks, comments and due dates (issue 5).
func (a *App) deskRoutes(f *fiber.App, api fiber.Router) {
}
