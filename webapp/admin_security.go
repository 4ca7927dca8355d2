package webapp

// Security administrator (安全管理员): roles, clearances and label categories of accounts, and
// the security labels (classification, label categories, readers list) of records.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/auth"
	"infowork/label"
	"infowork/outbox"
	"infowork/submission"
)

func (a *App) adminSecurity(c *fiber.Ctx) error {
	l, err := a.listAccounts(c, "/admin/security")
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "admin_security", page{Title: "授权与密级", Nav: "admin-security", Flash: adminFlash(c), Data: l})
}

type roleOption struct {
	Value, Name string
	Admin       bool
	Checked     bool
}

type optionItem struct {
	Value, Name string
	Checked     bool
}

func (a *App) adminSecurityUser(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	acc, err := a.accountAdmin().Account(c.UserContext(), id)
	if err != nil {
		return err
	}
	return a.renderSecurityUser(c, fiber.StatusOK, "", acc, auth.Authorization{Roles: acc.Roles, Clearance: acc.Clearance, Categories: acc.LabelCategories})
}

func (a *App) renderSecurityUser(c *fiber.Ctx, status int, msg string, acc auth.Account, z auth.Authorization) error {
	var roles []roleOption
	for _, r := range access.Roles {
		roles = append(roles, roleOption{Value: r, Name: access.RoleName(r), Admin: auth.AdminRoleOf([]string{r}) != "", Checked: slices.Contains(z.Roles, r)})
	}
	var levels []optionItem
	for _, l := range label.Levels {
		levels = append(levels, optionItem{Value: l.String(), Name: l.Chinese(), Checked: l == z.Clearance})
	}
	cats, err := label.Categories(c.UserContext(), a.opts.DB)
	if err != nil {
		return err
	}
	var catOpts []optionItem
	for _, cat := range cats {
		catOpts = append(catOpts, optionItem{Value: cat.Name, Name: cat.Name, Checked: slices.Contains(z.Categories, cat.Name)})
	}
	return a.render(c, status, "admin_security_user", page{Title: "授权：" + acc.Username, Nav: "admin-security", Flash: adminFlash(c), Error: msg,
		Data: fiber.Map{"Account": acc, "Roles": roles, "Levels": levels, "Categories": catOpts, "Self": acc.ID == sessionOf(c).User.ID}})
}

// formList returns every value of a repeated form field (checkboxes).
func formList(c *fiber.Ctx, key string) []string {
	var out []string
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		out = append(out, mf.Value[key]...)
	} else {
		for _, v := range c.Context().PostArgs().PeekMulti(key) {
			out = append(out, string(v))
		}
	}
	return out
}

func (a *App) adminSecurityUserSave(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	z := auth.Authorization{Roles: formList(c, "roles"), Categories: formList(c, "categories")}
	lvl, lerr := label.Parse(c.FormValue("clearance"))
	z.Clearance = lvl
	if lerr != nil {
		z.Clearance = label.Level(-1)
	}
	err = a.accountAdmin().SetAuthorization(c.UserContext(), actor(c), id, z)
	if msg := adminInputMessage(err); msg != "" {
		acc, aerr := a.accountAdmin().Account(c.UserContext(), id)
		if aerr != nil {
			return aerr
		}
		return a.renderSecurityUser(c, fiber.StatusUnprocessableEntity, msg, acc, z)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("/admin/security/users/%d?flash=authorized", id), fiber.StatusSeeOther)
}

// Records' labels. The security administrator sees a record's metadata and label, never its
// title or body: it is not a reader (it holds no office role).

type recordLabel struct {
	ID         int64
	Version    int64
	UnitCode   string
	UnitName   string
	Level      label.Level
	Categories []string
	Readers    []string
	ReportedAt time.Time
}

func (a *App) adminRecordLookup(c *fiber.Ctx) error {
	if v := strings.TrimSpace(c.Query("id")); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return a.render(c, fiber.StatusBadRequest, "admin_record_label", page{Title: "信息密级标记", Nav: "admin-records", Error: "请输入信息编号（正整数）"})
		}
		return c.Redirect(fmt.Sprintf("/admin/records/%d/label", id), fiber.StatusSeeOther)
	}
	return a.render(c, fiber.StatusOK, "admin_record_label", page{Title: "信息密级标记", Nav: "admin-records"})
}

// loadRecordLabel reads a record's label outside any reader's scope: the security
// administrator labels records it cannot read (row-level security is bypassed for this
// transaction only).
func loadRecordLabel(c *fiber.Ctx, tx pgx.Tx, id int64, forUpdate bool) (recordLabel, error) {
	if err := access.SetBypass(c.UserContext(), tx); err != nil {
		return recordLabel{}, err
	}
	q := `SELECT s.id, s.version, u.code, u.name, s.classification, s.label_categories, s.readers, s.reported_at
		FROM submissions s JOIN units u ON u.id = s.unit_id WHERE s.id = $1`
	if forUpdate {
		q += ` FOR UPDATE OF s`
	}
	var r recordLabel
	var cl int16
	err := tx.QueryRow(c.UserContext(), q, id).Scan(&r.ID, &r.Version, &r.UnitCode, &r.UnitName, &cl, &r.Categories, &r.Readers, &r.ReportedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errNotFound
	}
	r.Level = label.Level(cl)
	return r, err
}

func (a *App) adminRecordLabel(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var r recordLabel
	err = pgx.BeginFunc(c.UserContext(), a.opts.DB, func(tx pgx.Tx) error {
		r, err = loadRecordLabel(c, tx, id, false)
		return err
	})
	if err != nil {
		return err
	}
	return a.renderRecordLabel(c, fiber.StatusOK, "", r, r.Level, r.Categories, strings.Join(r.Readers, "\n"))
}

func (a *App) renderRecordLabel(c *fiber.Ctx, status int, msg string, r recordLabel, lvl label.Level, cats []string, readers string) error {
	var levels []optionItem
	for _, l := range label.Levels {
		levels = append(levels, optionItem{Value: l.String(), Name: l.Chinese(), Checked: l == lvl})
	}
	all, err := label.Categories(c.UserContext(), a.opts.DB)
	if err != nil {
		return err
	}
	var catOpts []optionItem
	for _, cat := range all {
		catOpts = append(catOpts, optionItem{Value: cat.Name, Name: cat.Name, Checked: slices.Contains(cats, cat.Name)})
	}
	return a.render(c, status, "admin_record_label", page{Title: fmt.Sprintf("信息密级标记 · 第 %d 号", r.ID), Nav: "admin-records",
		Flash: adminFlash(c), Error: msg,
		Data: fiber.Map{"Record": r, "Levels": levels, "Categories": catOpts, "Readers": readers}})
}

var (
	readerUserRE = regexp.MustCompile(`^user:[A-Za-z0-9_.@-]{2,64}$`)
	readerUnitRE = regexp.MustCompile(`^unit:[A-Za-z0-9_.-]{1,32}$`)
)

// parseReaders splits a readers list (one principal per line, or separated by commas) and checks
// each principal names an existing user, unit or role.
func (a *App) parseReaders(c *fiber.Ctx, tx pgx.Tx, text string) ([]string, string, error) {
	out := []string{}
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == '，' || r == ' ' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) > 200 {
		return nil, "读者列表最多 200 项", nil
	}
	for _, p := range out {
		var exists bool
		var err error
		switch {
		case readerUserRE.MatchString(p):
			err = tx.QueryRow(c.UserContext(), `SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)`, strings.TrimPrefix(p, "user:")).Scan(&exists)
		case readerUnitRE.MatchString(p):
			err = tx.QueryRow(c.UserContext(), `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1)`, strings.TrimPrefix(p, "unit:")).Scan(&exists)
		case strings.HasPrefix(p, "role:") && access.ValidRole(strings.TrimPrefix(p, "role:")):
			exists = true
		default:
			return nil, fmt.Sprintf("读者 %q 格式不正确：应为 user:用户名、unit:单位代码 或 role:角色", p), nil
		}
		if err != nil {
			return nil, "", err
		}
		if !exists {
			return nil, fmt.Sprintf("读者 %q 不存在", p), nil
		}
	}
	return out, "", nil
}

func (a *App) adminRecordLabelSave(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ac := actor(c)
	lvl, lerr := label.Parse(c.FormValue("classification"))
	cats := formList(c, "categories")
	readersText := c.FormValue("readers")
	wantVersion, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	var (
		cur     recordLabel
		userMsg string
	)
	err = pgx.BeginFunc(ctx, a.opts.DB, func(tx pgx.Tx) error {
		var err error
		if cur, err = loadRecordLabel(c, tx, id, true); err != nil {
			return err
		}
		if lerr != nil {
			userMsg = "请选择密级"
			return errUserInput
		}
		if wantVersion != 0 && wantVersion != cur.Version {
			userMsg = "该信息在您打开此页后已被修改，请核对当前标记后重新提交"
			return errUserInput
		}
		newLabel, err := label.CheckLabel(ctx, tx, label.Label{Level: lvl, Categories: cats})
		if err != nil {
			if errors.Is(err, label.ErrUnknownCategory) || errors.Is(err, label.ErrInvalidCategory) {
				userMsg = "标识类别无效：" + err.Error()
				return errUserInput
			}
			return err
		}
		readers, msg, err := a.parseReaders(c, tx, readersText)
		if err != nil {
			return err
		}
		if msg != "" {
			userMsg = msg
			return errUserInput
		}
		var version int64
		if err := tx.QueryRow(ctx, `UPDATE submissions SET classification = $2, label_categories = $3, readers = $4,
				version = version + 1, updated_at = now() WHERE id = $1 RETURNING version`,
			id, int(newLabel.Level), newLabel.Categories, readers).Scan(&version); err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, tx, submission.Entity, id); err != nil {
			return err
		}
		lv := int(newLabel.Level)
		return audit.Record(ctx, tx, audit.Event{UserID: ac.UserID, Username: ac.Username, ClientIP: ac.ClientIP,
			Action: "admin.record.label", Object: "submission:" + strconv.FormatInt(id, 10), Label: &lv,
			Detail: fmt.Sprintf("label %s→%s; readers [%s]→[%s]; version %d→%d",
				label.Label{Level: cur.Level, Categories: cur.Categories}, newLabel, strings.Join(cur.Readers, ","), strings.Join(readers, ","),
				cur.Version, version)})
	})
	if errors.Is(err, errUserInput) {
		lv := int(cur.Level)
		if werr := audit.Write(ctx, a.opts.DB, audit.Event{UserID: ac.UserID, Username: ac.Username, ClientIP: ac.ClientIP,
			Action: "admin.record.label", Object: "submission:" + strconv.FormatInt(id, 10), Label: &lv, Outcome: audit.Failure,
			Detail: userMsg}); werr != nil {
			return werr
		}
		return a.renderRecordLabel(c, fiber.StatusUnprocessableEntity, userMsg, cur, lvl, cats, readersText)
	}
	if err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("/admin/records/%d/label?flash=labelled", id), fiber.StatusSeeOther)
}
