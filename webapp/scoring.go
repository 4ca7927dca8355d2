package webapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/audit"
	"infowork/auth"
	"infowork/scoring"
	"infowork/search"
)

// Scoring (考核): the system administrator edits the year's rules (configuration); the office
// (editor, signer, leader, researcher) reads league tables and ledgers; editors and signers
// record events from outside the system (an adoption by a higher level, an endorsement) and
// settle monthly quotas; signers publish (freeze) league tables. A unit reads its own ledger.

func canEditRules(u auth.User) bool { return u.Subject().Has(access.RoleSysAdmin) }
func canScoreEvents(u auth.User) bool {
	s := u.Subject()
	return s.Has(access.RoleEditor) || s.Has(access.RoleSigner)
}
func canPublish(u auth.User) bool    { return u.Subject().Has(access.RoleSigner) }
func canReadScores(u auth.User) bool { return u.Subject().AllUnits() || canEditRules(u) }

func scoringError(err error) error {
	var ve *scoring.ValidationError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: ve.Field + "：" + ve.Message,
			fields: map[string]string{ve.Field: ve.Message}}
	case errors.Is(err, scoring.ErrNoRules):
		return errStatus(fiber.StatusNotFound, "not_found", "该年度尚未设定考核规则")
	case errors.Is(err, scoring.ErrPublished):
		return errStatus(fiber.StatusConflict, "conflict", "该期间的通报已发布并冻结，不能重复发布")
	case errors.Is(err, scoring.ErrNotFound):
		return errStatus(fiber.StatusNotFound, "not_found", "该期间的通报尚未发布")
	case errors.Is(err, scoring.ErrNoBrowser):
		return errStatus(fiber.StatusServiceUnavailable, "unavailable", "服务器未安装 Chromium，暂不能生成 PDF")
	}
	return err
}

func yearParam(c *fiber.Ctx) (int, error) {
	return intParam(c, "year", time.Now().In(search.Location).Year(), 2000, 2100)
}

// scoringYear is the year asked for, else the year of the newest scoring event.
func (a *App) scoringYear(c *fiber.Ctx) (int, error) {
	if c.Query("year") != "" {
		return yearParam(c)
	}
	return a.stats.scoring.LatestYear(c.UserContext(), time.Now())
}

func (a *App) scoringPage(c *fiber.Ctx) error {
	u := sessionOf(c).User
	sub := u.Subject()
	ctx := c.UserContext()
	if err := a.syncScores(ctx, false); err != nil {
		return err
	}
	year, err := a.scoringYear(c)
	if err != nil {
		return err
	}
	data := fiber.Map{"Year": year, "CanEdit": canEditRules(u), "CanEvents": canScoreEvents(u), "CanPublish": canPublish(u),
		"AdoptionLevels": scoring.AdoptionLevels, "LeaderLevels": scoring.LeaderLevels, "Kinds": scoring.Kinds}
	if !canReadScores(u) && !sub.CanSubmit() {
		return errStatus(fiber.StatusForbidden, "forbidden", "当前账户无权查看考核")
	}
	sets, err := a.stats.scoring.RuleSets(ctx, year)
	if err != nil {
		return err
	}
	data["RuleSets"] = sets
	rules := scoring.DefaultRules()
	if len(sets) > 0 {
		rules = sets[0].Rules
	}
	raw, _ := json.MarshalIndent(rules, "", "  ")
	data["RulesJSON"] = string(raw)
	if u.Subject().Has(access.RoleSysAdmin) {
		return a.render(c, fiber.StatusOK, "scoring", page{Title: "考核规则", Nav: "scoring", Flash: scoringFlash(c), Data: data})
	}
	periodKey := c.Query("period", strconv.Itoa(year))
	p, err := scoring.ParsePeriod(periodKey)
	if err != nil {
		return scoringError(err)
	}
	data["Period"] = p
	if canReadScores(u) {
		if t, err := a.stats.scoring.Published(ctx, p); err == nil {
			data["Table"] = t
			data["Frozen"] = true
		} else if errors.Is(err, scoring.ErrNotFound) {
			t, err := a.stats.scoring.Compute(ctx, p)
			if err != nil && !errors.Is(err, scoring.ErrNoRules) {
				return err
			}
			if err == nil {
				data["Table"] = t
			}
		} else {
			return err
		}
		pubs, err := a.stats.scoring.PublishedList(ctx)
		if err != nil {
			return err
		}
		data["Published"] = pubs
	}
	unitCode := sub.UnitCode
	if canReadScores(u) && c.Query("unit") != "" {
		unitCode = c.Query("unit")
	}
	if unitCode != "" && (canReadScores(u) || unitCode == sub.UnitCode) {
		ledger, err := a.stats.scoring.Ledger(ctx, unitCode, year, c.Query("history") == "1")
		if err != nil {
			return err
		}
		var total float64
		for _, l := range ledger {
			if !l.Superseded {
				total += l.Points
			}
		}
		data["LedgerUnit"], data["Ledger"], data["LedgerTotal"], data["History"] = unitCode, ledger, total, c.Query("history") == "1"
	}
	return a.render(c, fiber.StatusOK, "scoring", page{Title: "信息工作考核", Nav: "scoring", Flash: scoringFlash(c), Data: data})
}

func scoringFlash(c *fiber.Ctx) string {
	return map[string]string{"rules": "考核规则已保存为新版本，本年度台账已按新规则重算（旧记录保留为历史）。",
		"event": "计分事件已记录。", "duplicate": "该来源的事件已记录过，未重复计分。", "month": "月度定额已结算。",
		"published": "通报已发布并冻结。"}[c.Query("flash")]
}

func (a *App) auditScoring(c *fiber.Ctx, action, object, detail string) error {
	u := sessionOf(c).User
	return audit.Write(c.UserContext(), a.opts.DB, audit.Event{UserID: u.ID, Username: u.Username, ClientIP: clientIP(c),
		Action: action, Object: object, Detail: detail})
}

func (a *App) scoringSaveRules(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canEditRules(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有系统管理员可以修改考核规则")
	}
	year, err := strconv.Atoi(c.FormValue("year"))
	if err != nil {
		return errStatus(fiber.StatusBadRequest, "bad_request", "年度无效")
	}
	r, err := scoring.ParseRules([]byte(c.FormValue("rules")))
	if err != nil {
		return scoringError(err)
	}
	rs, err := a.stats.scoring.SaveRules(c.UserContext(), year, r, strings.TrimSpace(c.FormValue("note")), u.Username)
	if err != nil {
		return scoringError(err)
	}
	if err := a.auditScoring(c, "scoring.rules", fmt.Sprintf("scoring_rules:%d", rs.ID), fmt.Sprintf("%d 第%d版", year, rs.Version)); err != nil {
		return err
	}
	return c.Redirect(fmt.Sprintf("/scoring?year=%d&flash=rules", year), fiber.StatusSeeOther)
}

func (a *App) scoringRecordEvent(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canScoreEvents(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有编辑或签发人可以录入计分事件")
	}
	ctx := c.UserContext()
	var unitID int64
	if err := a.opts.DB.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, c.FormValue("unit")).Scan(&unitID); err != nil {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "单位代码不存在", fields: map[string]string{"unit": "单位代码不存在"}}
	}
	on, err := time.ParseInLocation("2006-01-02", c.FormValue("date"), search.Location)
	if err != nil {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "日期格式应为 YYYY-MM-DD", fields: map[string]string{"date": "格式应为 YYYY-MM-DD"}}
	}
	var subID int64
	if v := c.FormValue("submission"); v != "" {
		if subID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "信息编号无效"}
		}
		// Only a record the editor may read, of that unit.
		if _, err := a.opts.Submissions.Get(ctx, u.Subject(), subID, clientIP(c)); err != nil {
			return err
		}
	}
	ref := strings.TrimSpace(c.FormValue("ref"))
	if ref == "" {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "请填写来源文号（用于防止重复计分）", fields: map[string]string{"ref": "必填"}}
	}
	e := scoring.Event{Kind: c.FormValue("kind"), Source: "manual:" + ref, UnitID: unitID, SubmissionID: subID, OccurredAt: on.Add(12 * time.Hour),
		Attrs: scoring.Attrs{Level: c.FormValue("level"), ItemType: strings.TrimSpace(c.FormValue("item_type")), Merged: c.FormValue("merged") == "1",
			Leader: strings.TrimSpace(c.FormValue("leader")), Note: strings.TrimSpace(c.FormValue("note"))}, RecordedBy: u.Username}
	ok, err := a.stats.scoring.RecordManual(ctx, e)
	if err != nil {
		return scoringError(err)
	}
	if !ok {
		return c.Redirect("/scoring?flash=duplicate", fiber.StatusSeeOther)
	}
	if err := a.auditScoring(c, "scoring.event", e.Source, e.Kind+" "+c.FormValue("unit")); err != nil {
		return err
	}
	return c.Redirect("/scoring?flash=event&unit="+url.QueryEscape(c.FormValue("unit")), fiber.StatusSeeOther)
}

func (a *App) scoringCloseMonth(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canScoreEvents(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有编辑或签发人可以结算定额")
	}
	month := c.FormValue("month")
	n, err := a.stats.scoring.CloseMonth(c.UserContext(), month, time.Now(), u.Username)
	if err != nil {
		return scoringError(err)
	}
	if err := a.auditScoring(c, "scoring.close_month", "quota:"+month, fmt.Sprintf("%d 个单位", n)); err != nil {
		return err
	}
	return c.Redirect("/scoring?flash=month&period="+url.QueryEscape(month), fiber.StatusSeeOther)
}

func (a *App) scoringPublish(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canPublish(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有签发人可以发布通报")
	}
	p, err := scoring.ParsePeriod(c.FormValue("period"))
	if err != nil {
		return scoringError(err)
	}
	if err := a.syncScores(c.UserContext(), true); err != nil {
		return err
	}
	t, err := a.stats.scoring.Publish(c.UserContext(), p, u.Username)
	if err != nil {
		return scoringError(err)
	}
	if err := a.auditScoring(c, "scoring.publish", "league:"+p.Key, t.SHA256); err != nil {
		return err
	}
	return c.Redirect("/scoring?flash=published&period="+url.QueryEscape(p.Key), fiber.StatusSeeOther)
}

// scoringLeagueFile serves a league table as XLSX or PDF: the frozen one when published, else
// the current computation (marked as a draft in the file).
func (a *App) scoringLeagueFile(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canReadScores(u) || canEditRules(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "当前账户无权导出通报")
	}
	p, err := scoring.ParsePeriod(c.Query("period"))
	if err != nil {
		return scoringError(err)
	}
	ctx := c.UserContext()
	t, err := a.stats.scoring.Published(ctx, p)
	if errors.Is(err, scoring.ErrNotFound) {
		t, err = a.stats.scoring.Compute(ctx, p)
	}
	if err != nil {
		return scoringError(err)
	}
	var body []byte
	var ctype, ext string
	if strings.HasSuffix(c.Path(), ".pdf") {
		body, err = t.PDF(ctx)
		ctype, ext = "application/pdf", "pdf"
	} else {
		body, err = t.XLSX()
		ctype, ext = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
	}
	if err != nil {
		return scoringError(err)
	}
	if err := a.auditScoring(c, "scoring.export", "league:"+p.Key, ext); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="league-`+p.Key+`.`+ext+`"; filename*=UTF-8''`+url.PathEscape(t.Title+"."+ext))
	return c.Send(body)
}

func (a *App) apiScoringRules(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canReadScores(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "当前账户无权查看考核规则")
	}
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	rs, err := a.stats.scoring.ActiveRules(c.UserContext(), year)
	if err != nil {
		return scoringError(err)
	}
	return c.JSON(ruleSetJSON(rs))
}

func ruleSetJSON(rs scoring.RuleSet) fiber.Map {
	return fiber.Map{"year": rs.Year, "version": rs.Version, "rules": rs.Rules, "note": rs.Note, "created_by": rs.CreatedBy,
		"created_at": rs.CreatedAt.UTC().Format(time.RFC3339)}
}

func (a *App) apiScoringSaveRules(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canEditRules(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有系统管理员可以修改考核规则")
	}
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	var body struct {
		Rules json.RawMessage `json:"rules"`
		Note  string          `json:"note"`
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil || len(body.Rules) == 0 {
		return errStatus(fiber.StatusBadRequest, "bad_request", `请求体必须是 JSON：{"rules":{…},"note":"…"}`)
	}
	r, err := scoring.ParseRules(body.Rules)
	if err != nil {
		return scoringError(err)
	}
	rs, err := a.stats.scoring.SaveRules(c.UserContext(), year, r, body.Note, u.Username)
	if err != nil {
		return scoringError(err)
	}
	if err := a.auditScoring(c, "scoring.rules", fmt.Sprintf("scoring_rules:%d", rs.ID), fmt.Sprintf("%d 第%d版", year, rs.Version)); err != nil {
		return err
	}
	return c.JSON(ruleSetJSON(rs))
}

func (a *App) apiScoringLeague(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if !canReadScores(u) || canEditRules(u) {
		return errStatus(fiber.StatusForbidden, "forbidden", "当前账户无权查看通报")
	}
	ctx := c.UserContext()
	if err := a.syncScores(ctx, false); err != nil {
		return err
	}
	year, err := a.scoringYear(c)
	if err != nil {
		return err
	}
	p, err := scoring.ParsePeriod(c.Query("period", strconv.Itoa(year)))
	if err != nil {
		return scoringError(err)
	}
	t, err := a.stats.scoring.Published(ctx, p)
	published := err == nil
	if errors.Is(err, scoring.ErrNotFound) {
		t, err = a.stats.scoring.Compute(ctx, p)
	}
	if err != nil {
		return scoringError(err)
	}
	rows := t.Rows
	if rows == nil {
		rows = []scoring.Row{}
	}
	return c.JSON(fiber.Map{"period": p.Key, "title": t.Title, "rule_version": t.RuleVersion, "published": published, "sha256": t.SHA256, "rows": rows})
}
