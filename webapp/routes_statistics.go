package webapp

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/export"
	"infowork/savedsearch"
	"infowork/scoring"
	"infowork/stats"
)

// statsDeps are the services of issue 7, built once from the app's options.
type statsDeps struct {
	stats   *stats.Service
	scoring *scoring.Service
	saved   *savedsearch.Service
	export  *export.Service

	syncMu   sync.Mutex
	lastSync time.Time
}

// syncScores brings the scoring ledger up to date with its sources (workflow, endorsements,
// solicitations) before scores are shown, at most every 15 seconds per process: the syncs are
// idempotent, so another replica or a later call catches anything missed.
func (a *App) syncScores(ctx context.Context, force bool) error {
	d := a.stats
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	if !force && time.Since(d.lastSync) < 15*time.Second {
		return nil
	}
	if _, err := d.scoring.SyncAll(ctx); err != nil {
		return err
	}
	d.lastSync = time.Now()
	return nil
}

// statisticsRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for statistics, scoring, dashboards, saved searches and exports (issue 7).
func (a *App) statisticsRoutes(f *fiber.App, api fiber.Router) {
	dir := a.opts.ExportDir
	if dir == "" {
		// A directory of this app's own: job ids restart in every database, so two apps (tests)
		// must not share file names.
		var err error
		if dir, err = os.MkdirTemp("", "infowork-exports-"); err != nil {
			dir = filepath.Join(os.TempDir(), "infowork-exports")
		}
	}
	st := stats.New(a.opts.ReadDB, a.opts.Engine)
	ex, err := export.New(export.Options{DB: a.opts.DB, ReadDB: a.opts.ReadDB, Engine: a.opts.Engine, Stats: st, Dir: dir, Logger: a.opts.Logger})
	if err != nil {
		a.log.Error("exports disabled", "dir", dir, "err", err)
	}
	a.stats = &statsDeps{stats: st, scoring: scoring.New(a.opts.DB), saved: savedsearch.New(a.opts.DB), export: ex}

	f.Get("/dashboard", requireLogin, a.dashboardPage)
	f.Get("/statistics", requireLogin, a.statsPage)
	f.Get("/statistics/items", requireLogin, a.statsItems)
	f.Get("/scoring", requireLogin, a.scoringPage)
	f.Post("/scoring/rules", requireLogin, a.scoringSaveRules)
	f.Post("/scoring/events", requireLogin, a.scoringRecordEvent)
	f.Post("/scoring/close-month", requireLogin, a.scoringCloseMonth)
	f.Post("/scoring/publish", requireLogin, a.scoringPublish)
	f.Get("/scoring/league.xlsx", requireLogin, a.scoringLeagueFile)
	f.Get("/scoring/league.pdf", requireLogin, a.scoringLeagueFile)
	f.Get("/saved-searches", requireLogin, a.savedSearchList)
	f.Post("/saved-searches", requireLogin, a.savedSearchCreate)
	f.Post("/saved-searches/:id<int>/subscribe", requireLogin, a.savedSearchSubscribe)
	f.Post("/saved-searches/:id<int>/unsubscribe", requireLogin, a.savedSearchUnsubscribe)
	f.Post("/saved-searches/:id<int>/archive", requireLogin, a.savedSearchArchive)
	f.Get("/exports", requireLogin, a.exportList)
	f.Post("/exports", requireLogin, a.exportCreate)
	f.Get("/exports/:id<int>/download", requireLogin, a.exportDownload)

	api.Get("/statistics", requireLogin, a.apiStatistics)
	api.Get("/statistics/trends", requireLogin, a.apiTrends)
	api.Get("/scoring/rules", requireLogin, a.apiScoringRules)
	api.Put("/scoring/rules", requireLogin, a.apiScoringSaveRules)
	api.Get("/scoring/league", requireLogin, a.apiScoringLeague)
	api.Get("/saved-searches", requireLogin, a.apiSavedSearches)
	api.Post("/saved-searches", requireLogin, a.apiSavedSearchCreate)
	api.Post("/exports", requireLogin, a.apiExportCreate)
	api.Get("/exports/:id<int>", requireLogin, a.apiExportGet)
}
