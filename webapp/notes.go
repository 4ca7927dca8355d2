package webapp

// Notes replication-conflict review for the system administrator (issue 8; docs/notes-migration.md,
// "Conflict review in the web app"): the list 'infowork notes review' prints, both versions side
// by side, and an audited resolve like 'infowork notes resolve'.

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/notes"
	"infowork/store"
)

var (
	notesMu  sync.Mutex
	notesImp = map[*App]*notes.Importer{}
)

// notesImporter is built on first use; it reads the blob store of the attachments service (the
// kept Notes versions live there), or an empty one when attachments are off.
func (a *App) notesImporter() (*notes.Importer, error) {
	notesMu.Lock()
	defer notesMu.Unlock()
	if im, ok := notesImp[a]; ok {
		return im, nil
	}
	dir := ""
	if a.opts.Attachments != nil {
		dir = filepath.Dir(a.opts.Attachments.BlobDir())
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "infowork-notes-review-"); err != nil {
			return nil, err
		}
	}
	im, err := notes.NewImporter(notes.Options{DB: a.opts.DB, DataDir: dir, Logger: a.opts.Logger})
	if err != nil {
		return nil, err
	}
	notesImp[a] = im
	return im, nil
}

func init() {
	funcs["notesKind"] = notes.KindName
	funcs["notesDetail"] = notes.CleanDetail
}

func (a *App) notesRoutes(f *fiber.App) {
	sys := a.adminArea(access.RoleSysAdmin)
	f.Get("/admin/notes/conflicts", requireLogin, sys, a.notesConflicts)
	f.Get("/admin/notes/conflicts/:ref", requireLogin, sys, a.notesConflict)
	f.Post("/admin/notes/conflicts/:ref/resolve", requireLogin, sys, a.notesResolve)
}

var notesRefOK = func(ref string) bool {
	if ref == "" || len(ref) > 32 {
		return false
	}
	for _, r := range ref {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

func (a *App) notesConflicts(c *fiber.Ctx) error {
	im, err := a.notesImporter()
	if err != nil {
		return err
	}
	items, err := im.Review(c.UserContext())
	if err != nil {
		return err
	}
	flash := ""
	if c.Query("flash") == "resolved" {
		flash = "已标记为已处理，操作已记入审计日志。"
	}
	return a.render(c, fiber.StatusOK, "notes_conflicts", page{Title: "Notes 冲突处理", Nav: "admin-notes", Flash: flash, Data: items})
}

func (a *App) notesConflict(c *fiber.Ctx) error {
	ref := c.Params("ref")
	if !notesRefOK(ref) {
		return errStatus(fiber.StatusNotFound, "not_found", "没有这项冲突")
	}
	return a.notesConflictView(c, fiber.StatusOK, ref, "")
}

func (a *App) notesConflictView(c *fiber.Ctx, status int, ref, msg string) error {
	im, err := a.notesImporter()
	if err != nil {
		return err
	}
	v, err := im.Compare(c.UserContext(), ref, sessionOf(c).User.Subject(), clientIP(c))
	if errors.Is(err, store.ErrNotFound) {
		return errStatus(fiber.StatusNotFound, "not_found", "没有这项冲突")
	}
	if err != nil {
		return err
	}
	return a.render(c, status, "notes_conflict", page{Title: "Notes 冲突 " + ref, Nav: "admin-notes", Error: msg,
		Data: fiber.Map{"Ref": ref, "View": v}})
}

func (a *App) notesResolve(c *fiber.Ctx) error {
	ref := c.Params("ref")
	if !notesRefOK(ref) {
		return errStatus(fiber.StatusNotFound, "not_found", "没有这项冲突")
	}
	note := c.FormValue("note")
	if len([]rune(note)) > 500 {
		return a.notesConflictView(c, fiber.StatusUnprocessableEntity, ref, "处理说明最多 500 个字")
	}
	im, err := a.notesImporter()
	if err != nil {
		return err
	}
	err = im.ResolveAs(c.UserContext(), ref, sessionOf(c).User.Subject(), clientIP(c), note)
	if errors.Is(err, store.ErrNotFound) {
		// Already resolved (by a colleague, or with the command): say so instead of a bare 404.
		if _, cerr := im.Compare(c.UserContext(), ref, sessionOf(c).User.Subject(), clientIP(c)); cerr == nil {
			return a.notesConflictView(c, fiber.StatusConflict, ref, "这项冲突已经处理过了，无需再次处理。")
		}
		return errStatus(fiber.StatusNotFound, "not_found", "没有这项冲突")
	}
	if err != nil {
		return err
	}
	return c.Redirect("/admin/notes/conflicts?flash=resolved", fiber.StatusSeeOther)
}
