package webapp

import "github.com/gofiber/fiber/v2"

// draftRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for drafts (稿件), merging with provenance, revisions and intake (issue 5).
func (a *App) draftRoutes(f *fiber.App, api fiber.Router) {
	// Pages (drafts.go).
	f.Get("/drafts", requireLogin, a.draftList)
	f.Post("/drafts", requireLogin, a.draftCreate)
	f.Get("/drafts/:id<int>", requireLogin, a.draftShow)
	f.Post("/drafts/:id<int>", requireLogin, a.draftSave)
	f.Get("/drafts/:id<int>/revisions/:n<int>", requireLogin, a.draftRevisionShow)
	f.Post("/drafts/:id<int>/revisions/:n<int>/restore", requireLogin, a.draftRestore)
	f.Post("/drafts/:id<int>/:action<regex(^(adopt|withdraw|sources)$)>", requireLogin, a.draftAction)
	f.Get("/solicitations", requireLogin, a.solicitationListPage)
	f.Post("/solicitations", requireLogin, a.solicitationCreatePage)
	f.Get("/solicitations/:id<int>", requireLogin, a.solicitationShowPage)

	// JSON API.
	api.Get("/drafts", requireLogin, a.apiDraftList)
	api.Post("/drafts", requireLogin, a.apiDraftCreate)
	api.Get("/drafts/:id<int>", requireLogin, a.apiDraftGet)
	api.Put("/drafts/:id<int>", requireLogin, a.apiDraftSave)
	api.Get("/drafts/:id<int>/revisions", requireLogin, a.apiDraftRevisions)
	api.Get("/drafts/:id<int>/revisions/:n<int>", requireLogin, a.apiDraftRevision)
	api.Post("/drafts/:id<int>/revisions/:n<int>/restore", requireLogin, a.apiDraftRestore)
	api.Post("/drafts/:id<int>/adopt", requireLogin, a.apiDraftAdopt)
	api.Post("/drafts/:id<int>/withdraw", requireLogin, a.apiDraftWithdraw)
	api.Post("/drafts/:id<int>/sources", requireLogin, a.apiDraftAddSources)
	api.Get("/submissions/:id<int>/similar", requireLogin, a.apiSimilar)
	api.Get("/submissions/similar", requireLogin, a.apiSimilarHints)
	api.Post("/submissions/similar", requireLogin, a.apiSimilarText)
	api.Post("/submissions/clean-html", requireLogin, a.apiCleanHTML)
	api.Get("/solicitations", requireLogin, a.apiSolicitationList)
	api.Post("/solicitations", requireLogin, a.apiSolicitationCreate)
	api.Get("/solicitations/:id<int>", requireLogin, a.apiSolicitationGet)
}
