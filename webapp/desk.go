package webapp

// The editors' desk (编辑台): queues by workflow state with age badges and overdue flags, and the
// desk actions on a record — soft lock, privileged unlock, assignment, due date, comments with
// @mentions — as pages (forms posting back to the record page) and as JSON API routes. The
// desk's own logic lives in package desk; this file maps it to HTTP.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/dedup"
	"infowork/desk"
	"infowork/search"
)

func init() {
	funcs["ageBadge"] = func(it desk.Item) map[string]string {
		text, level := it.AgeBadge()
		return map[string]string{"Text": text, "Level": level}
	}
	funcs["deref"] = func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	funcs["urgencyClass"] = func(u string) string { return "urgency-" + u }
	// unread is rebound per App in deskRoutes (it needs the database); this placeholder lets the
	// templates parse.
	funcs["unread"] = func(any) int { return 0 }
}

// deskService is built per request: it holds no state beyond its dependencies.
func (a *App) deskService() *desk.Service {
	return desk.New(a.opts.DB, a.opts.Workflow, desk.Options{})
}

// deskError maps the desk's errors: a live lock of someone else is 409, bad input 422; not
// found and forbidden go through classify.
func deskError(err error) error {
	var le *desk.LockedError
	var ie *desk.InputError
	switch {
	case errors.As(err, &le):
		return &httpError{status: fiber.StatusConflict, code: "locked", message: le.Error(),
			fields: map[string]string{"holder": le.Holder, "until": le.Until.UTC().Format(time.RFC3339)}}
	case errors.As(err, &ie):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: ie.Message,
			fields: map[string]string{ie.Field: ie.Message}}
	case errors.Is(err, desk.ErrForbidden):
		return &httpError{status: fiber.StatusForbidden, code: "forbidden", message: "当前账户无权执行此操作（分派、截止时间和锁定限编辑、签发人；解除他人锁定限签发人）"}
	}
	return err
}

// deskPage is the data of the desk page.
type deskPage struct {
	View    desk.View
	Filter  desk.Filter
	Queue   string // name of the selected queue
	Scope   string // "all", "mine" or "overdue"
	CanEdit bool
	// Similar holds, per listed item, the reports the viewer may read that look like the same
	// event (package dedup, the record's 相似信息 panel): the desk shows a badge linking there.
	Similar map[int64][]dedup.Match
}

func (a *App) deskFilter(c *fiber.Ctx) desk.Filter {
	return desk.Filter{State: strings.TrimSpace(c.Query("state")), Mine: c.Query("mine") == "1", Overdue: c.Query("overdue") == "1"}
}

func (a *App) deskView(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	f := a.deskFilter(c)
	v, err := a.deskService().Desk(c.UserContext(), sub, f)
	if err != nil {
		return deskError(err)
	}
	p := deskPage{View: v, Filter: f, Scope: "all", CanEdit: sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner)}
	if len(v.Items) > 0 {
		ids := make([]int64, len(v.Items))
		for i, it := range v.Items {
			ids[i] = it.ID
		}
		// One candidate query for the whole queue, within the viewer's scope and clearance.
		if p.Similar, err = a.dedup().Hints(c.UserContext(), sub, ids, dedup.Options{}); err != nil {
			return err
		}
	}
	switch {
	case f.Mine:
		p.Scope = "mine"
	case f.Overdue:
		p.Scope = "overdue"
	}
	for _, q := range v.Queues {
		if q.State == f.State {
			p.Queue = q.Name
		}
	}
	return a.render(c, fiber.StatusOK, "desk", page{Title: "编辑台", Nav: "desk", Data: p})
}

// deskPanel is the desk part of the record page (inside the workflow panel).
type deskPanel struct {
	Card       desk.Card
	Colleagues []desk.Colleague
	IsDesk     bool // editor or signer: may lock, assign, set due dates
	CanUnlock  bool // may break another user's lock
	MyLock     bool
	OtherLock  bool
	Flash      string
	Error      string
	Comment    string // re-filled after a refused comment
	DueValue   string // yyyy-mm-ddThh:mm for the input
	MeID       int64
}

var deskFlashes = map[string]string{
	"locked": "已锁定：其他编辑会看到由您处理。", "unlocked": "已解除锁定。", "assigned": "已分派。", "unassigned": "已取消分派。",
	"due": "截止时间已保存。", "commented": "评论已发表。",
}

func (a *App) deskPanel(c *fiber.Ctx, id int64) (*deskPanel, error) {
	sub := sessionOf(c).User.Subject()
	svc := a.deskService()
	card, err := svc.Card(c.UserContext(), sub, id)
	if err != nil {
		return nil, err
	}
	cols, err := svc.Colleagues(c.UserContext(), sub)
	if err != nil {
		return nil, err
	}
	p := &deskPanel{Card: card, Colleagues: cols, IsDesk: sub.Has(access.RoleEditor) || sub.Has(access.RoleSigner),
		CanUnlock: desk.CanUnlock(sub), MeID: sub.UserID, Flash: deskFlashes[c.Query("desk")]}
	p.MyLock = card.LockHolderID != 0 && card.LockHolderID == sub.UserID
	p.OtherLock = card.LockHolderID != 0 && card.LockHolderID != sub.UserID
	if card.DueAt != nil {
		p.DueValue = card.DueAt.In(search.Location).Format("2006-01-02T15:04")
	}
	return p, nil
}

// deskAction runs one desk form of the record page: on success back to the record with a
// notice; on a refusal the record page again with the reason and the matching status.
func (a *App) deskAction(c *fiber.Ctx, do func(id int64) (string, error)) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	flashKey, err := do(id)
	if err == nil {
		if next := c.FormValue("next"); next == "desk" {
			return c.Redirect("/desk", fiber.StatusSeeOther)
		}
		return c.Redirect("/submissions/"+strconv.FormatInt(id, 10)+"?desk="+flashKey+"#desk", fiber.StatusSeeOther)
	}
	he := classify(deskError(err))
	if he.status == fiber.StatusNotFound || he.status >= 500 {
		return err
	}
	sub := sessionOf(c).User.Subject()
	rec, gerr := a.opts.Submissions.Get(c.UserContext(), sub, id, clientIP(c))
	if gerr != nil {
		return gerr
	}
	data, gerr := a.submissionPage(c, rec)
	if gerr != nil {
		return gerr
	}
	if data.Flow != nil && data.Flow.Desk != nil {
		data.Flow.Desk.Error = he.message
		data.Flow.Desk.Comment = c.FormValue("body")
	}
	return a.render(c, he.status, "submission_show", page{Title: rec.Title, Nav: "submissions", Error: "操作未执行：" + he.message, Data: data})
}

func (a *App) deskLockPage(c *fiber.Ctx) error {
	return a.deskAction(c, func(id int64) (string, error) {
		_, err := a.deskService().Lock(c.UserContext(), sessionOf(c).User.Subject(), id)
		return "locked", err
	})
}

func (a *App) deskUnlockPage(c *fiber.Ctx) error {
	return a.deskAction(c, func(id int64) (string, error) {
		return "unlocked", a.deskService().Unlock(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c))
	})
}

func (a *App) deskAssignPage(c *fiber.Ctx) error {
	return a.deskAction(c, func(id int64) (string, error) {
		sub := sessionOf(c).User.Subject()
		who := strings.TrimSpace(c.FormValue("assignee"))
		if who == "me" {
			who = sub.Username
		}
		_, err := a.deskService().Assign(c.UserContext(), sub, id, who, clientIP(c))
		if who == "" {
			return "unassigned", err
		}
		return "assigned", err
	})
}

// parseDue reads a due date: RFC 3339, or the browser's yyyy-mm-ddThh:mm / yyyy-mm-dd in the
// server's time zone; "" clears it.
func parseDue(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, search.Location); err == nil {
			if layout == "2006-01-02" {
				t = t.Add(18 * time.Hour) // end of the working day
			}
			return &t, nil
		}
	}
	return nil, &desk.InputError{Field: "due_at", Message: "截止时间格式不正确（例如 2026-12-01T17:30）"}
}

func (a *App) deskDuePage(c *fiber.Ctx) error {
	return a.deskAction(c, func(id int64) (string, error) {
		due, err := parseDue(c.FormValue("due_at"))
		if err != nil {
			return "", err
		}
		return "due", a.deskService().SetDue(c.UserContext(), sessionOf(c).User.Subject(), id, due, clientIP(c))
	})
}

func (a *App) deskCommentPage(c *fiber.Ctx) error {
	return a.deskAction(c, func(id int64) (string, error) {
		_, err := a.deskService().AddComment(c.UserContext(), sessionOf(c).User.Subject(), id, c.FormValue("body"), clientIP(c))
		return "commented", err
	})
}

// API.

func deskItemJSON(it desk.Item) fiber.Map {
	text, level := it.AgeBadge()
	m := fiber.Map{"id": it.ID, "version": it.Version, "title": it.Title, "unit": it.UnitName, "urgency": it.Urgency,
		"state": it.State, "state_name": it.StateName, "entered_at": it.EnteredAt.UTC().Format(time.RFC3339),
		"age_seconds": int64(it.Age.Seconds()), "age": text, "age_level": level, "assigned_role": it.AssignedRole,
		"assignee": nil, "due_at": nil, "effective_due_at": it.EffectiveDue.UTC().Format(time.RFC3339), "overdue": it.Overdue, "lock": nil}
	if it.AssigneeID != 0 {
		m["assignee"] = it.Assignee
	}
	if it.DueAt != nil {
		m["due_at"] = it.DueAt.UTC().Format(time.RFC3339)
	}
	if it.LockHolderID != 0 && it.LockUntil != nil {
		m["lock"] = fiber.Map{"holder": it.LockHolder, "until": it.LockUntil.UTC().Format(time.RFC3339)}
	}
	return m
}

func (a *App) apiDesk(c *fiber.Ctx) error {
	v, err := a.deskService().Desk(c.UserContext(), sessionOf(c).User.Subject(), a.deskFilter(c))
	if err != nil {
		return deskError(err)
	}
	queues := make([]fiber.Map, 0, len(v.Queues))
	for _, q := range v.Queues {
		queues = append(queues, fiber.Map{"state": q.State, "name": q.Name, "count": q.Count, "overdue": q.Overdue})
	}
	items := make([]fiber.Map, 0, len(v.Items))
	for _, it := range v.Items {
		items = append(items, deskItemJSON(it))
	}
	return c.JSON(fiber.Map{"queues": queues, "total": v.Total, "items": items})
}

func commentJSON(cm desk.Comment) fiber.Map {
	return fiber.Map{"id": cm.ID, "author": cm.Author, "body": cm.Body, "mentions": nonNil(cm.Mentions), "at": cm.At.UTC().Format(time.RFC3339)}
}

func (a *App) apiDeskCard(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	card, err := a.deskService().Card(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return deskError(err)
	}
	m := fiber.Map{"id": card.ID, "state": card.State, "assigned_role": card.AssignedRole, "assignee": nil, "due_at": nil,
		"effective_due_at": card.EffectiveDue.UTC().Format(time.RFC3339), "overdue": card.Overdue, "lock": nil}
	if card.AssigneeID != 0 {
		m["assignee"] = card.Assignee
	}
	if card.DueAt != nil {
		m["due_at"] = card.DueAt.UTC().Format(time.RFC3339)
	}
	if card.LockHolderID != 0 && card.LockUntil != nil {
		m["lock"] = fiber.Map{"holder": card.LockHolder, "until": card.LockUntil.UTC().Format(time.RFC3339)}
	}
	comments := make([]fiber.Map, 0, len(card.Comments))
	for _, cm := range card.Comments {
		comments = append(comments, commentJSON(cm))
	}
	m["comments"] = comments
	return c.JSON(m)
}

func (a *App) apiDeskLock(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	sub := sessionOf(c).User.Subject()
	until, err := a.deskService().Lock(c.UserContext(), sub, id)
	if err != nil {
		return deskError(err)
	}
	return c.JSON(fiber.Map{"holder": sub.Username, "until": until.UTC().Format(time.RFC3339)})
}

func (a *App) apiDeskUnlock(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	if err := a.deskService().Unlock(c.UserContext(), sessionOf(c).User.Subject(), id, clientIP(c)); err != nil {
		return deskError(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *App) apiDeskAssign(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Username string `json:"username"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	name, err := a.deskService().Assign(c.UserContext(), sessionOf(c).User.Subject(), id, b.Username, clientIP(c))
	if err != nil {
		return deskError(err)
	}
	var assignee any
	if b.Username != "" {
		assignee = name
	}
	return c.JSON(fiber.Map{"id": id, "assignee": assignee})
}

func (a *App) apiDeskDue(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		DueAt *string `json:"due_at"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	var due *time.Time
	if b.DueAt != nil {
		if due, err = parseDue(*b.DueAt); err != nil {
			return deskError(err)
		}
	}
	if err := a.deskService().SetDue(c.UserContext(), sessionOf(c).User.Subject(), id, due, clientIP(c)); err != nil {
		return deskError(err)
	}
	var out any
	if due != nil {
		out = due.UTC().Format(time.RFC3339)
	}
	return c.JSON(fiber.Map{"id": id, "due_at": out})
}

func (a *App) apiDeskComments(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	card, err := a.deskService().Card(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return deskError(err)
	}
	items := make([]fiber.Map, 0, len(card.Comments))
	for _, cm := range card.Comments {
		items = append(items, commentJSON(cm))
	}
	return c.JSON(fiber.Map{"items": items})
}

func (a *App) apiDeskComment(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Body string `json:"body"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	res, err := a.deskService().AddComment(c.UserContext(), sessionOf(c).User.Subject(), id, b.Body, clientIP(c))
	if err != nil {
		return deskError(err)
	}
	m := commentJSON(res.Comment)
	m["notified"], m["not_notified"] = nonNil(res.Notified), nonNil(res.NotNotified)
	return c.Status(fiber.StatusCreated).JSON(m)
}
