package webapp

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/dedup"
	"infowork/draft"
	"infowork/ha"
	"infowork/label"
	"infowork/solicitation"
	"infowork/submission"
)

// createRetryMax bounds how long a create is retried across a database failover (a promotion
// takes seconds; the request should still end within a proxy's usual timeout).
const createRetryMax = 20 * time.Second

// createSubmission runs Submissions.Create under ha.Retry, so that a create that failed because
// the primary went away (connection lost, node now read-only) is run again on the promoted
// database. A retry is only safe with an idempotency key: after a connection lost during COMMIT
// the first attempt may have committed, and the retry must find that row instead of inserting a
// second one. in.IdempotencyKey is the client's key (the Idempotency-Key header, the form's
// hidden key); when the client sent none, one is generated here for this request, which makes the
// server's own retries safe — a client that wants end-to-end safety (its own retry after a lost
// response) sends its own key. serverKey reports whether the key was generated here.
func (a *App) createSubmission(c *fiber.Ctx, sub access.Subject, in submission.Input) (created submission.Created, serverKey bool, err error) {
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = "srv:" + randomString()
		serverKey = true
	}
	ip := clientIP(c)
	err = ha.Retry(c.UserContext(), func(ctx context.Context) error {
		var err error
		created, err = a.opts.Submissions.Create(ctx, sub, in, ip)
		return err
	}, ha.Options{MaxElapsed: createRetryMax, OnRetry: func(attempt int, err error, class ha.Class) {
		a.log.Warn("submission create retried (database unavailable or failing over)", "attempt", attempt, "class", class.String(), "err", err)
	}})
	if errors.Is(err, ha.ErrOutcomeUnknown) {
		err = errStatus(fiber.StatusServiceUnavailable, "outcome_unknown",
			"数据库切换中，本次报送是否已保存暂不能确定：请稍后查看本单位报送列表，或用相同的 Idempotency-Key 重试（不会重复保存）")
	}
	return created, serverKey, err
}

func (a *App) submissionList(c *fiber.Ctx) error {
	s := sessionOf(c)
	pg, err := a.opts.Submissions.List(c.UserContext(), s.User.Subject(), submission.ListOptions{
		UnitCode: c.Query("unit"), Page: c.QueryInt("page", 1), Size: 20,
	})
	if err != nil {
		return err
	}
	pages := (pg.Total + pg.Size - 1) / pg.Size
	title := "本单位报送信息"
	if s.User.Subject().AllUnits() {
		title = "全部报送信息"
	}
	return a.render(c, fiber.StatusOK, "submissions", page{Title: title, Nav: "submissions", Flash: flash(c),
		Data: fiber.Map{"Page": pg, "Pages": pages, "CanSubmit": s.User.Subject().CanSubmit(), "Unit": c.Query("unit")}})
}

func flash(c *fiber.Ctx) string {
	switch c.Query("flash") {
	case "created":
		return "报送成功。信息已保存，稍后即可在检索中找到。"
	case "attached":
		return "附件已上传。"
	case "draft":
		return "草稿已保存。确认无误后，在下方「流转」中点击「提交审签」送本单位审签。"
	case "transitioned":
		// The new state is shown by the 流转 panel from the database, not taken from the URL
		// (a crafted link must not be able to show a false state).
		return "操作已完成，当前状态见下方「流转」。"
	}
	return ""
}

type formData struct {
	Input      submission.Input
	Categories any
	Errors     map[string]string
	Levels     []label.Level
	Urgencies  []string
	FormKey    string // idempotency key: a double-clicked submit stores one report
	// LabelCategories are the registered label categories the user holds (only those can be
	// put on a report the user could read back).
	LabelCategories []string
	// BodyHTML is the rich-text body shown in the editor (sanitized).
	BodyHTML string
	// Solicitations the unit may answer (约稿 addressed to it, key points).
	Solicitations []solicitation.Solicitation
}

func (a *App) submissionForm(c *fiber.Ctx, status int, in submission.Input, errs map[string]string, msg string) error {
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	s := sessionOf(c)
	var levels []label.Level
	for _, l := range label.Levels {
		if s.User.Clearance.Dominates(l) {
			levels = append(levels, l)
		}
	}
	open, err := a.solicitations().List(c.UserContext(), s.User.Subject())
	if err != nil {
		return err
	}
	var answerable []solicitation.Solicitation
	for _, so := range open {
		if so.Kind == solicitation.KindKeyPoint || len(so.Targets) > 0 { // a unit sees only its own target row
			answerable = append(answerable, so)
		}
	}
	// A plain-text body (a client without the editor) comes back in a plain textarea (the
	// template shows one when Input.Body is set); rich text goes back into the editor.
	body := in.BodyHTML
	return a.render(c, status, "submission_new", page{Title: "报送信息", Nav: "new", Error: msg,
		Data: formData{Input: in, Categories: n.categories, Errors: errs, Levels: levels, Urgencies: submission.Urgencies, FormKey: randomString(),
			LabelCategories: s.User.LabelCategories, BodyHTML: submission.SanitizeHTML(body), Solicitations: answerable}})
}

func (a *App) submissionNew(c *fiber.Ctx) error {
	s := sessionOf(c)
	if !s.User.Subject().CanSubmit() {
		return submission.ErrForbidden
	}
	sol, _ := strconv.ParseInt(c.Query("solicitation"), 10, 64)
	return a.submissionForm(c, fiber.StatusOK, submission.Input{Classification: "public", Urgency: "normal",
		WriterName: s.User.DisplayName, WriterPhone: s.User.Phone, SolicitationID: sol}, nil, "")
}

func (a *App) submissionCreate(c *fiber.Ctx) error {
	s := sessionOf(c)
	in := submission.Input{
		Title: c.FormValue("title"), Body: c.FormValue("body"), BodyHTML: c.FormValue("body_html"), CategoryCode: c.FormValue("category"),
		Urgency: c.FormValue("urgency"), Classification: c.FormValue("classification"),
		WriterName: c.FormValue("writer_name"), WriterPhone: c.FormValue("writer_phone"),
		IdempotencyKey: c.FormValue("idempotency_key"), Source: "web",
		LabelCategories: formValues(c, "label_categories"), Draft: c.FormValue("draft") == "1",
		// The form always sends both writer fields: left empty they are refused. A post without
		// them at all (a script written against the old form) is checked like the API: the
		// phone's format when given, and the workflow's guards before a draft leaves the unit.
		RequireWriter: formHas(c, "writer_name") || formHas(c, "writer_phone"),
	}
	if v := c.FormValue("solicitation"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return errStatus(fiber.StatusBadRequest, "bad_request", "约稿编号无效")
		}
		in.SolicitationID = id
	}
	created, _, err := a.createSubmission(c, s.User.Subject(), in)
	if err != nil {
		he := classify(err)
		if he.status == fiber.StatusUnprocessableEntity {
			return a.submissionForm(c, he.status, in, he.fields, "请修改标出的项目后再提交。")
		}
		return err
	}
	fl := "created"
	if in.Draft {
		fl = "draft"
	}
	return c.Redirect("/submissions/"+strconv.FormatInt(created.ID, 10)+"?flash="+fl, fiber.StatusSeeOther)
}

func (a *App) submissionShow(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	sub, err := a.opts.Submissions.Get(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c))
	if err != nil {
		return err
	}
	data, err := a.submissionPage(c, sub) // the record with its attachments (attachments.go)
	if err != nil {
		return err
	}
	subject := sessionOf(c).User.Subject()
	// Near-duplicate hints (several units reporting the same event) and the credits the report
	// received from adopted drafts (drafts.go).
	similar, err := a.dedup().Similar(c.UserContext(), subject, sub.ID, dedup.Options{})
	if err != nil {
		return err
	}
	credits, err := a.drafts().CreditsOf(c.UserContext(), subject, sub.ID)
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "submission_show", page{Title: sub.Title, Nav: "submissions", Flash: flash(c),
		Data: submissionShowData{submissionPage: data, Similar: similar, Credits: credits,
			CanDraft: subject.Has(access.RoleEditor) && (sub.State == "submitted" || sub.State == "in_review")}})
}

// submissionShowData is the record page's data: the record with attachments and workflow panel
// (embedded, so the template reads .Data.Title as before) and this file's panels.
type submissionShowData struct {
	submissionPage
	Similar  []dedup.Match
	Credits  []draft.ReportCredit
	CanDraft bool // the viewer may make a draft from this report (and its near duplicates)
}

// API.

type submissionBody struct {
	Title           string   `json:"title"`
	Body            string   `json:"body"`
	BodyHTML        string   `json:"body_html"`
	Category        string   `json:"category"`
	LabelCategories []string `json:"label_categories"`
	Urgency         string   `json:"urgency"`
	Classification  string   `json:"classification"`
	WriterName      string   `json:"writer_name"`
	WriterPhone     string   `json:"writer_phone"`
	Draft           bool     `json:"draft"`        // create in the draft state, for unit approval later
	Solicitation    int64    `json:"solicitation"` // the solicitation or key point answered
}

func submissionJSON(s submission.Submission) fiber.Map {
	return fiber.Map{
		"id": s.ID, "version": s.Version, "title": s.Title, "body": s.BodyText, "body_html": s.BodyHTML,
		"unit": s.UnitCode, "unit_name": s.UnitName, "category": s.CategoryCode, "category_name": s.CategoryName,
		"district": s.District, "urgency": s.Urgency, "classification": s.Classification.String(),
		"label_categories": nonNil(s.LabelCategories), "marking": s.Label().Chinese(),
		"state": s.State, "writer_name": s.WriterName, "writer_phone": s.WriterPhone, "author": s.AuthorName,
		"reported_at": s.ReportedAt.UTC().Format(time.RFC3339), "created_at": s.CreatedAt.UTC().Format(time.RFC3339),
		"updated_at": s.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func (a *App) apiSubmissionCreate(c *fiber.Ctx) error {
	var b submissionBody
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	s := sessionOf(c)
	created, serverKey, err := a.createSubmission(c, s.User.Subject(), submission.Input{
		Title: b.Title, Body: b.Body, BodyHTML: b.BodyHTML, CategoryCode: b.Category, Urgency: b.Urgency,
		Classification: b.Classification, WriterName: b.WriterName, WriterPhone: b.WriterPhone,
		IdempotencyKey: c.Get("Idempotency-Key"), Source: "api", LabelCategories: b.LabelCategories, Draft: b.Draft,
		SolicitationID: b.Solicitation,
	})
	if err != nil {
		return err
	}
	var sub submission.Submission
	err = ha.Retry(c.UserContext(), func(ctx context.Context) error { // a read: safe to retry across a failover
		var gerr error
		sub, gerr = a.opts.Submissions.Get(ctx, s.User.Subject(), created.ID, clientIP(c))
		return gerr
	}, ha.Options{MaxElapsed: 15 * time.Second})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if created.Duplicate && !serverKey { // a server-side retry finding its own first attempt is still this request's create
		status = fiber.StatusOK
	}
	c.Location("/api/v1/submissions/" + strconv.FormatInt(created.ID, 10))
	return c.Status(status).JSON(submissionJSON(sub))
}

func (a *App) apiSubmissionGet(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	sub, err := a.opts.Submissions.Get(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c))
	if err != nil {
		return err
	}
	return c.JSON(submissionJSON(sub))
}

func (a *App) apiSubmissionList(c *fiber.Ctx) error {
	size := c.QueryInt("size", 20)
	if size < 1 || size > 100 {
		return errStatus(fiber.StatusBadRequest, "bad_request", "size 必须在 1 到 100 之间")
	}
	page := c.QueryInt("page", 1)
	if page < 1 {
		return errStatus(fiber.StatusBadRequest, "bad_request", "page 必须大于等于 1")
	}
	pg, err := a.opts.Submissions.List(c.UserContext(), sessionOf(c).User.Subject(), submission.ListOptions{UnitCode: c.Query("unit"), Page: page, Size: size})
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(pg.Items))
	for _, s := range pg.Items {
		m := submissionJSON(s)
		delete(m, "body_html")
		items = append(items, m)
	}
	return c.JSON(fiber.Map{"total": pg.Total, "page": pg.Page, "size": pg.Size, "items": items})
}

func (a *App) apiCategories(c *fiber.Ctx) error {
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(n.categories))
	for _, cat := range n.categories {
		out = append(out, fiber.Map{"code": cat.Code, "name": cat.Name, "parent": cat.ParentCode, "level": cat.Level, "path": cat.Path})
	}
	return c.JSON(fiber.Map{"items": out})
}

func (a *App) apiUnits(c *fiber.Ctx) error {
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(n.unitList))
	for _, u := range n.unitList {
		out = append(out, fiber.Map{"code": u.Code, "name": u.Name, "kind": u.Kind, "parent": u.ParentCode, "district": u.District})
	}
	return c.JSON(fiber.Map{"items": out})
}

// formHas reports whether the posted form has the field at all (empty or not).
func formHas(c *fiber.Ctx, key string) bool {
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		_, ok := mf.Value[key]
		return ok
	}
	return c.Context().PostArgs().Has(key)
}

// formValues returns every value of a repeated form field (checkboxes).
func formValues(c *fiber.Ctx, key string) []string {
	var out []string
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		return append(out, mf.Value[key]...)
	}
	for _, v := range c.Context().PostArgs().PeekMulti(key) {
		out = append(out, string(v))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
