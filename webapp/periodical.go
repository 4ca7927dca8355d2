package webapp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/label"
	"infowork/periodical"
	"infowork/render"
	"infowork/savedsearch"
	"infowork/search"
)

// The periodical service of each App, built on first use from the App's options (the App's
// struct belongs to app.go; this keeps issue 6 to its own files).
var (
	periodicalMu  sync.Mutex
	periodicalSvc = map[*App]*periodical.Service{}
)

func (a *App) periodicals() *periodical.Service {
	periodicalMu.Lock()
	defer periodicalMu.Unlock()
	s, ok := periodicalSvc[a]
	if !ok {
		s = periodical.New(a.opts.DB, periodical.Options{Logger: a.opts.Logger,
			Printer: render.NewPrinter(render.PDFOptions{Registerer: a.opts.Registerer})})
		periodicalSvc[a] = s
	}
	return s
}

// periodicalError maps the domain's errors to statuses and zh-CN messages.
func periodicalError(err error) error {
	var ve *periodical.ValidationError
	var re *periodical.RefusedError
	var se *periodical.StateError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: http.StatusUnprocessableEntity, code: "validation_failed", message: ve.Error(), fields: ve.Fields}
	case errors.As(err, &re):
		return &httpError{status: http.StatusUnprocessableEntity, code: "item_refused", message: "不能编入：" + re.Error()}
	case errors.As(err, &se):
		return &httpError{status: http.StatusConflict, code: "state_conflict", message: se.Reason}
	case errors.Is(err, periodical.ErrForbidden):
		return &httpError{status: http.StatusForbidden, code: "forbidden", message: "当前账户无权执行此操作"}
	case errors.Is(err, render.ErrNoBrowser):
		return &httpError{status: http.StatusServiceUnavailable, code: "render_unavailable",
			message: "PDF 排版服务不可用（服务器未安装 Chromium），本期未签发；请联系系统管理员"}
	case errors.Is(err, periodical.ErrNotFound):
		return &httpError{status: http.StatusNotFound, code: "not_found", message: "记录不存在或无权查看"}
	}
	return err
}

var periodicalFlashes = map[string]string{
	"created":     "本期已创建，期号已预留。",
	"added":       "已编入本期。",
	"ordered":     "顺序已保存。",
	"note":        "编者按已保存。",
	"removed":     "条目已移出本期（保留记录）。",
	"signed":      "已签发：定稿快照与 PDF、DOCX 已生成并保存。",
	"correcting":  "已提出更正：本期可再次编辑，重新签发后形成新版本。",
	"distributed": "分送已登记。",
	"archived":    "本期已归档。",
	"endorsed":    "批示已登记，督办事项已分派给责任单位。",
	"basket":      "已加入组刊篮。",
	"feedback":    "反馈已提交。",
	"reviewed":    "已审核办结。",
	"periodical":  "刊物已创建。",
	"updated":     "刊物定义已保存，修改已记入审计日志。",
	"seeded":      "已按检索结果编入本期。",
	"voided":      "本期已作废，期号保留不再使用。",
}

func flashOf(c *fiber.Ctx) string { return periodicalFlashes[c.Query("flash")] }

func idParam(c *fiber.Ctx, name string) int64 {
	n, _ := strconv.ParseInt(c.Params(name), 10, 64)
	return n
}

type periodicalListData struct {
	Periodicals []periodical.Periodical
	Issues      []periodical.IssueSummary
	CanManage   bool
	Today       string
	Levels      []string
	Frequencies []string
}

func (a *App) periodicalList(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	svc := a.periodicals()
	ps, err := svc.Periodicals(c.UserContext(), sub)
	if err != nil {
		return periodicalError(err)
	}
	is, err := svc.Issues(c.UserContext(), sub, 0, 50)
	if err != nil {
		return periodicalError(err)
	}
	d := periodicalListData{Periodicals: ps, Issues: is, CanManage: sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner),
		Today: time.Now().In(search.Location).Format("2006-01-02"), Levels: periodical.Levels, Frequencies: periodical.Frequencies}
	return a.render(c, fiber.StatusOK, "periodicals", page{Title: "刊物编辑", Nav: "periodicals", Flash: flashOf(c), Data: d})
}

func (a *App) periodicalCreate(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	cl, err := label.Parse(cmpOr(c.FormValue("classification"), "internal"))
	if err != nil {
		return errStatus(http.StatusUnprocessableEntity, "validation_failed", "密级无效")
	}
	in := periodical.PeriodicalInput{Code: c.FormValue("code"), Name: c.FormValue("name"), Kind: c.FormValue("kind"),
		ParentCode: c.FormValue("parent"), Level: c.FormValue("level"), Frequency: c.FormValue("frequency"),
		Sections: periodical.SplitList(c.FormValue("sections")), Distribution: periodical.SplitList(c.FormValue("distribution")),
		Classification: cl, MastheadOrg: c.FormValue("masthead_org"), FooterNote: c.FormValue("footer_note"), SignerUsername: c.FormValue("signer")}
	if _, err := a.periodicals().CreatePeriodical(c.UserContext(), sub, in, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	return c.Redirect("/periodicals?flash=periodical", fiber.StatusSeeOther)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (a *App) issueCreate(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	var in periodical.IssueInput
	if d := c.FormValue("date"); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, search.Location)
		if err != nil {
			return errStatus(http.StatusUnprocessableEntity, "validation_failed", "日期格式应为 YYYY-MM-DD")
		}
		in.Date = t
	}
	in.Title = c.FormValue("title")
	is, err := a.periodicals().CreateIssue(c.UserContext(), sub, idParam(c, "id"), in, a.clientIPOf(c))
	if err != nil {
		return periodicalError(err)
	}
	return c.Redirect(fmt.Sprintf("/issues/%d?flash=created", is.ID), fiber.StatusSeeOther)
}

type sectionView struct {
	Name  string
	Items []periodical.Item
}

type issueData struct {
	Issue        periodical.Issue
	Sections     []sectionView
	Basket       []periodical.BasketEntry
	Endorsements []periodical.Endorsement
	CanManage    bool
	CanSign      bool
	Today        string
	LeaderLevels []string
	Channels     []string
	Units        []unitOption
	// SavedSearches (issue 7) can seed the issue.
	SavedSearches []savedsearch.SavedSearch
}

type unitOption struct{ Code, Name string }

func (a *App) issueView(c *fiber.Ctx, status int, id int64, msg string) error {
	sub := sessionOf(c).User.Subject()
	svc := a.periodicals()
	is, err := svc.Issue(c.UserContext(), sub, id)
	if err != nil {
		return periodicalError(err)
	}
	d := issueData{Issue: is, CanManage: sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner), CanSign: sub.Has(access.RoleSigner),
		Today: time.Now().In(search.Location).Format("2006-01-02"), LeaderLevels: periodical.LeaderLevels, Channels: periodical.Channels}
	for _, s := range is.Sections() {
		d.Sections = append(d.Sections, sectionView{Name: s, Items: is.ItemsIn(s)})
	}
	if d.CanManage {
		if d.Basket, err = svc.Basket(c.UserContext(), sub); err != nil {
			return err
		}
		n, err := a.lookups(c.UserContext())
		if err != nil {
			return err
		}
		for code, u := range n.units {
			d.Units = append(d.Units, unitOption{Code: code, Name: u.Name})
		}
		slices.SortFunc(d.Units, func(x, y unitOption) int { return strings.Compare(x.Code, y.Code) })
		if d.SavedSearches, err = savedsearch.New(a.opts.DB).List(c.UserContext(), sub.UserID); err != nil {
			a.log.Warn("saved searches for the seed form", "err", err)
		}
	}
	if d.Endorsements, err = svc.Endorsements(c.UserContext(), sub, id); err != nil {
		return err
	}
	flash := ""
	if msg == "" {
		flash = flashOf(c)
	}
	title := fmt.Sprintf("《%s》%s", is.Periodical.Name, is.NumberText())
	return a.render(c, status, "periodical_issue", page{Title: title, Nav: "periodicals", Flash: flash, Error: msg, Data: d})
}

func (a *App) issueShow(c *fiber.Ctx) error {
	return a.issueView(c, fiber.StatusOK, idParam(c, "id"), "")
}

// after answers a form POST on an issue: back to the issue page with a flash, or the page
// again with the reason and the right status.
func (a *App) after(c *fiber.Ctx, id int64, err error, flash string) error {
	if err != nil {
		he, ok := periodicalError(err).(*httpError)
		if !ok || he.status == http.StatusNotFound || he.status == http.StatusForbidden {
			return periodicalError(err)
		}
		if wantsJSON(c) {
			return c.Status(he.status).JSON(apiError{Error: apiErrorBody{Code: he.code, Message: he.message, Fields: he.fields}})
		}
		return a.issueView(c, he.status, id, he.message)
	}
	if wantsJSON(c) {
		return c.JSON(fiber.Map{"ok": true})
	}
	return c.Redirect(fmt.Sprintf("/issues/%d?flash=%s", id, flash), fiber.StatusSeeOther)
}

func wantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
}

func formRefs(c *fiber.Ctx) ([]periodical.Ref, error) {
	var refs []periodical.Ref
	for _, v := range c.Context().PostArgs().PeekMulti("ref") {
		r, err := periodical.ParseRef(string(v))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	if form, err := c.MultipartForm(); err == nil {
		for _, v := range form.Value["ref"] {
			r, err := periodical.ParseRef(v)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	return refs, nil
}

func (a *App) issueAddItems(c *fiber.Ctx) error {
	id := idParam(c, "id")
	refs, err := formRefs(c)
	if err == nil {
		_, err = a.periodicals().AddItems(c.UserContext(), sessionOf(c).User.Subject(), id, refs, c.FormValue("section"), a.clientIPOf(c))
	}
	return a.after(c, id, err, "added")
}

// issueSeed compiles the top hits of a search (a query string as the search page takes it, or
// a saved search's URL query) into a section.
func (a *App) issueSeed(c *fiber.Ctx) error {
	id := idParam(c, "id")
	sub := sessionOf(c).User.Subject()
	raw := strings.TrimSpace(c.FormValue("query"))
	if sid, _ := strconv.ParseInt(c.FormValue("saved"), 10, 64); sid > 0 {
		ss, err := savedsearch.New(a.opts.DB).Get(c.UserContext(), sub.UserID, sid)
		if err != nil {
			return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"saved": "保存的检索不存在或无权使用"}}, "")
		}
		raw = ss.Query
	}
	if raw == "" {
		return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"query": "请填写检索词，或选择一个保存的检索"}}, "")
	}
	raw = strings.TrimPrefix(raw, "/search?")
	if i := strings.Index(raw, "/search?"); i >= 0 {
		raw = raw[i+len("/search?"):]
	}
	vals, err := url.ParseQuery(raw)
	if err != nil || !strings.Contains(raw, "=") {
		vals = url.Values{"q": {raw}}
	}
	limit, _ := strconv.Atoi(c.FormValue("limit", "10"))
	limit = min(max(limit, 1), 50)
	// The search page's own parser (savedsearch.ParseValues): the section holds the hits the
	// search page lists for the same URL, with every filter (state, archived, endorsed …).
	sp, err := savedsearch.ParseValues(vals)
	if err != nil {
		return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"query": err.Error()}}, "")
	}
	q := sp.Query()
	q.Page, q.Size, q.Scope = 1, limit, access.Scope(sub)
	res, err := a.opts.Engine.Search(c.UserContext(), q)
	if err != nil {
		if errors.Is(err, search.ErrBadQuery) {
			return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"query": badQueryMessage(err)}}, "")
		}
		return err
	}
	if len(res.Hits) == 0 {
		return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"query": "该检索没有结果，未编入任何条目"}}, "")
	}
	refs := make([]periodical.Ref, 0, len(res.Hits))
	for _, h := range res.Hits {
		if r, err := periodical.ParseRef(h.ID); err == nil {
			refs = append(refs, r)
		}
	}
	_, err = a.periodicals().AddItems(c.UserContext(), sub, id, refs, c.FormValue("section"), a.clientIPOf(c))
	return a.after(c, id, err, "seeded")
}

// issueOrder takes the whole order from the drag-and-drop list: place=ITEM|SECTION, repeated.
func (a *App) issueOrder(c *fiber.Ctx) error {
	id := idParam(c, "id")
	var places []periodical.Place
	for _, v := range c.Context().PostArgs().PeekMulti("place") {
		item, section, _ := strings.Cut(string(v), "|")
		n, err := strconv.ParseInt(item, 10, 64)
		if err != nil {
			return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"order": "顺序数据无效"}}, "")
		}
		places = append(places, periodical.Place{ItemID: n, Section: section})
	}
	err := a.periodicals().Reorder(c.UserContext(), sessionOf(c).User.Subject(), id, places)
	return a.after(c, id, err, "ordered")
}

// issueSections takes the order of sections from the drag-and-drop list: section=NAME, repeated.
func (a *App) issueSections(c *fiber.Ctx) error {
	id := idParam(c, "id")
	var names []string
	for _, v := range c.Context().PostArgs().PeekMulti("section") {
		names = append(names, string(v))
	}
	err := a.periodicals().OrderSections(c.UserContext(), sessionOf(c).User.Subject(), id, names)
	return a.after(c, id, err, "ordered")
}

func (a *App) issueSectionMove(c *fiber.Ctx) error {
	id := idParam(c, "id")
	delta := 1
	if c.FormValue("dir") == "up" {
		delta = -1
	}
	err := a.periodicals().MoveSection(c.UserContext(), sessionOf(c).User.Subject(), id, c.FormValue("section"), delta)
	return a.after(c, id, err, "ordered")
}

func (a *App) issueMove(c *fiber.Ctx) error {
	id := idParam(c, "id")
	delta := 1
	if c.FormValue("dir") == "up" {
		delta = -1
	}
	err := a.periodicals().Move(c.UserContext(), sessionOf(c).User.Subject(), id, idParam(c, "item"), delta)
	if err == nil && !wantsJSON(c) {
		// Back to the moved item, so keyboard users keep their place.
		return c.Redirect(fmt.Sprintf("/issues/%d?flash=ordered#item-%d", id, idParam(c, "item")), fiber.StatusSeeOther)
	}
	return a.after(c, id, err, "ordered")
}

func (a *App) issueNote(c *fiber.Ctx) error {
	id := idParam(c, "id")
	err := a.periodicals().SetNote(c.UserContext(), sessionOf(c).User.Subject(), id, idParam(c, "item"), c.FormValue("note"))
	return a.after(c, id, err, "note")
}

func (a *App) issueRemove(c *fiber.Ctx) error {
	id := idParam(c, "id")
	err := a.periodicals().RemoveItem(c.UserContext(), sessionOf(c).User.Subject(), id, idParam(c, "item"), a.clientIPOf(c))
	return a.after(c, id, err, "removed")
}

func (a *App) issueSign(c *fiber.Ctx) error {
	id := idParam(c, "id")
	_, err := a.periodicals().Sign(c.UserContext(), sessionOf(c).User.Subject(), id, a.clientIPOf(c))
	return a.after(c, id, err, "signed")
}

func (a *App) issueCorrect(c *fiber.Ctx) error {
	id := idParam(c, "id")
	err := a.periodicals().RequestCorrection(c.UserContext(), sessionOf(c).User.Subject(), id, c.FormValue("reason"), a.clientIPOf(c))
	return a.after(c, id, err, "correcting")
}

func (a *App) issueDistribute(c *fiber.Ctx) error {
	id := idParam(c, "id")
	var recipients []string
	for _, v := range c.Context().PostArgs().PeekMulti("recipient") {
		recipients = append(recipients, string(v))
	}
	recipients = append(recipients, periodical.SplitList(c.FormValue("others"))...)
	_, err := a.periodicals().Distribute(c.UserContext(), sessionOf(c).User.Subject(), id, recipients, c.FormValue("channel"), a.clientIPOf(c))
	return a.after(c, id, err, "distributed")
}

func (a *App) issueVoid(c *fiber.Ctx) error {
	id := idParam(c, "id")
	err := a.periodicals().Void(c.UserContext(), sessionOf(c).User.Subject(), id, c.FormValue("reason"), a.clientIPOf(c))
	return a.after(c, id, err, "voided")
}

func (a *App) issueArchive(c *fiber.Ctx) error {
	id := idParam(c, "id")
	err := a.periodicals().Archive(c.UserContext(), sessionOf(c).User.Subject(), id, a.clientIPOf(c))
	return a.after(c, id, err, "archived")
}

// issuePrint serves the HTML print view: the stored one of a signed revision, else a live
// preview. It is a self-contained document with its own inline style, so this response alone
// allows inline CSS (still no script).
func (a *App) issuePrint(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	id := idParam(c, "id")
	svc := a.periodicals()
	is, err := svc.Issue(c.UserContext(), sub, id)
	if err != nil {
		return periodicalError(err)
	}
	var body []byte
	if len(is.Revisions) > 0 && !is.Editable() {
		rev, _ := strconv.Atoi(c.Query("revision"))
		body, _, _, err = svc.Output(c.UserContext(), sub, id, rev, periodical.FormatHTML, a.clientIPOf(c))
	} else {
		body, err = svc.Preview(c.UserContext(), sub, id)
	}
	if err != nil {
		return periodicalError(err)
	}
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(body)
}

func (a *App) issueOutput(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	id := idParam(c, "id")
	format, ctype := periodical.FormatPDF, "application/pdf"
	if strings.HasSuffix(c.Path(), ".docx") {
		format, ctype = periodical.FormatDOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	}
	rev, _ := strconv.Atoi(c.Query("revision"))
	data, sum, is, err := a.periodicals().Output(c.UserContext(), sub, id, rev, format, a.clientIPOf(c))
	if err != nil {
		return periodicalError(err)
	}
	name := fmt.Sprintf("%s-%d-%03d.%s", is.Periodical.Code, is.Year, is.YearNumber, format)
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set("X-Content-SHA256", sum)
	return c.Send(data)
}

// basketAdd puts the hits selected on the search page into the basket, or compiles them into
// an issue at once when the form names one ("ISSUE|SECTION").
func (a *App) basketAdd(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	refs, err := formRefs(c)
	if err != nil {
		return periodicalError(err)
	}
	if len(refs) == 0 {
		return errStatus(http.StatusUnprocessableEntity, "validation_failed", "请先勾选要加入期刊的检索结果")
	}
	if target := c.FormValue("target"); target != "" {
		issue, section, _ := strings.Cut(target, "|")
		id, err := strconv.ParseInt(issue, 10, 64)
		if err != nil {
			return errStatus(http.StatusUnprocessableEntity, "validation_failed", "目标期次无效")
		}
		_, err = a.periodicals().AddItems(c.UserContext(), sub, id, refs, section, a.clientIPOf(c))
		return a.after(c, id, err, "added")
	}
	if _, err := a.periodicals().BasketAdd(c.UserContext(), sub, refs); err != nil {
		return periodicalError(err)
	}
	back := c.FormValue("back")
	if !strings.HasPrefix(back, "/search") {
		back = "/search"
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(back+sep+"basket=added", fiber.StatusSeeOther)
}

func (a *App) basketRemove(c *fiber.Ctx) error {
	refs, err := formRefs(c)
	if err != nil {
		return periodicalError(err)
	}
	if err := a.periodicals().BasketRemove(c.UserContext(), sessionOf(c).User.Subject(), refs); err != nil {
		return err
	}
	if id, _ := strconv.ParseInt(c.FormValue("issue"), 10, 64); id > 0 {
		return c.Redirect(fmt.Sprintf("/issues/%d", id), fiber.StatusSeeOther)
	}
	return c.Redirect("/periodicals", fiber.StatusSeeOther)
}

func (a *App) endorsementCreate(c *fiber.Ctx) error {
	id := idParam(c, "id")
	sub := sessionOf(c).User.Subject()
	in := periodical.EndorsementInput{IssueItemID: idParam(c, "item"), Leader: c.FormValue("leader"), Level: c.FormValue("level"),
		Text: c.FormValue("text"), ExtraUnits: nil}
	if form, err := c.MultipartForm(); err == nil {
		in.ExtraUnits = form.Value["unit"]
	} else {
		for _, v := range c.Context().PostArgs().PeekMulti("unit") {
			in.ExtraUnits = append(in.ExtraUnits, string(v))
		}
	}
	var perr error
	if in.Date, perr = time.Parse("2006-01-02", c.FormValue("date")); perr != nil {
		in.Date = time.Time{}
	}
	if d := c.FormValue("deadline"); d != "" {
		if in.Deadline, perr = time.Parse("2006-01-02", d); perr != nil {
			return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"deadline": "反馈期限格式应为 YYYY-MM-DD"}}, "")
		}
	}
	if fh, err := c.FormFile("scan"); err == nil && fh.Size > 0 {
		if fh.Size > periodical.MaxScanBytes {
			return a.after(c, id, &periodical.ValidationError{Fields: map[string]string{"scan": "批示件扫描最大 10 MiB"}}, "")
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		in.Scan, err = io.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return err
		}
		in.ScanName, in.ScanType = fh.Filename, fh.Header.Get("Content-Type")
	}
	_, err := a.periodicals().Endorse(c.UserContext(), sub, in, a.clientIPOf(c))
	return a.after(c, id, err, "endorsed")
}

type endorsementListData struct {
	Endorsements []periodical.Endorsement
	CanManage    bool
	UnitCode     string
	Now          time.Time
}

func (a *App) endorsementList(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	list, err := a.periodicals().Endorsements(c.UserContext(), sub, 0)
	if err != nil {
		return periodicalError(err)
	}
	return a.render(c, fiber.StatusOK, "endorsements", page{Title: "领导批示督办", Nav: "endorsements", Flash: flashOf(c),
		Data: endorsementListData{Endorsements: list, CanManage: sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner), UnitCode: sub.UnitCode, Now: time.Now()}})
}

func (a *App) endorsementScan(c *fiber.Ctx) error {
	name, ctype, data, err := a.periodicals().EndorsementScan(c.UserContext(), sessionOf(c).User.Subject(), idParam(c, "id"))
	if err != nil {
		return periodicalError(err)
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+url.PathEscape(name)+`"`)
	return c.Send(data)
}

func (a *App) taskAfter(c *fiber.Ctx, err error, flash string) error {
	if err != nil {
		return periodicalError(err)
	}
	return c.Redirect("/endorsements?flash="+flash, fiber.StatusSeeOther)
}

func (a *App) taskFeedback(c *fiber.Ctx) error {
	err := a.periodicals().Feedback(c.UserContext(), sessionOf(c).User.Subject(), idParam(c, "id"), c.FormValue("feedback"), a.clientIPOf(c))
	return a.taskAfter(c, err, "feedback")
}

func (a *App) taskReview(c *fiber.Ctx) error {
	err := a.periodicals().Review(c.UserContext(), sessionOf(c).User.Subject(), idParam(c, "id"), c.FormValue("review"), a.clientIPOf(c))
	return a.taskAfter(c, err, "reviewed")
}

// searchCompile adds what the search page needs for compiling: for editors and signers the
// basket size and the draft issues to compile into; for every hit the issues it appears in.
func (a *App) searchCompile(c *fiber.Ctx, data fiber.Map, hits []fiber.Map) {
	sub := sessionOf(c).User.Subject()
	svc := a.periodicals()
	refs := make([]periodical.Ref, 0, len(hits))
	for _, h := range hits {
		if hit, ok := h["Hit"].(search.Hit); ok {
			if r, err := periodical.ParseRef(hit.ID); err == nil {
				refs = append(refs, r)
				h["Ref"] = r.String()
			}
		}
	}
	if sub.AllUnits() {
		if pl, err := svc.Placements(c.UserContext(), refs, int(sub.Clearance)); err == nil {
			for _, h := range hits {
				if r, err := periodical.ParseRef(fmt.Sprint(h["Ref"])); err == nil {
					h["Placements"] = pl[r]
				}
			}
		} else {
			a.log.Warn("periodical placements", "err", err)
		}
	}
	if !(sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner)) {
		return
	}
	data["CanCompile"] = true
	if b, err := svc.Basket(c.UserContext(), sub); err == nil {
		data["BasketCount"] = len(b)
	}
	if c.Query("basket") == "added" {
		data["BasketAdded"] = true
	}
	type target struct{ Value, Label string }
	var targets []target
	periodicalsByID := map[int64]periodical.Periodical{}
	if list, err := svc.Issues(c.UserContext(), sub, 0, 20); err == nil {
		for _, is := range list {
			if is.State != "draft" && is.State != "correcting" {
				continue
			}
			per, ok := periodicalsByID[is.PeriodicalID]
			if !ok {
				if per, err = svc.Periodical(c.UserContext(), is.PeriodicalID); err != nil {
					continue
				}
				periodicalsByID[is.PeriodicalID] = per
			}
			secs := per.Sections
			if len(secs) == 0 {
				secs = []string{""}
			}
			for _, s := range secs {
				l := fmt.Sprintf("《%s》%d年第%d期", is.PeriodicalName, is.Year, is.YearNumber)
				if s != "" {
					l += " · " + s
				}
				targets = append(targets, target{Value: fmt.Sprintf("%d|%s", is.ID, s), Label: l})
			}
		}
	}
	data["CompileTargets"] = targets
	data["Back"] = c.OriginalURL()
}

// API.

func (a *App) apiPeriodicals(c *fiber.Ctx) error {
	ps, err := a.periodicals().Periodicals(c.UserContext(), sessionOf(c).User.Subject())
	if err != nil {
		return periodicalError(err)
	}
	out := make([]fiber.Map, 0, len(ps))
	for _, p := range ps {
		out = append(out, fiber.Map{"id": p.ID, "code": p.Code, "name": p.Name, "kind": p.Kind, "level": p.Level,
			"sections": p.Sections, "frequency": p.Frequency, "classification": p.Classification.String(), "distribution": p.Distribution})
	}
	return c.JSON(fiber.Map{"periodicals": out})
}

func (a *App) apiIssue(c *fiber.Ctx) error {
	is, err := a.periodicals().Issue(c.UserContext(), sessionOf(c).User.Subject(), idParam(c, "id"))
	if err != nil {
		return periodicalError(err)
	}
	return c.JSON(issueJSON(is))
}

// issueJSON is the Issue schema of docs/openapi.yaml.
func issueJSON(is periodical.Issue) fiber.Map {
	items := make([]fiber.Map, 0, len(is.Items))
	for _, it := range is.Items {
		m := fiber.Map{"id": it.ID, "ref": it.Ref.String(), "section": it.Section, "position": it.Position, "editor_note": it.EditorNote}
		if it.Visible {
			m["title"] = it.Title
		}
		items = append(items, m)
	}
	revs := make([]fiber.Map, 0, len(is.Revisions))
	for _, r := range is.Revisions {
		revs = append(revs, fiber.Map{"revision": r.Revision, "reason": r.Reason, "content_hash": r.ContentHash, "signed_by": r.SignedBy,
			"signed_at": r.SignedAt, "pdf_sha256": r.PDFSHA256, "docx_sha256": r.DOCXSHA256})
	}
	return fiber.Map{"id": is.ID, "periodical": is.Periodical.Name, "year": is.Year, "year_number": is.YearNumber,
		"total_number": is.TotalNumber, "date": is.Date.Format("2006-01-02"), "state": is.State, "revision": is.Revision,
		"classification": is.Classification.String(), "items": items, "revisions": revs}
}
