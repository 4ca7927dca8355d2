package webapp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/attachment"
)

// Documents (issue 11): an attachment's page with its extraction state, versions and preview;
// page images of PDFs and scans (rendered in a child process with limits, cached by content
// hash); thumbnails in lists; new versions; and the JSON API for programs.
//
// Page images are served inline as image/png under a CSP that allows nothing: the PNG is made
// by our renderer, never the uploaded bytes. Office and text previews are the extraction's
// HTML, sanitized with bluemonday when stored, shown inside the document page.

// documentRoutes registers the pages (on f) and JSON API routes (on api, under /api/v1) for attachment versions, text extraction and previews (issue 11).
func (a *App) documentRoutes(f *fiber.App, api fiber.Router) {
	f.Get("/documents/:id<int>", requireLogin, a.documentPage)
	f.Get("/attachments/:id<int>/pages/:page<int>", requireLogin, a.documentPageImage)
	f.Get("/attachments/:id<int>/thumbnail", requireLogin, a.documentThumbnail)
	f.Get("/attachments/:id<int>/versions/:version<int>", requireLogin, a.documentVersionDownload)
	f.Post("/attachments/:id<int>/versions", requireLogin, a.documentVersionUpload)
	f.Post("/attachments/:id<int>/extraction/retry", requireLogin, a.documentRetry)

	api.Get("/attachments/:id<int>/document", requireLogin, a.apiDocument)
	api.Get("/attachments/:id<int>/versions", requireLogin, a.apiDocumentVersions)
	api.Post("/attachments/:id<int>/versions", requireLogin, a.apiDocumentVersionUpload)
	api.Get("/attachments/:id<int>/versions/:version<int>", requireLogin, a.documentVersionDownload)
	api.Get("/attachments/:id<int>/pages/:page<int>", requireLogin, a.documentPageImage)
}

// documentView is the data of the document page.
type documentView struct {
	attachment.Attachment
	Extraction attachment.Extraction
	StateName  string
	Versions   []attachment.Version
	Pages      []int // page numbers with images (PDFs and scans)
	CanWrite   bool  // may upload a new version and retry the extraction
	Accept     string
	MaxSize    string
	Errors     map[string]string
}

func (a *App) documentView(c *fiber.Ctx, id int64) (documentView, error) {
	svc, err := a.attachments()
	if err != nil {
		return documentView{}, err
	}
	sub := sessionOf(c).User.Subject()
	at, x, err := svc.Extraction(c.UserContext(), sub, id)
	if err != nil {
		return documentView{}, err
	}
	vs, err := svc.Versions(c.UserContext(), sub, id)
	if err != nil {
		return documentView{}, err
	}
	v := documentView{Attachment: at, Extraction: x, StateName: attachment.StateName(x.State), Versions: vs,
		Accept: attachment.AcceptList(), MaxSize: attachment.HumanSize(svc.MaxDocumentBytes())}
	if k, ok := attachment.KindOf(at.ContentType); ok && k.Pages {
		n := max(1, min(x.Pages, attachment.MaxPreviewPages))
		for p := 1; p <= n; p++ {
			v.Pages = append(v.Pages, p)
		}
	}
	s, err := a.opts.Submissions.Get(c.UserContext(), sub, at.SubmissionID, clientIP(c))
	if err != nil {
		return documentView{}, err
	}
	v.CanWrite = attachment.MayAttach(sub, s.UnitCode)
	return v, nil
}

func (a *App) documentPage(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	v, err := a.documentView(c, id)
	if err != nil {
		return err
	}
	flash := ""
	switch c.Query("flash") {
	case "version":
		flash = "新版本已上传，正在提取文字。"
	case "retry":
		flash = "已重新排队提取文字。"
	}
	return a.render(c, fiber.StatusOK, "document", page{Title: v.Filename, Nav: "submissions", Flash: flash, Data: v})
}

// documentPageImage serves one page of a PDF or scan as a PNG: ?w=thumb for list thumbnails,
// otherwise the page width.
func (a *App) documentPageImage(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	pageNo, err := strconv.Atoi(c.Params("page"))
	if err != nil {
		return errStatus(fiber.StatusNotFound, "not_found", "没有这一页")
	}
	width := attachment.PageWidth
	if c.Query("w") == "thumb" {
		width = attachment.ThumbWidth
	}
	return a.servePageImage(c, id, pageNo, width)
}

func (a *App) documentThumbnail(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	return a.servePageImage(c, id, 1, attachment.ThumbWidth)
}

func (a *App) servePageImage(c *fiber.Ctx, id int64, pageNo, width int) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	_, png, err := svc.PageImage(c.UserContext(), sessionOf(c).User.Subject(), id, pageNo, width, clientIP(c))
	if err != nil {
		return err
	}
	fileHeaders(c, "image/png", cspAttachment)
	return c.Send(png)
}

func (a *App) documentVersionDownload(c *fiber.Ctx) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	id, err := paramID(c)
	if err != nil {
		return err
	}
	version, err := strconv.ParseInt(c.Params("version"), 10, 64)
	if err != nil {
		return errStatus(fiber.StatusNotFound, "not_found", "没有这个版本")
	}
	_, v, f, err := svc.OpenVersion(c.UserContext(), sessionOf(c).User.Subject(), id, version, clientIP(c))
	if err != nil {
		return err
	}
	name := v.Filename
	if k, ok := attachment.KindOf(v.ContentType); ok {
		name = attachment.Attachment{Filename: v.Filename, ContentType: k.MIME}.DownloadName()
	}
	fileHeaders(c, v.ContentType, cspAttachment)
	c.Set(fiber.HeaderContentDisposition, attachment.ContentDisposition("attachment", name))
	return c.SendStream(f, int(v.Size))
}

// newVersion reads the multipart upload (field file) and stores it as a new version.
func (a *App) newVersion(c *fiber.Ctx) (attachment.Attachment, int64, error) {
	svc, err := a.attachments()
	if err != nil {
		return attachment.Attachment{}, 0, err
	}
	id, err := paramID(c)
	if err != nil {
		return attachment.Attachment{}, 0, err
	}
	sub := sessionOf(c).User.Subject()
	cur, err := svc.Get(c.UserContext(), sub, id)
	if err != nil {
		return attachment.Attachment{}, id, err
	}
	// Refuse a reader who may not write before reading the body.
	if err := svc.CheckUpload(c.UserContext(), sub, cur.SubmissionID); err != nil {
		return attachment.Attachment{}, id, err
	}
	in, err := a.readUpload(c, svc)
	if err != nil {
		return attachment.Attachment{}, id, attachmentErr(err)
	}
	at, err := svc.NewVersion(c.UserContext(), sub, id, in.Filename, in.File, clientIP(c))
	return at, id, attachmentErr(err)
}

func (a *App) documentVersionUpload(c *fiber.Ctx) error {
	_, id, err := a.newVersion(c)
	if err == nil {
		return c.Redirect("/documents/"+strconv.FormatInt(id, 10)+"?flash=version", fiber.StatusSeeOther)
	}
	he := classify(err)
	switch he.status {
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		return err
	}
	v, verr := a.documentView(c, id)
	if verr != nil {
		return verr
	}
	v.Errors = he.fields
	return a.render(c, he.status, "document", page{Title: v.Filename, Nav: "submissions", Error: "新版本未上传：" + he.message, Data: v})
}

func (a *App) documentRetry(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	v, err := a.documentView(c, id)
	if err != nil {
		return err
	}
	if !v.CanWrite {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有报送单位可以重新提取")
	}
	if err := a.opts.Attachments.Requeue(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c)); err != nil {
		return err
	}
	return c.Redirect("/documents/"+strconv.FormatInt(id, 10)+"?flash=retry", fiber.StatusSeeOther)
}

func versionJSON(id int64, v attachment.Version) fiber.Map {
	return fiber.Map{"version": v.Version, "filename": v.Filename, "content_type": v.ContentType, "size": v.Size, "sha256": v.SHA256,
		"uploader": v.UploaderName, "created_at": v.CreatedAt.UTC().Format(time.RFC3339), "current": v.Current,
		"extraction":   fiber.Map{"state": v.ExtractState, "reason": v.ExtractReason},
		"download_url": "/api/v1/attachments/" + strconv.FormatInt(id, 10) + "/versions/" + strconv.FormatInt(v.Version, 10)}
}

func (a *App) apiDocument(c *fiber.Ctx) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	id, err := paramID(c)
	if err != nil {
		return err
	}
	at, x, err := svc.Extraction(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	m := attachmentJSON(at)
	m["extraction"] = fiber.Map{"state": x.State, "reason": x.Reason, "method": x.Method, "encoding": x.Encoding, "pages": x.Pages,
		"ocr_pages": x.OCRPages, "truncated": x.Truncated, "duration_ms": x.Duration.Milliseconds()}
	m["text"] = x.Text
	return c.JSON(m)
}

func (a *App) apiDocumentVersions(c *fiber.Ctx) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	id, err := paramID(c)
	if err != nil {
		return err
	}
	vs, err := svc.Versions(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(vs))
	for _, v := range vs {
		items = append(items, versionJSON(id, v))
	}
	return c.JSON(fiber.Map{"items": items})
}

func (a *App) apiDocumentVersionUpload(c *fiber.Ctx) error {
	at, _, err := a.newVersion(c)
	if err != nil {
		return err
	}
	c.Location("/api/v1/attachments/" + strconv.FormatInt(at.ID, 10) + "/versions/" + strconv.FormatInt(at.Version, 10))
	return c.Status(fiber.StatusCreated).JSON(attachmentJSON(at))
}
