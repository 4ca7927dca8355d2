package webapp

// System administrator (系统管理员): accounts and units.

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"infowork/audit"
	"infowork/auth"
	"infowork/unit"
)

func (a *App) accountAdmin() *auth.Admin { return auth.NewAdmin(a.opts.Auth) }

const adminPageSize = 50

// accountList is the data of the account lists of the system and security administrators.
type accountList struct {
	Accounts []auth.Account
	Total    int
	Page     int
	Pages    int
	Query    string
	Unit     string
	Units    []unit.Unit
	PrevURL  string
	NextURL  string
	Form     url.Values // the create form, kept after an error
}

func (a *App) listAccounts(c *fiber.Ctx, base string) (accountList, error) {
	page := max(c.QueryInt("page", 1), 1)
	l := accountList{Page: page, Query: strings.TrimSpace(c.Query("q")), Unit: c.Query("unit")}
	var err error
	l.Accounts, l.Total, err = a.accountAdmin().ListAccounts(c.UserContext(), auth.AccountFilter{Query: l.Query, UnitCode: l.Unit, Page: page, Size: adminPageSize})
	if err != nil {
		return l, err
	}
	l.Pages = max((l.Total+adminPageSize-1)/adminPageSize, 1)
	link := func(p int) string {
		v := url.Values{}
		if l.Query != "" {
			v.Set("q", l.Query)
		}
		if l.Unit != "" {
			v.Set("unit", l.Unit)
		}
		v.Set("page", strconv.Itoa(p))
		return base + "?" + v.Encode()
	}
	if page > 1 {
		l.PrevURL = link(page - 1)
	}
	if page < l.Pages {
		l.NextURL = link(page + 1)
	}
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return l, err
	}
	l.Units = n.unitList
	return l, nil
}

func (a *App) adminUsers(c *fiber.Ctx) error {
	l, err := a.listAccounts(c, "/admin/users")
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "admin_users", page{Title: "用户管理", Nav: "admin-users", Flash: adminFlash(c), Data: l})
}

func (a *App) adminUserCreate(c *fiber.Ctx) error {
	acc, err := a.accountAdmin().CreateAccount(c.UserContext(), actor(c), auth.NewAccount{
		Username: c.FormValue("username"), DisplayName: c.FormValue("display_name"), Phone: c.FormValue("phone"),
		UnitCode: c.FormValue("unit"), Password: c.FormValue("password"),
	})
	if msg := adminInputMessage(err); msg != "" {
		l, lerr := a.listAccounts(c, "/admin/users")
		if lerr != nil {
			return lerr
		}
		l.Form = url.Values{"username": {c.FormValue("username")}, "display_name": {c.FormValue("display_name")},
			"phone": {c.FormValue("phone")}, "unit": {c.FormValue("unit")}}
		return a.render(c, fiber.StatusUnprocessableEntity, "admin_users", page{Title: "用户管理", Nav: "admin-users", Error: msg, Data: l})
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("/admin/users/%d?flash=created", acc.ID), fiber.StatusSeeOther)
}

func adminFlash(c *fiber.Ctx) string {
	return map[string]string{
		"created":    "账户已创建：角色为信息员、密级为公开，首次登录须修改口令。如需其他角色或密级，请联系安全管理员。",
		"disabled":   "账户已停用，其全部会话已失效。",
		"enabled":    "账户已启用。",
		"reset":      "口令已重置，该账户下次登录须修改口令；其全部会话已失效。",
		"unlocked":   "账户已解锁。",
		"unit_saved": "单位已保存。",
		"authorized": "授权已保存。如有变化，该账户的全部会话已失效，重新登录后生效。",
		"labelled":   "密级标记已保存，检索索引将随之更新。",
	}[c.Query("flash")]
}

func (a *App) adminUser(c *fiber.Ctx) error {
	return a.renderAdminUser(c, fiber.StatusOK, "")
}

func (a *App) renderAdminUser(c *fiber.Ctx, status int, msg string) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	acc, err := a.accountAdmin().Account(c.UserContext(), id)
	if err != nil {
		return err
	}
	return a.render(c, status, "admin_user", page{Title: "账户 " + acc.Username, Nav: "admin-users", Flash: adminFlash(c), Error: msg,
		Data: fiber.Map{"Account": acc, "Self": acc.ID == sessionOf(c).User.ID}})
}

// adminUserAction runs one account action and shows the outcome on the account's page.
func (a *App) adminUserAction(c *fiber.Ctx, flash string, do func(id int64) error) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	err = do(id)
	if msg := adminInputMessage(err); msg != "" {
		return a.renderAdminUser(c, fiber.StatusUnprocessableEntity, msg)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("/admin/users/%d?flash=%s", id, flash), fiber.StatusSeeOther)
}

func (a *App) adminUserDisable(c *fiber.Ctx) error {
	return a.adminUserAction(c, "disabled", func(id int64) error {
		return a.accountAdmin().SetDisabled(c.UserContext(), actor(c), id, true)
	})
}

func (a *App) adminUserEnable(c *fiber.Ctx) error {
	return a.adminUserAction(c, "enabled", func(id int64) error {
		return a.accountAdmin().SetDisabled(c.UserContext(), actor(c), id, false)
	})
}

func (a *App) adminUserResetPassword(c *fiber.Ctx) error {
	return a.adminUserAction(c, "reset", func(id int64) error {
		if c.FormValue("password") != c.FormValue("password2") {
			return &auth.AdminInputError{Message: "两次输入的口令不一致"}
		}
		return a.accountAdmin().ResetPassword(c.UserContext(), actor(c), id, c.FormValue("password"))
	})
}

func (a *App) adminUserUnlock(c *fiber.Ctx) error {
	return a.adminUserAction(c, "unlocked", func(id int64) error {
		return a.accountAdmin().Unlock(c.UserContext(), actor(c), id)
	})
}

// Units.

type unitRow struct {
	unit.Unit
	Depth    int
	KindName string
}

// unitTree orders units as a tree (parents before children, children by code), with depth.
func unitTree(us []unit.Unit) []unitRow {
	children := map[string][]unit.Unit{}
	known := map[string]bool{}
	for _, u := range us {
		known[u.Code] = true
	}
	for _, u := range us {
		p := u.ParentCode
		if !known[p] {
			p = ""
		}
		children[p] = append(children[p], u)
	}
	var out []unitRow
	seen := map[string]bool{}
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, u := range children[parent] {
			if seen[u.Code] {
				continue
			}
			seen[u.Code] = true
			out = append(out, unitRow{Unit: u, Depth: depth, KindName: unit.KindName(u.Kind)})
			walk(u.Code, depth+1)
		}
	}
	walk("", 0)
	return out
}

var unitKinds = []fiber.Map{
	{"Value": unit.KindOffice, "Name": unit.KindName(unit.KindOffice)},
	{"Value": unit.KindDistrict, "Name": unit.KindName(unit.KindDistrict)},
	{"Value": unit.KindBureau, "Name": unit.KindName(unit.KindBureau)},
	{"Value": unit.KindDirect, "Name": unit.KindName(unit.KindDirect)},
}

func (a *App) adminUnits(c *fiber.Ctx) error {
	return a.renderUnits(c, fiber.StatusOK, "", unit.Unit{Kind: unit.KindDirect})
}

func (a *App) renderUnits(c *fiber.Ctx, status int, msg string, form unit.Unit) error {
	us, err := unit.List(c.UserContext(), a.opts.DB)
	if err != nil {
		return err
	}
	return a.render(c, status, "admin_units", page{Title: "单位管理", Nav: "admin-units", Flash: adminFlash(c), Error: msg,
		Data: fiber.Map{"Tree": unitTree(us), "Units": us, "Kinds": unitKinds, "Form": form}})
}

func unitForm(c *fiber.Ctx) unit.Unit {
	return unit.Unit{Code: strings.TrimSpace(c.FormValue("code")), Name: strings.TrimSpace(c.FormValue("name")),
		Kind: c.FormValue("kind"), ParentCode: c.FormValue("parent"), District: strings.TrimSpace(c.FormValue("district"))}
}

// saveUnit validates and stores a unit with its audit row in one transaction. A new unit must
// not reuse a code; an edited unit keeps its code and may not become its own ancestor.
func (a *App) saveUnit(c *fiber.Ctx, u unit.Unit, create bool) (string, error) {
	action := "admin.unit.update"
	if create {
		action = "admin.unit.create"
	}
	ac := actor(c)
	ctx := c.UserContext()
	var userMsg string
	err := pgx.BeginFunc(ctx, a.opts.DB, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)`, u.Code).Scan(&exists); err != nil {
			return err
		}
		if create && exists {
			userMsg = "单位代码 " + u.Code + " 已存在"
			return errUserInput
		}
		if u.ParentCode != "" {
			// The new parent may not be the unit itself or one of its descendants.
			var cycle bool
			if err := tx.QueryRow(ctx, `WITH RECURSIVE up AS (
					SELECT id, parent_id, code FROM units WHERE code = $1
					UNION ALL SELECT p.id, p.parent_id, p.code FROM units p JOIN up ON p.id = up.parent_id)
				SELECT EXISTS (SELECT 1 FROM up WHERE code = $2)`, u.ParentCode, u.Code).Scan(&cycle); err != nil {
				return err
			}
			if cycle {
				userMsg = "上级单位不能是本单位或其下级单位"
				return errUserInput
			}
		}
		if err := u.Validate(); err != nil {
			userMsg = "单位信息有误：" + err.Error()
			return errUserInput
		}
		if _, err := unit.Upsert(ctx, tx, u); err != nil {
			userMsg = "单位未保存：" + err.Error()
			return errUserInput
		}
		return audit.Record(ctx, tx, audit.Event{UserID: ac.UserID, Username: ac.Username, ClientIP: ac.ClientIP, Action: action,
			Object: "unit:" + u.Code, Detail: fmt.Sprintf("name=%s kind=%s parent=%s district=%s", u.Name, u.Kind, u.ParentCode, u.District)})
	})
	if errors.Is(err, errUserInput) {
		if werr := audit.Write(ctx, a.opts.DB, audit.Event{UserID: ac.UserID, Username: ac.Username, ClientIP: ac.ClientIP, Action: action,
			Object: "unit:" + u.Code, Outcome: audit.Failure, Detail: userMsg}); werr != nil {
			return "", werr
		}
		return userMsg, nil
	}
	if err == nil {
		a.invalidateLookups()
	}
	return "", err
}

var errUserInput = errors.New("refused input")

func (a *App) adminUnitCreate(c *fiber.Ctx) error {
	u := unitForm(c)
	msg, err := a.saveUnit(c, u, true)
	if err != nil {
		return err
	}
	if msg != "" {
		return a.renderUnits(c, fiber.StatusUnprocessableEntity, msg, u)
	}
	return c.Redirect("/admin/units?flash=unit_saved", fiber.StatusSeeOther)
}

func (a *App) unitByID(c *fiber.Ctx) (unit.Unit, error) {
	id, err := paramID(c)
	if err != nil {
		return unit.Unit{}, err
	}
	var code string
	if err := a.opts.DB.QueryRow(c.UserContext(), `SELECT code FROM units WHERE id = $1`, id).Scan(&code); err != nil {
		return unit.Unit{}, errNotFound
	}
	return unit.ByCode(c.UserContext(), a.opts.DB, code)
}

func (a *App) adminUnit(c *fiber.Ctx) error {
	u, err := a.unitByID(c)
	if err != nil {
		return err
	}
	return a.renderUnit(c, fiber.StatusOK, "", u)
}

func (a *App) renderUnit(c *fiber.Ctx, status int, msg string, u unit.Unit) error {
	us, err := unit.List(c.UserContext(), a.opts.DB)
	if err != nil {
		return err
	}
	return a.render(c, status, "admin_unit", page{Title: "编辑单位 " + u.Code, Nav: "admin-units", Error: msg,
		Data: fiber.Map{"Unit": u, "Units": us, "Kinds": unitKinds}})
}

func (a *App) adminUnitUpdate(c *fiber.Ctx) error {
	cur, err := a.unitByID(c)
	if err != nil {
		return err
	}
	u := unitForm(c)
	u.ID, u.Code = cur.ID, cur.Code // the code is stable
	msg, err := a.saveUnit(c, u, false)
	if err != nil {
		return err
	}
	if msg != "" {
		return a.renderUnit(c, fiber.StatusUnprocessableEntity, msg, u)
	}
	return c.Redirect("/admin/units?flash=unit_saved", fiber.StatusSeeOther)
}
