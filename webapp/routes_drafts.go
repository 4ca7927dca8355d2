package webapp

import "github.com/gofiber/fiber/v2"

// draftRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for drafts (稿件), merging with provenance, revisions and intake (issue 5).
func (a *App) draftRoutes(f *fiber.App, api fiber.Router) {
}
