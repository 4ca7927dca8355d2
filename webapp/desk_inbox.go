package webapp

// The notification inbox (通知): the page, the unread count in the header and the JSON API.
// Notifications are personal and selected by the session's user id only.

import (
	"context"
	"html/template"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/auth"
	"infowork/desk"
)

// bindUnread gives every page template this app's unread counter for the header badge.
func (a *App) bindUnread() {
	inbox := desk.NewInbox(a.opts.DB)
	f := template.FuncMap{"unread": func(u any) int {
		user, ok := u.(*auth.User)
		if !ok || user == nil || auth.AdminRoleOf(user.Roles) != "" {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := inbox.Unread(ctx, user.ID)
		if err != nil {
			a.log.Warn("unread count", "err", err)
			return 0
		}
		return n
	}}
	for _, t := range a.pages {
		t.Funcs(f)
	}
}

type inboxPage struct {
	Items      []desk.Notification
	UnreadOnly bool
	Unread     int
}

func (a *App) notificationsPage(c *fiber.Ctx) error {
	u := sessionOf(c).User
	in := desk.NewInbox(a.opts.DB)
	unreadOnly := c.Query("unread") == "1"
	items, err := in.List(c.UserContext(), u.ID, unreadOnly, 100)
	if err != nil {
		return err
	}
	n, err := in.Unread(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	fl := map[string]string{"read": "已标记为已读。"}[c.Query("flash")]
	return a.render(c, fiber.StatusOK, "notifications", page{Title: "通知", Nav: "notifications", Flash: fl,
		Data: inboxPage{Items: items, UnreadOnly: unreadOnly, Unread: n}})
}

// notificationsRead marks one notification (id) or all as read; with open=1 it then opens the
// item the notification is about.
func (a *App) notificationsRead(c *fiber.Ctx) error {
	u := sessionOf(c).User
	var ids []int64
	if v := c.FormValue("id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errStatus(fiber.StatusBadRequest, "bad_request", "通知编号无效")
		}
		ids = []int64{id}
	}
	if _, err := desk.NewInbox(a.opts.DB).MarkRead(c.UserContext(), u.ID, ids); err != nil {
		return err
	}
	if sid, err := strconv.ParseInt(c.FormValue("open"), 10, 64); err == nil && sid > 0 {
		return c.Redirect("/submissions/"+strconv.FormatInt(sid, 10), fiber.StatusSeeOther)
	}
	return c.Redirect("/notifications?flash=read", fiber.StatusSeeOther)
}

func (a *App) apiNotifications(c *fiber.Ctx) error {
	u := sessionOf(c).User
	in := desk.NewInbox(a.opts.DB)
	items, err := in.List(c.UserContext(), u.ID, c.Query("unread") == "1", 100)
	if err != nil {
		return err
	}
	n, err := in.Unread(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(items))
	for _, it := range items {
		var sid any
		if it.SubmissionID != 0 {
			sid = it.SubmissionID
		}
		out = append(out, fiber.Map{"id": it.ID, "submission_id": sid, "kind": it.Kind, "message": it.Message,
			"at": it.At.UTC().Format(time.RFC3339), "read": it.Read})
	}
	return c.JSON(fiber.Map{"unread": n, "items": out})
}

func (a *App) apiNotificationsRead(c *fiber.Ctx) error {
	var b struct {
		IDs []int64 `json:"ids"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	n, err := desk.NewInbox(a.opts.DB).MarkRead(c.UserContext(), sessionOf(c).User.ID, b.IDs)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"marked": n})
}
