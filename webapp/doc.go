// Package webapp is the Fiber web application: server-rendered zh-CN pages for people and the
// JSON API under /api/v1 for programs.
//
// Lists and records are read from the database (an edit is visible at once and a search outage
// does not blank the UI); keyword and faceted search go to the search engine through the
// search.Engine interface only. The app is stateless: sessions live in the database, so any
// replica can serve any request. Routes are registered in routes.go; one file per page or API
// resource; errors are turned into pages or JSON in one error handler.
package webapp
