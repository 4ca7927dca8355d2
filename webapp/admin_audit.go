package webapp

// Audit administrator (审计管理员): reads, exports and verifies the audit log. It can neither
// change nor delete rows (nobody can: migration 0003), and its own reads are audited.

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"infowork/audit"
	"infowork/label"
	"infowork/search"
)

// auditFilter is the URL form of an audit query.
type auditFilter struct {
	User, Action, Outcome, Object string
	From, To                      string // YYYY-MM-DD, in the server's time zone (search.Location)
}

func parseAuditFilter(c *fiber.Ctx) (auditFilter, error) {
	f := auditFilter{User: strings.TrimSpace(c.Query("user")), Action: strings.TrimSpace(c.Query("action")),
		Outcome: c.Query("outcome"), Object: strings.TrimSpace(c.Query("object")), From: c.Query("from"), To: c.Query("to")}
	switch f.Outcome {
	case "", audit.Success, audit.Failure, audit.Denied:
	default:
		return f, errStatus(fiber.StatusBadRequest, "bad_request", "结果只能是 success、failure 或 denied")
	}
	for _, d := range []string{f.From, f.To} {
		if d == "" {
			continue
		}
		if _, err := time.ParseInLocation("2006-01-02", d, search.Location); err != nil {
			return f, errStatus(fiber.StatusBadRequest, "bad_request", "日期格式应为 YYYY-MM-DD")
		}
	}
	return f, nil
}

func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"user": f.User, "action": f.Action, "outcome": f.Outcome, "object": f.Object, "from": f.From, "to": f.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// String describes the filter for the audit detail of a query or export.
func (f auditFilter) String() string {
	if s := f.values().Encode(); s != "" {
		return "filter " + s
	}
	return "filter none"
}

// where renders the filter as SQL over audit_log.
func (f auditFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.User != "" {
		add("username = $%d", f.User)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, "*") || strings.HasSuffix(f.Action, ".") {
			add(`action LIKE $%d`, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSuffix(f.Action, "*"))+"%")
		} else {
			add("action = $%d", f.Action)
		}
	}
	if f.Outcome != "" {
		add("outcome = $%d", f.Outcome)
	}
	if f.Object != "" {
		add("object = $%d", f.Object)
	}
	if f.From != "" {
		t, _ := time.ParseInLocation("2006-01-02", f.From, search.Location)
		add("at >= $%d", t)
	}
	if f.To != "" {
		t, _ := time.ParseInLocation("2006-01-02", f.To, search.Location)
		add("at < $%d", t.AddDate(0, 0, 1))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// auditRow is one row of the log as the audit administrator sees it.
type auditRow struct {
	ID                                                  int64
	At                                                  time.Time
	UserID                                              *int64
	Username, ClientIP, Action, Object, Outcome, Detail string
	Label                                               *int16
	PrevHash, Hash                                      []byte
}

func (r auditRow) LabelName() string {
	if r.Label == nil {
		return ""
	}
	return label.Level(*r.Label).Chinese()
}

func (r auditRow) HashHex() string     { return hex.EncodeToString(r.Hash) }
func (r auditRow) PrevHashHex() string { return hex.EncodeToString(r.PrevHash) }
func (r auditRow) UTC() string         { return r.At.UTC().Format("2006-01-02T15:04:05.000000Z") }

const auditColumns = `id, at, user_id, username, client_ip, action, object, label, outcome, detail, prev_hash, hash`

func scanAuditRow(rows interface{ Scan(...any) error }) (auditRow, error) {
	var r auditRow
	err := rows.Scan(&r.ID, &r.At, &r.UserID, &r.Username, &r.ClientIP, &r.Action, &r.Object, &r.Label, &r.Outcome, &r.Detail, &r.PrevHash, &r.Hash)
	return r, err
}

func (a *App) auditSelf(c *fiber.Ctx, action, detail, outcome string) error {
	ac := actor(c)
	return audit.Write(c.UserContext(), a.opts.DB, audit.Event{UserID: ac.UserID, Username: ac.Username, ClientIP: ac.ClientIP,
		Action: action, Object: "audit_log", Outcome: outcome, Detail: detail})
}

const auditPageSize = 50

func (a *App) adminAudit(c *fiber.Ctx) error {
	return a.renderAudit(c, fiber.StatusOK, nil)
}

func (a *App) renderAudit(c *fiber.Ctx, status int, verify *audit.VerifyResult) error {
	f, err := parseAuditFilter(c)
	if err != nil {
		return err
	}
	pageNo := max(c.QueryInt("page", 1), 1)
	if verify == nil { // the verify action audits itself
		if err := a.auditSelf(c, "audit.query", fmt.Sprintf("%s page=%d", f, pageNo), audit.Success); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	where, args := f.where()
	var total int
	if err := a.opts.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log`+where, args...).Scan(&total); err != nil {
		return err
	}
	args = append(args, auditPageSize, (pageNo-1)*auditPageSize)
	rows, err := a.opts.DB.Query(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) { return scanAuditRow(r) })
	if err != nil {
		return err
	}
	pages := max((total+auditPageSize-1)/auditPageSize, 1)
	v := f.values()
	data := fiber.Map{"Filter": f, "Rows": list, "Total": total, "Page": pageNo, "Pages": pages, "Verify": verify,
		"ExportURL": "/admin/audit/export.csv?" + v.Encode(), "Outcomes": []string{audit.Success, audit.Failure, audit.Denied}}
	link := func(p int) string {
		w := f.values()
		w.Set("page", strconv.Itoa(p))
		return "/admin/audit?" + w.Encode()
	}
	if pageNo > 1 {
		data["PrevURL"] = link(pageNo - 1)
	}
	if pageNo < pages {
		data["NextURL"] = link(pageNo + 1)
	}
	return a.render(c, status, "admin_audit", page{Title: "审计日志", Nav: "admin-audit", Data: data})
}

func (a *App) adminAuditVerify(c *fiber.Ctx) error {
	res, err := audit.Verify(c.UserContext(), a.opts.DB)
	if err != nil {
		return err
	}
	outcome, detail := audit.Success, fmt.Sprintf("intact, %d rows", res.Rows)
	if res.BrokenAt != 0 {
		outcome, detail = audit.Failure, fmt.Sprintf("broken at row %d of %d: %s", res.BrokenAt, res.Rows, res.Reason)
	}
	if err := a.auditSelf(c, "audit.verify", detail, outcome); err != nil {
		return err
	}
	return a.renderAudit(c, fiber.StatusOK, &res)
}

// csvSafe keeps a spreadsheet from evaluating a cell as a formula (CSV injection): a value that
// starts with = + - @ or a control character gets a leading apostrophe. User names of failed
// logins are attacker-chosen. The database keeps the exact value; verify the chain there.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// adminAuditExport streams the filtered rows as CSV in chain order (ascending id), with the hash
// columns, without buffering the export in memory. The export is audited before it starts.
func (a *App) adminAuditExport(c *fiber.Ctx) error {
	f, err := parseAuditFilter(c)
	if err != nil {
		return err
	}
	if err := a.auditSelf(c, "audit.export", f.String(), audit.Success); err != nil {
		return err
	}
	where, args := f.where()
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="audit-%s.csv"`, time.Now().In(search.Location).Format("20060102-150405")))
	db, log := a.opts.ReadDB, a.log // a long read: the standby may serve it
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The request's context ends when the handler returns; the stream has its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		_, _ = w.WriteString("\ufeff") // BOM: spreadsheet programs then read UTF-8
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "at_utc", "user_id", "username", "client_ip", "action", "object", "label", "outcome", "detail", "prev_hash", "hash"})
		rows, err := db.Query(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+` ORDER BY id`, args...)
		if err != nil {
			log.Error("audit export failed", "err", err)
			_ = cw.Write([]string{"#error", "导出失败：" + err.Error()})
			cw.Flush()
			return
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			r, err := scanAuditRow(rows)
			if err != nil {
				log.Error("audit export failed", "err", err)
				break
			}
			uid, lbl := "", ""
			if r.UserID != nil {
				uid = strconv.FormatInt(*r.UserID, 10)
			}
			if r.Label != nil {
				lbl = label.Level(*r.Label).String()
			}
			_ = cw.Write([]string{strconv.FormatInt(r.ID, 10), r.UTC(), uid, csvSafe(r.Username), csvSafe(r.ClientIP), csvSafe(r.Action),
				csvSafe(r.Object), lbl, r.Outcome, csvSafe(r.Detail), r.PrevHashHex(), r.HashHex()})
			if n++; n%500 == 0 {
				cw.Flush()
				if cw.Error() != nil || w.Flush() != nil {
					return // the client went away
				}
			}
		}
		if err := rows.Err(); err != nil {
			log.Error("audit export failed", "err", err)
			_ = cw.Write([]string{"#error", "导出中断：" + err.Error()})
		}
		cw.Flush()
	})
	return nil
}
