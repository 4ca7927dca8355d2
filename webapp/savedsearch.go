package webapp

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/savedsearch"
)

func init() {
	// describeQuery renders a search URL query for people (saved searches, exports).
	funcs["describeQuery"] = func(q string) string {
		p, err := savedsearch.ParseParams(q)
		if err != nil {
			return q
		}
		return p.Describe()
	}
}

func savedError(err error) error {
	var ve *savedsearch.ValidationError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: ve.Message, fields: map[string]string{ve.Field: ve.Message}}
	case errors.Is(err, savedsearch.ErrNotFound):
		return errStatus(fiber.StatusNotFound, "not_found", "保存的检索不存在或无权使用")
	case errors.Is(err, savedsearch.ErrForbidden):
		return errStatus(fiber.StatusForbidden, "forbidden", "只有创建人可以删除保存的检索")
	}
	return err
}

// draftIssues lists a few draft issues a saved search can seed (periodical compilation).
func (a *App) draftIssues(c *fiber.Ctx) []fiber.Map {
	rows, err := a.opts.DB.Query(c.UserContext(), `SELECT i.id, p.name, i.year, i.year_number FROM periodical_issues i
		JOIN periodicals p ON p.id = i.periodical_id WHERE i.state = 'draft' ORDER BY i.id DESC LIMIT 5`)
	if err != nil {
		return nil // no periodicals yet: the seed buttons are simply not offered
	}
	defer rows.Close()
	var out []fiber.Map
	for rows.Next() {
		var id int64
		var name string
		var y, n int
		if rows.Scan(&id, &name, &y, &n) == nil {
			out = append(out, fiber.Map{"ID": id, "Name": name + " " + strconv.Itoa(y) + "年第" + strconv.Itoa(n) + "期"})
		}
	}
	return out
}

func (a *App) savedSearchList(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	list, err := a.stats.saved.List(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	var issues []fiber.Map
	if u.Subject().Has("editor") || u.Subject().Has("signer") {
		issues = a.draftIssues(c)
	}
	flash := map[string]string{"saved": "检索已保存。", "subscribed": "已订阅：有新信息匹配时会在「通知」中提醒。",
		"unsubscribed": "已取消订阅。", "archived": "已删除（保留记录）。"}[c.Query("flash")]
	return a.render(c, fiber.StatusOK, "savedsearch", page{Title: "保存的检索", Nav: "saved", Flash: flash,
		Data: fiber.Map{"List": list, "UserID": u.ID, "Issues": issues, "Query": c.Query("query"), "Name": c.Query("name")}})
}

func (a *App) savedSearchCreate(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	ss, err := a.stats.saved.Create(c.UserContext(), u.ID, c.FormValue("name"), c.FormValue("query"), c.FormValue("shared") == "1")
	if err != nil {
		return savedError(err)
	}
	if c.FormValue("subscribe") == "1" {
		if err := a.stats.saved.Subscribe(c.UserContext(), u.ID, ss.ID); err != nil {
			return savedError(err)
		}
	}
	return c.Redirect("/saved-searches?flash=saved", fiber.StatusSeeOther)
}

func (a *App) savedSearchSubscribe(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := a.stats.saved.Subscribe(c.UserContext(), u.ID, savedID(c)); err != nil {
		return savedError(err)
	}
	return c.Redirect("/saved-searches?flash=subscribed", fiber.StatusSeeOther)
}

func (a *App) savedSearchUnsubscribe(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := a.stats.saved.Unsubscribe(c.UserContext(), u.ID, savedID(c)); err != nil {
		return savedError(err)
	}
	return c.Redirect("/saved-searches?flash=unsubscribed", fiber.StatusSeeOther)
}

func (a *App) savedSearchArchive(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := a.stats.saved.Archive(c.UserContext(), u.ID, savedID(c)); err != nil {
		return savedError(err)
	}
	return c.Redirect("/saved-searches?flash=archived", fiber.StatusSeeOther)
}

type savedJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Query      string `json:"query"`
	Shared     bool   `json:"shared"`
	Owner      string `json:"owner"`
	Mine       bool   `json:"mine"`
	Subscribed bool   `json:"subscribed"`
	SearchURL  string `json:"search_url"`
	CreatedAt  string `json:"created_at"`
}

func toSavedJSON(ss savedsearch.SavedSearch, userID int64) savedJSON {
	return savedJSON{ID: ss.ID, Name: ss.Name, Query: ss.Query, Shared: ss.Shared, Owner: ss.OwnerName, Mine: ss.OwnerID == userID,
		Subscribed: ss.Subscribed, SearchURL: "/search?" + ss.Query, CreatedAt: ss.CreatedAt.UTC().Format(time.RFC3339)}
}

func (a *App) apiSavedSearches(c *fiber.Ctx) error {
	u := sessionOf(c).User
	list, err := a.stats.saved.List(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	out := make([]savedJSON, 0, len(list))
	for _, ss := range list {
		out = append(out, toSavedJSON(ss, u.ID))
	}
	return c.JSON(fiber.Map{"items": out})
}

func (a *App) apiSavedSearchCreate(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	var body struct {
		Name      string `json:"name"`
		Query     string `json:"query"`
		Shared    bool   `json:"shared"`
		Subscribe bool   `json:"subscribe"`
	}
	if err := c.BodyParser(&body); err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", `请求体必须是 JSON：{"name","query","shared","subscribe"}`)
	}
	ss, err := a.stats.saved.Create(c.UserContext(), u.ID, body.Name, body.Query, body.Shared)
	if err != nil {
		return savedError(err)
	}
	if body.Subscribe {
		if err := a.stats.saved.Subscribe(c.UserContext(), u.ID, ss.ID); err != nil {
			return savedError(err)
		}
		ss.Subscribed = true
	}
	ss.OwnerName = u.Name()
	return c.Status(fiber.StatusCreated).JSON(toSavedJSON(ss, u.ID))
}

// savedID is the :id route parameter (the route pattern guarantees digits).
func savedID(c *fiber.Ctx) int64 {
	id, _ := strconv.ParseInt(c.Params("id"), 10, 64)
	return id
}
