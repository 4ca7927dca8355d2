package periodical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
)

// Editing a periodical definition (docs/periodicals.md, "Editing a definition"). Edits are
// audited, not versioned: issues never read the definition after they are created except for
// their sections and masthead while they are still being edited, and a signed issue is frozen in
// its snapshot; so the audit row (action periodical.update, a readable before → after of every
// changed field) is the history, and the edit page lists it.

// Version is an optimistic-concurrency token over the editable fields: an edit made from an
// older form is refused instead of silently overwriting a colleague's change. Creating an issue
// does not change it (the running number is checked on its own).
func (p Periodical) Version() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%q|%d|%q|%q|%q|%q|%d", p.Name, p.Level, p.Frequency, p.Classification, p.MastheadOrg, p.FooterNote,
		strings.Join(p.Sections, "\x1f"), strings.Join(p.Distribution, "\x1f"), p.SignerID)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// SectionChange is one row of the sections editor, in the new order: From is the current name
// ("" for a new section), To the new name; Retire takes it out of the list (its past issues keep
// it). A row with both empty is ignored.
type SectionChange struct {
	From, To string
	Retire   bool
}

// PeriodicalUpdate changes a definition. Code and kind are fixed once issues exist elsewhere
// (file numbers and scoring refer to them), so they are not editable.
type PeriodicalUpdate struct {
	Version                 string // Periodical.Version of the definition the form showed
	Name, Level, Frequency  string
	Classification          label.Level
	MastheadOrg, FooterNote string
	Distribution            []string
	Sections                []SectionChange
	SignerUsername          string // "" = no designated signer
	// NextTotal sets the running number (总第N期) of the next issue, e.g. when a paper series
	// moves into infowork; 0 keeps it. It can never go back to a number already issued.
	NextTotal int
}

// openStates are the states in which an issue still takes the definition's sections.
var openStates = []string{"draft", "correcting"}

// SectionUse counts, per section name, the issues of the periodical (any state except void)
// that have an item in it; names no longer in the definition are its retired sections.
func (s *Service) SectionUse(ctx context.Context, periodicalID int64) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT it.section, count(DISTINCT i.id) FROM periodical_issue_items it
		JOIN periodical_issues i ON i.id = it.issue_id
		WHERE i.periodical_id = $1 AND i.state <> 'void' AND it.removed_at IS NULL AND it.section <> ''
		GROUP BY it.section`, periodicalID)
	if err != nil {
		return nil, fmt.Errorf("periodical %d: section use: %w", periodicalID, err)
	}
	out := map[string]int{}
	var name string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil })
	return out, err
}

// RetiredSections are the section names past issues used that the definition no longer lists.
func RetiredSections(p Periodical, use map[string]int) []string {
	var out []string
	for name := range use {
		if !slices.Contains(p.Sections, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Change is one entry of a definition's edit history (from the audit log).
type Change struct {
	At       string
	Username string
	Detail   string
	Action   string // 创建 or 修改
}

// History lists the audited creation and edits of a definition, newest first.
func (s *Service) History(ctx context.Context, sub access.Subject, p Periodical, limit int) ([]Change, error) {
	if !canManage(sub) || !sub.Clearance.Dominates(p.Classification) {
		return nil, fmt.Errorf("periodical: history: %w", ErrForbidden)
	}
	rows, err := s.db.Query(ctx, `SELECT to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), username, detail,
			CASE action WHEN 'periodical.create' THEN '创建' ELSE '修改' END FROM audit_log
		WHERE object = $1 AND action IN ('periodical.create', 'periodical.update') ORDER BY id DESC LIMIT $2`,
		"periodical:"+strconv.FormatInt(p.ID, 10), limit)
	if err != nil {
		return nil, fmt.Errorf("periodical: history: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Change])
}

// UpdatePeriodical applies an edit in one transaction with its audit row. Refusals: a stale form
// (StateError, 409), bad fields (ValidationError, 422, zh-CN message per field), retiring a
// section that an issue being edited still uses, and numbering backwards.
func (s *Service) UpdatePeriodical(ctx context.Context, sub access.Subject, id int64, in PeriodicalUpdate, clientIP string) (Periodical, error) {
	if !canManage(sub) {
		return Periodical{}, fmt.Errorf("periodical: update: %w", ErrForbidden)
	}
	ve := &ValidationError{}
	in.Name = strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > 50 {
		ve.add("name", "刊物名称须为 1–50 个字")
	}
	if !slices.Contains(Levels, in.Level) {
		ve.add("level", "级别只能是 office、city、province 或 central")
	}
	if !slices.Contains(Frequencies, in.Frequency) {
		ve.add("frequency", "刊期只能是 daily、weekly、monthly 或 irregular")
	}
	if !in.Classification.Valid() {
		ve.add("classification", "密级无效")
	} else if !sub.Clearance.Dominates(in.Classification) {
		ve.add("classification", "不能设置高于本人密级的刊物密级")
	}
	in.MastheadOrg, in.FooterNote = strings.TrimSpace(in.MastheadOrg), strings.TrimSpace(in.FooterNote)
	if utf8.RuneCountInString(in.MastheadOrg) > 100 {
		ve.add("masthead_org", "版头编印单位最多 100 个字")
	}
	if utf8.RuneCountInString(in.FooterNote) > 200 {
		ve.add("footer_note", "版记印发单位最多 200 个字")
	}
	for _, d := range in.Distribution {
		if utf8.RuneCountInString(strings.TrimSpace(d)) > 100 {
			ve.add("distribution", fmt.Sprintf("分送单位「%s」超过 100 个字", truncateRunes(strings.TrimSpace(d), 20)))
		}
	}
	dist := cleanList(in.Distribution, 100)
	if len(dist) == 0 {
		ve.add("distribution", "分送范围（版记“报”）至少一个")
	}
	if in.NextTotal < 0 {
		ve.add("next_total", "下一期总期号须为正整数")
	}
	if err := ve.err(); err != nil {
		return Periodical{}, err
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, selectPeriodical+` WHERE p.id = $1 FOR UPDATE OF p`, id)
		if err != nil {
			return err
		}
		old, err := pgx.CollectExactlyOneRow(rows, scanPeriodical)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !sub.Clearance.Dominates(old.Classification) {
			return fmt.Errorf("periodical %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if in.Version != old.Version() {
			return stateErr("刊物定义已被他人修改，请刷新页面查看最新内容后重新修改")
		}
		sections, renames, retired, ve := planSections(old.Sections, in.Sections)
		if ve != nil {
			return ve
		}
		// A section an issue being edited still files items under cannot be retired: the
		// editor would lose the heading those items stand under.
		for _, r := range retired {
			var issues, items int
			if err := tx.QueryRow(ctx, `SELECT count(DISTINCT i.id), count(*) FROM periodical_issue_items it
				JOIN periodical_issues i ON i.id = it.issue_id
				WHERE i.periodical_id = $1 AND i.state = ANY($2) AND it.section = $3 AND it.removed_at IS NULL`,
				id, openStates, r).Scan(&issues, &items); err != nil {
				return err
			}
			if items > 0 {
				return &ValidationError{Fields: map[string]string{"sections": fmt.Sprintf(
					"栏目「%s」在 %d 个编辑中的期次里还有 %d 条稿件，不能停用：请先把这些稿件移到其他栏目或移出本期", r, issues, items)}}
			}
		}
		var signerID *int64
		if in.SignerUsername = strings.TrimSpace(in.SignerUsername); in.SignerUsername != "" {
			var uid int64
			var roles []string
			if err := tx.QueryRow(ctx, `SELECT id, roles FROM users WHERE username = $1 AND disabled_at IS NULL`, in.SignerUsername).Scan(&uid, &roles); err != nil || !slices.Contains(roles, access.RoleSigner) {
				return &ValidationError{Fields: map[string]string{"signer": fmt.Sprintf("签发人 %q 不存在或没有签发人角色", in.SignerUsername)}}
			}
			signerID = &uid
		}
		lastTotal := old.LastTotal
		if in.NextTotal > 0 && in.NextTotal != old.LastTotal+1 {
			var issued int
			if err := tx.QueryRow(ctx, `SELECT COALESCE(max(total_number), 0) FROM periodical_issues WHERE periodical_id = $1`, id).Scan(&issued); err != nil {
				return err
			}
			if in.NextTotal <= issued {
				return &ValidationError{Fields: map[string]string{"next_total": fmt.Sprintf(
					"下一期总期号不能小于 %d：本刊已出到总第 %d 期，期号不能重复", issued+1, issued)}}
			}
			lastTotal = in.NextTotal - 1
		}
		if _, err := tx.Exec(ctx, `UPDATE periodicals SET name = $2, level = $3, frequency = $4, classification = $5, masthead_org = $6,
				footer_note = $7, distribution = $8, sections = $9, signer_id = $10, last_total = $11, updated_at = now() WHERE id = $1`,
			id, in.Name, in.Level, in.Frequency, int(in.Classification), in.MastheadOrg, in.FooterNote, dist, sections, signerID, lastTotal); err != nil {
			return err
		}
		// Renames carry over to the issues still being edited (their items and their own
		// section order); signed issues keep the name they were signed with.
		if len(renames) > 0 {
			from, to := make([]string, 0, len(renames)), make([]string, 0, len(renames))
			for f, t := range renames {
				from, to = append(from, f), append(to, t)
			}
			if _, err := tx.Exec(ctx, `UPDATE periodical_issue_items it SET section = m.t
				FROM unnest($2::text[], $3::text[]) AS m(f, t), periodical_issues i
				WHERE it.section = m.f AND i.id = it.issue_id AND i.periodical_id = $1 AND i.state = ANY($4) AND it.removed_at IS NULL`,
				id, from, to, openStates); err != nil {
				return err
			}
			orows, err := tx.Query(ctx, `SELECT id, section_order FROM periodical_issues
				WHERE periodical_id = $1 AND state = ANY($2) AND cardinality(section_order) > 0 FOR UPDATE`, id, openStates)
			if err != nil {
				return err
			}
			type order struct {
				ID    int64
				Order []string
			}
			orders, err := pgx.CollectRows(orows, pgx.RowToStructByPos[order])
			if err != nil {
				return err
			}
			for _, o := range orders {
				for i, name := range o.Order {
					if t, ok := renames[name]; ok {
						o.Order[i] = t
					}
				}
				if _, err := tx.Exec(ctx, `UPDATE periodical_issues SET section_order = $2, updated_at = now() WHERE id = $1`, o.ID, o.Order); err != nil {
					return err
				}
			}
		}
		now := old
		now.Name, now.Level, now.Frequency, now.Classification = in.Name, in.Level, in.Frequency, in.Classification
		now.MastheadOrg, now.FooterNote, now.Distribution, now.Sections, now.SignerUsername, now.LastTotal =
			in.MastheadOrg, in.FooterNote, dist, sections, in.SignerUsername, lastTotal
		detail := describeChanges(old, now, renames, retired)
		if detail == "" {
			detail = "未作修改"
		}
		lv := int(in.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "periodical.update", Object: "periodical:" + strconv.FormatInt(id, 10), Label: &lv, Detail: truncateRunes(detail, 2000)})
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return Periodical{}, ve
		}
		return Periodical{}, fmt.Errorf("periodical: update %d: %w", id, err)
	}
	return s.Periodical(ctx, id)
}

// planSections turns the editor's rows into the new list, the renames (old → new) and the
// retired names; every current section must appear exactly once.
func planSections(current []string, rows []SectionChange) (sections []string, renames map[string]string, retired []string, _ *ValidationError) {
	ve := &ValidationError{}
	sections, renames = []string{}, map[string]string{}
	seen := map[string]bool{}
	for _, r := range rows {
		r.From, r.To = strings.TrimSpace(r.From), strings.TrimSpace(r.To)
		switch {
		case r.From == "" && r.To == "":
			continue
		case r.From != "" && !slices.Contains(current, r.From):
			ve.add("sections", fmt.Sprintf("栏目「%s」不在本刊的栏目中，请刷新页面后重试", r.From))
			continue
		case r.From != "" && seen[r.From]:
			ve.add("sections", fmt.Sprintf("栏目「%s」出现了两次", r.From))
			continue
		}
		if r.From != "" {
			seen[r.From] = true
		}
		if r.Retire {
			if r.From != "" {
				retired = append(retired, r.From)
			}
			continue
		}
		if r.To == "" {
			ve.add("sections", fmt.Sprintf("栏目「%s」的名称不能为空（不再使用请勾选“停用”）", r.From))
			continue
		}
		if utf8.RuneCountInString(r.To) > 20 {
			ve.add("sections", fmt.Sprintf("栏目名称「%s」超过 20 个字", truncateRunes(r.To, 20)))
			continue
		}
		if slices.Contains(sections, r.To) {
			ve.add("sections", fmt.Sprintf("栏目名称「%s」重复", r.To))
			continue
		}
		sections = append(sections, r.To)
		if r.From != "" && r.From != r.To {
			renames[r.From] = r.To
		}
	}
	for _, c := range current {
		if !seen[c] {
			ve.add("sections", fmt.Sprintf("栏目「%s」未提交（改名、调整顺序或停用都须保留该行），请刷新页面后重试", c))
		}
	}
	if len(ve.Fields) > 0 {
		return nil, nil, nil, ve
	}
	return sections, renames, retired, nil
}

// describeChanges is the audit detail: every changed field, before → after, in zh-CN.
func describeChanges(old, now Periodical, renames map[string]string, retired []string) string {
	var parts []string
	add := func(field, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s：%s → %s", field, orNone(a), orNone(b)))
		}
	}
	add("名称", old.Name, now.Name)
	add("级别", LevelName(old.Level), LevelName(now.Level))
	add("刊期", FrequencyName(old.Frequency), FrequencyName(now.Frequency))
	add("密级", old.Classification.Chinese(), now.Classification.Chinese())
	add("版头编印单位", old.MastheadOrg, now.MastheadOrg)
	add("版记印发单位", old.FooterNote, now.FooterNote)
	add("分送范围", strings.Join(old.Distribution, "、"), strings.Join(now.Distribution, "、"))
	add("签发人", old.SignerUsername, now.SignerUsername)
	if old.LastTotal != now.LastTotal {
		parts = append(parts, fmt.Sprintf("下一期总期号：%d → %d", old.LastTotal+1, now.LastTotal+1))
	}
	if !slices.Equal(old.Sections, now.Sections) {
		var sec []string
		froms := make([]string, 0, len(renames))
		for f := range renames {
			froms = append(froms, f)
		}
		slices.Sort(froms)
		for _, f := range froms {
			sec = append(sec, fmt.Sprintf("「%s」改名为「%s」", f, renames[f]))
		}
		for _, r := range retired {
			sec = append(sec, fmt.Sprintf("停用「%s」", r))
		}
		for _, n := range now.Sections {
			if !slices.Contains(old.Sections, n) && !slices.Contains(froms, n) {
				renamed := false
				for _, t := range renames {
					renamed = renamed || t == n
				}
				if !renamed {
					sec = append(sec, fmt.Sprintf("新增「%s」", n))
				}
			}
		}
		sec = append(sec, "顺序 "+orNone(strings.Join(now.Sections, "、")))
		parts = append(parts, "栏目："+strings.Join(sec, "，"))
	}
	return strings.Join(parts, "；")
}

func orNone(s string) string {
	if s == "" {
		return "（无）"
	}
	return s
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
