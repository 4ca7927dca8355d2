package webapp

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/export"
)

func exportError(err error) error {
	var ve *export.ValidationError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: ve.Message, fields: map[string]string{ve.Field: ve.Message}}
	case errors.Is(err, export.ErrNotFound):
		return errStatus(fiber.StatusNotFound, "not_found", "导出任务不存在")
	}
	return err
}

func (a *App) exporter() (*export.Service, error) {
	if a.stats.export == nil {
		return nil, errStatus(fiber.StatusServiceUnavailable, "unavailable", "导出目录不可用，导出功能已停用")
	}
	return a.stats.export, nil
}

func (a *App) exportList(c *fiber.Ctx) error {
	u := sessionOf(c).User
	ex, err := a.exporter()
	if err != nil {
		return err
	}
	jobs, err := ex.List(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	running := false
	for _, j := range jobs {
		if j.State == export.StateQueued || j.State == export.StateRunning {
			running = true
		}
	}
	flash := ""
	if c.Query("flash") == "started" {
		flash = "导出已开始，完成后可在下方下载。"
	}
	return a.render(c, fiber.StatusOK, "export", page{Title: "导出", Nav: "exports", Flash: flash, Data: fiber.Map{"Jobs": jobs, "Running": running}})
}

func (a *App) startExport(c *fiber.Ctx, kind, format, params string) (export.Job, error) {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return export.Job{}, err
	}
	ex, err := a.exporter()
	if err != nil {
		return export.Job{}, err
	}
	j, err := ex.Start(c.UserContext(), export.Request{Subject: u.Subject(), ClientIP: clientIP(c), Kind: kind, Format: format, Params: params})
	return j, exportError(err)
}

func (a *App) exportCreate(c *fiber.Ctx) error {
	if _, err := a.startExport(c, c.FormValue("kind"), c.FormValue("format"), c.FormValue("params")); err != nil {
		return err
	}
	return c.Redirect("/exports?flash=started", fiber.StatusSeeOther)
}

func (a *App) exportDownload(c *fiber.Ctx) error {
	u := sessionOf(c).User
	ex, err := a.exporter()
	if err != nil {
		return err
	}
	j, rc, err := ex.Open(c.UserContext(), u.Subject(), clientIP(c), savedID(c))
	if err != nil {
		return exportError(err)
	}
	ctype := "text/csv; charset=utf-8"
	if j.Format == export.FormatXLSX {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="export-`+itoa64(j.ID)+`.`+j.Format+`"; filename*=UTF-8''`+url.PathEscape(j.FileName()))
	return c.SendStream(rc, int(j.FileSize))
}

func itoa64(n int64) string { return strconvFormat(n) }

func jobJSON(j export.Job) fiber.Map {
	var finished any
	if j.FinishedAt != nil {
		finished = j.FinishedAt.UTC().Format(time.RFC3339)
	}
	var lvl any
	if j.Label != nil {
		lvl = levelKey(*j.Label)
	}
	var dl any
	if j.State == export.StateDone {
		dl = "/exports/" + itoa64(j.ID) + "/download"
	}
	return fiber.Map{"id": j.ID, "kind": j.Kind, "format": j.Format, "params": j.Params, "state": j.State, "total": j.Total,
		"progress": j.Progress, "percent": j.Percent(), "classification": lvl, "file_size": j.FileSize, "error": j.Error,
		"created_at": j.CreatedAt.UTC().Format(time.RFC3339), "finished_at": finished, "download_url": dl}
}

func levelKey(l int) string { return []string{"public", "internal", "secret", "confidential"}[l] }

func (a *App) apiExportCreate(c *fiber.Ctx) error {
	var body struct {
		Kind   string `json:"kind"`
		Format string `json:"format"`
		Params string `json:"params"`
	}
	if err := c.BodyParser(&body); err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", `请求体必须是 JSON：{"kind","format","params"}`)
	}
	j, err := a.startExport(c, body.Kind, body.Format, body.Params)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(jobJSON(j))
}

func (a *App) apiExportGet(c *fiber.Ctx) error {
	ex, err := a.exporter()
	if err != nil {
		return err
	}
	j, err := ex.Get(c.UserContext(), sessionOf(c).User.ID, savedID(c))
	if err != nil {
		return exportError(err)
	}
	return c.JSON(jobJSON(j))
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }
