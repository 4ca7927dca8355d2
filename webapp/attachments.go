package webapp

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/attachment"
	"infowork/dedup"
	"infowork/draft"
	"infowork/submission"
)

// Attachments (附件), package attachment. Uploads are multipart/form-data with the fields file and
// caption (and _csrf for the page form). The request is capped by Fiber's BodyLimit before it is
// read (New raises BodyLimit above the attachment limit with headroom); the file part is then
// streamed through io.LimitReader(limit+1) into a hashing temporary file, and everything else —
// type from content, extension, structure, caption, access — is checked before anything is
// stored.
//
// Documents (PDF, Office, text) have their own page, versions, text extraction and page
// previews: routes_documents.go.
//
// Downloads (/attachments/{id}, /api/v1/attachments/{id}) are always served as attachments:
// Content-Type from detection, Content-Disposition: attachment with the RFC 5987 name, nosniff,
// Cache-Control: private, no-store and a CSP that allows nothing. Images also have
// /attachments/{id}/preview, served inline under CSP default-src 'none'; img-src 'self'; sandbox,
// which the submission page uses for thumbnails. Every download and preview is audited.

// attachmentHeadroom is what BodyLimit allows beyond the attachment limit: multipart framing,
// the caption and the CSRF token.
const attachmentHeadroom = 256 << 10

// uploadMaxParts bounds the number of multipart parts read.
const uploadMaxParts = 8

const (
	cspAttachment = "default-src 'none'; sandbox"
	cspPreview    = "default-src 'none'; img-src 'self'; sandbox"
)

func (a *App) attachments() (*attachment.Service, error) {
	if a.opts.Attachments == nil {
		return nil, errStatus(fiber.StatusServiceUnavailable, "attachments_unavailable", "附件存储未配置")
	}
	return a.opts.Attachments, nil
}

// attachmentErr turns the refusals of package attachment into HTTP errors with their reasons.
func attachmentErr(err error) error {
	var ve *attachment.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return &httpError{status: http.StatusUnprocessableEntity, code: "validation_failed", message: ve.Error(), fields: ve.Fields}
	case errors.Is(err, attachment.ErrTooLarge):
		return &httpError{status: http.StatusRequestEntityTooLarge, code: "payload_too_large", message: attachment.Reason(err)}
	case errors.Is(err, attachment.ErrUnsupported):
		return &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: attachment.Reason(err),
			fields: map[string]string{"file": attachment.Reason(err)}}
	case errors.Is(err, attachment.ErrMalformed):
		return &httpError{status: http.StatusUnprocessableEntity, code: "malformed_file", message: attachment.Reason(err),
			fields: map[string]string{"file": attachment.Reason(err)}}
	}
	return err
}

// readUpload parses the multipart body, staging the file part as it streams. The caller
// discards in.File (Create does).
func (a *App) readUpload(c *fiber.Ctx, svc *attachment.Service) (attachment.NewAttachment, error) {
	var in attachment.NewAttachment
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return in, errStatus(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "上传请求必须是 multipart/form-data（字段 file 和 caption）")
	}
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && enc != "identity" {
		// Never inflate a compressed body: the size limit is on what is stored.
		return in, errStatus(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "上传请求不能压缩（Content-Encoding）")
	}
	// The raw body, bounded by BodyLimit; c.Body() would decompress.
	mr := multipart.NewReader(bytes.NewReader(c.Request().Body()), params["boundary"])
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || n >= uploadMaxParts {
			in.File.Discard()
			return attachment.NewAttachment{}, errStatus(fiber.StatusBadRequest, "bad_request", "上传请求格式有误")
		}
		switch p.FormName() {
		case "file":
			if in.File != nil {
				in.File.Discard()
				return attachment.NewAttachment{}, &httpError{status: http.StatusUnprocessableEntity, code: "validation_failed",
					message: "一次只能上传一个文件", fields: map[string]string{"file": "一次只能上传一个文件"}}
			}
			// The raw file name (multipart's FileName would apply filepath.Base); SafeName
			// cleans it, and it is only ever displayed.
			_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			in.Filename = dp["filename"]
			st, err := svc.Stage(p)
			if err != nil {
				return attachment.NewAttachment{}, err
			}
			in.File = st
		case "caption":
			b, err := io.ReadAll(io.LimitReader(p, 4096))
			if err != nil {
				in.File.Discard()
				return attachment.NewAttachment{}, errStatus(fiber.StatusBadRequest, "bad_request", "上传请求格式有误")
			}
			in.Caption = string(b)
		}
		_ = p.Close()
	}
	return in, nil
}

// upload is the common part of the page and API uploads.
func (a *App) upload(c *fiber.Ctx) (attachment.Attachment, int64, error) {
	svc, err := a.attachments()
	if err != nil {
		return attachment.Attachment{}, 0, err
	}
	id, err := paramID(c)
	if err != nil {
		return attachment.Attachment{}, 0, err
	}
	sub := sessionOf(c).User.Subject()
	// Refuse a stranger before reading the body (404 for a record it may not read, 403 for one
	// it may read but not attach to).
	if err := svc.CheckUpload(c.UserContext(), sub, id); err != nil {
		return attachment.Attachment{}, id, err
	}
	in, err := a.readUpload(c, svc)
	if err != nil {
		return attachment.Attachment{}, id, attachmentErr(err)
	}
	in.SubmissionID = id
	at, err := svc.Create(c.UserContext(), sub, in, clientIP(c))
	return at, id, attachmentErr(err)
}

func attachmentJSON(at attachment.Attachment) fiber.Map {
	id := strconv.FormatInt(at.ID, 10)
	m := fiber.Map{"id": at.ID, "submission_id": at.SubmissionID, "filename": at.Filename, "caption": at.Caption,
		"content_type": at.ContentType, "size": at.Size, "sha256": at.SHA256, "uploader": at.UploaderName,
		"created_at": at.CreatedAt.UTC().Format(time.RFC3339), "version": at.Version,
		"download_url": "/api/v1/attachments/" + id, "document_url": "/api/v1/attachments/" + id + "/document",
		"extraction": fiber.Map{"state": at.ExtractState, "reason": at.ExtractReason, "pages": at.Pages, "method": at.Method}}
	if at.IsImage() {
		m["width"], m["height"] = at.Width, at.Height
	}
	return m
}

func (a *App) apiAttachmentUpload(c *fiber.Ctx) error {
	at, _, err := a.upload(c)
	if err != nil {
		return err
	}
	c.Location("/api/v1/attachments/" + strconv.FormatInt(at.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(attachmentJSON(at))
}

func (a *App) apiAttachmentList(c *fiber.Ctx) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	id, err := paramID(c)
	if err != nil {
		return err
	}
	sub := sessionOf(c).User.Subject()
	// The submission itself decides visibility (and audits reads of classified records).
	if _, err := a.opts.Submissions.Get(c.UserContext(), sub, id, clientIP(c)); err != nil {
		return err
	}
	list, err := svc.List(c.UserContext(), sub, id)
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(list))
	for _, at := range list {
		items = append(items, attachmentJSON(at))
	}
	return c.JSON(fiber.Map{"items": items})
}

// attachmentUpload is the form on the submission page.
func (a *App) attachmentUpload(c *fiber.Ctx) error {
	_, id, err := a.upload(c)
	if err == nil {
		return c.Redirect("/submissions/"+strconv.FormatInt(id, 10)+"?flash=attached#attachments", fiber.StatusSeeOther)
	}
	he := classify(err)
	switch he.status {
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		return err
	}
	sub, gerr := a.opts.Submissions.Get(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c))
	if gerr != nil {
		return gerr
	}
	data, derr := a.submissionPage(c, sub)
	if derr != nil {
		return derr
	}
	data.UploadErrors = he.fields
	data.Caption = attachment.NormalizeCaption(c.FormValue("caption"))
	return a.render(c, he.status, "submission_show", page{Title: sub.Title, Nav: "submissions", Error: "附件未上传：" + he.message, Data: data})
}

// submissionPage is the data of the submission page: the record and its attachments.
type submissionPage struct {
	submission.Submission
	AttachmentsOn bool // the attachment store is configured
	Attachments   []attachment.Attachment
	CanAttach     bool
	Accept        string // accept attribute of the file input
	AllowedTypes  string // "JPG、JPEG、PNG、GIF、PDF"
	MaxSize       string // "1 MB" (images)
	MaxDocSize    string // "20 MB" (documents)
	UploadErrors  map[string]string
	Caption       string     // re-filled after a refused upload
	Flow          *flowPanel // the workflow panel and timeline (workflow_pages.go)
	// The record page's other panels (submissions.go fills them through submissionShowData,
	// whose fields shadow these); a refused upload re-renders the page without them.
	Similar  []dedup.Match
	Credits  []draft.ReportCredit
	CanDraft bool
}

func (a *App) submissionPage(c *fiber.Ctx, sub submission.Submission) (submissionPage, error) {
	p := submissionPage{Submission: sub}
	flow, err := a.flowPanel(c, sub.ID)
	if err != nil {
		return p, err
	}
	p.Flow = flow
	svc := a.opts.Attachments
	if svc == nil {
		return p, nil
	}
	subject := sessionOf(c).User.Subject()
	list, err := svc.List(c.UserContext(), subject, sub.ID)
	if err != nil {
		return p, err
	}
	p.AttachmentsOn, p.Attachments = true, list
	p.CanAttach = attachment.MayAttach(subject, sub.UnitCode)
	p.Accept, p.AllowedTypes, p.MaxSize = attachment.AcceptList(), attachment.AllowedNames(), attachment.HumanSize(svc.MaxBytes())
	p.MaxDocSize = attachment.HumanSize(svc.MaxDocumentBytes())
	return p, nil
}

// serveAttachment sends an attachment's bytes with the download headers; preview serves images
// inline under a CSP that allows nothing but the image itself.
func (a *App) serveAttachment(c *fiber.Ctx, preview bool) error {
	svc, err := a.attachments()
	if err != nil {
		return err
	}
	id, err := paramID(c)
	if err != nil {
		return err
	}
	action, disposition, csp := attachment.ActionDownload, "attachment", cspAttachment
	if preview {
		action, disposition, csp = attachment.ActionPreview, "inline", cspPreview
	}
	at, f, err := svc.Open(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c), action)
	if err != nil {
		return err
	}
	fileHeaders(c, at.ContentType, csp)
	c.Set(fiber.HeaderContentDisposition, attachment.ContentDisposition(disposition, at.DownloadName()))
	return c.SendStream(f, int(at.Size)) // fasthttp closes f when sent
}

func (a *App) attachmentDownload(c *fiber.Ctx) error    { return a.serveAttachment(c, false) }
func (a *App) apiAttachmentDownload(c *fiber.Ctx) error { return a.serveAttachment(c, false) }
func (a *App) attachmentPreview(c *fiber.Ctx) error     { return a.serveAttachment(c, true) }

// attachmentBodyLimit is the BodyLimit New needs for the configured attachment limit.
func attachmentBodyLimit(svc *attachment.Service) int {
	if svc == nil {
		return 0
	}
	return int(svc.MaxDocumentBytes()) + attachmentHeadroom
}

// fileHeaders are the headers of every stored file the app serves (downloads, versions, page
// images): its type, never sniffed, never cached (a classified file must not linger), no active
// content, no use by other origins.
func fileHeaders(c *fiber.Ctx, contentType, csp string) {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
}
