package webapp

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"infowork/attachment"
	"infowork/audit"
	"infowork/outbox"
)

// The system administrator's operations page: search engine health, the outbox backlog and the
// dead letters (changes the engine refused permanently, e.g. a mapping error), with a replay
// button once the cause is fixed. Record contents are never shown: the page lists record ids.

type systemStatus struct {
	Engine      string
	SearchOK    bool
	SearchError string
	Stats       outbox.Stats
	StatsError  string
	DeadLetters []outbox.DeadLetter
	// Extraction is the text-extraction queue of attachments (issue 11); nil without an
	// attachment store.
	Extraction      *attachment.QueueStats
	ExtractionError string
}

func (a *App) adminSystem(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	st := systemStatus{Engine: a.opts.Engine.Name(), SearchOK: true}
	if err := a.opts.Engine.Ping(ctx); err != nil {
		st.SearchOK, st.SearchError = false, err.Error()
	}
	var err error
	if st.Stats, err = outbox.ReadStats(ctx, a.opts.DB); err != nil {
		st.StatsError = err.Error()
	}
	if st.DeadLetters, err = outbox.DeadLetters(ctx, a.opts.DB, 200); err != nil {
		return err
	}
	if a.opts.Attachments != nil {
		if q, err := a.opts.Attachments.ReadQueueStats(ctx, 50); err != nil {
			st.ExtractionError = err.Error()
		} else {
			st.Extraction = &q
		}
	}
	flash := map[string]string{"replayed": "死信已重新投递，索引程序将重新处理。"}[c.Query("flash")]
	return a.render(c, fiber.StatusOK, "admin_system", page{Title: "运行状态", Nav: "admin-system", Flash: flash, Data: st})
}

func (a *App) adminSystemReplay(c *fiber.Ctx) error {
	ctx := c.UserContext()
	act := actor(c)
	err := pgx.BeginFunc(ctx, a.opts.DB, func(tx pgx.Tx) error {
		n, err := outbox.Replay(ctx, tx)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: act.UserID, Username: act.Username, ClientIP: act.ClientIP,
			Action: "admin.outbox.replay", Object: "outbox", Detail: "rows=" + strconv.FormatInt(n, 10)})
	})
	if err != nil {
		return err
	}
	return c.Redirect("/admin/system?flash=replayed", fiber.StatusSeeOther)
}
