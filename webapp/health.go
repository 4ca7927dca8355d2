package webapp

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"infowork/outbox"
)

// healthz answers while the process runs (liveness).
func (a *App) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz reports whether this replica can serve: 503 without the database; 200 with
// status "degraded" when only search is down (lists still work from the database).
func (a *App) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	body := fiber.Map{"status": "ok", "database": "ok", "search": "ok", "engine": a.opts.Engine.Name()}
	status := fiber.StatusOK
	if err := a.opts.DB.Ping(ctx); err != nil {
		body["database"], body["status"] = "unavailable", "unavailable"
		status = fiber.StatusServiceUnavailable
	} else if st, err := outbox.ReadStats(ctx, a.opts.DB); err == nil {
		body["outbox_backlog"] = st.Backlog
		body["outbox_oldest_age_seconds"] = st.OldestAge.Seconds()
		body["outbox_dead_letters"] = st.Dead
	}
	if err := a.opts.Engine.Ping(ctx); err != nil {
		body["search"] = "unavailable"
		if status == fiber.StatusOK {
			body["status"] = "degraded"
		}
	}
	return c.Status(status).JSON(body)
}

func (a *App) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(a.opts.Gatherer, promhttp.HandlerOpts{}))
}
