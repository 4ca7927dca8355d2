package webapp

import "github.com/gofiber/fiber/v2"

// periodicalRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for periodicals (刊物), issues, sign-off, distribution and leader endorsements (issue 6).
func (a *App) periodicalRoutes(f *fiber.App, api fiber.Router) {
	f.Get("/periodicals", requireLogin, a.periodicalList)
	f.Post("/periodicals", requireLogin, a.periodicalCreate)
	f.Get("/periodicals/:id<int>/edit", requireLogin, a.periodicalEdit)
	f.Post("/periodicals/:id<int>", requireLogin, a.periodicalUpdate)
	f.Post("/periodicals/:id<int>/issues", requireLogin, a.issueCreate)
	f.Get("/issues/:id<int>", requireLogin, a.issueShow)
	f.Post("/issues/:id<int>/items", requireLogin, a.issueAddItems)
	f.Post("/issues/:id<int>/seed", requireLogin, a.issueSeed)
	f.Post("/issues/:id<int>/order", requireLogin, a.issueOrder)
	f.Post("/issues/:id<int>/sections", requireLogin, a.issueSections)
	f.Post("/issues/:id<int>/sections/move", requireLogin, a.issueSectionMove)
	f.Post("/issues/:id<int>/items/:item<int>/move", requireLogin, a.issueMove)
	f.Post("/issues/:id<int>/items/:item<int>/note", requireLogin, a.issueNote)
	f.Post("/issues/:id<int>/items/:item<int>/remove", requireLogin, a.issueRemove)
	f.Post("/issues/:id<int>/items/:item<int>/endorsements", requireLogin, a.endorsementCreate)
	f.Post("/issues/:id<int>/sign", requireLogin, a.issueSign)
	f.Post("/issues/:id<int>/correct", requireLogin, a.issueCorrect)
	f.Post("/issues/:id<int>/distribute", requireLogin, a.issueDistribute)
	f.Post("/issues/:id<int>/archive", requireLogin, a.issueArchive)
	f.Post("/issues/:id<int>/void", requireLogin, a.issueVoid)
	f.Get("/issues/:id<int>/print", requireLogin, a.issuePrint)
	f.Get("/issues/:id<int>/issue.pdf", requireLogin, a.issueOutput)
	f.Get("/issues/:id<int>/issue.docx", requireLogin, a.issueOutput)
	f.Post("/basket", requireLogin, a.basketAdd)
	f.Post("/basket/remove", requireLogin, a.basketRemove)
	f.Get("/endorsements", requireLogin, a.endorsementList)
	f.Get("/endorsements/:id<int>/scan", requireLogin, a.endorsementScan)
	f.Post("/endorsement-tasks/:id<int>/feedback", requireLogin, a.taskFeedback)
	f.Post("/endorsement-tasks/:id<int>/review", requireLogin, a.taskReview)

	api.Get("/periodicals", requireLogin, a.apiPeriodicals)
	api.Get("/issues/:id<int>", requireLogin, a.apiIssue)
}
