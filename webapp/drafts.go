package webapp

// Drafts (稿件), merging reports with provenance (合稿), revisions, near-duplicate hints and
// solicitations (issue 5). Routes are registered in routes_drafts.go.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/dedup"
	"infowork/draft"
	"infowork/search"
	"infowork/solicitation"
	"infowork/submission"
	"infowork/workflow"
)

func (a *App) drafts() *draft.Service               { return draft.New(a.opts.DB, a.opts.Workflow) }
func (a *App) dedup() *dedup.Service                { return dedup.New(a.opts.DB) }
func (a *App) solicitations() *solicitation.Service { return solicitation.New(a.opts.DB) }

// draftError maps the domain errors of drafts and solicitations to HTTP errors; the rest goes
// through workflowError (credit transitions) and the common error handler.
func draftError(err error) error {
	var dv *draft.ValidationError
	var sv *solicitation.ValidationError
	var ce *draft.ConflictError
	var re *workflow.RefusedError
	var se *draft.SourceError
	switch {
	case errors.As(err, &se):
		// A source report refused its credit (locked by another editor, changed meanwhile, not
		// in a state that can be credited): the adoption was rolled back. The status and code of
		// the report's refusal, the message and submission_id naming the report.
		if he, ok := draftError(se.Err).(*httpError); ok {
			fields := map[string]string{}
			for k, v := range he.fields {
				fields[k] = v
			}
			fields["submission_id"] = strconv.FormatInt(se.SubmissionID, 10)
			return &httpError{status: he.status, code: he.code, message: se.Error(), fields: fields}
		}
	case errors.As(err, &ce):
		return &httpError{status: fiber.StatusConflict, code: "version_conflict", message: ce.Error(),
			fields: map[string]string{"version": strconv.FormatInt(ce.Current.Version, 10), "revision": strconv.Itoa(ce.Current.Revision)}}
	case errors.As(err, &dv):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: dv.Error(), fields: dv.Fields}
	case errors.As(err, &sv):
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: sv.Error(), fields: sv.Fields}
	case errors.As(err, &re):
		// A credit refused by the workflow (say a source locked by another editor): the status
		// and code of the refusal, the message naming the source.
		if he, ok := workflowError(re).(*httpError); ok {
			return &httpError{status: he.status, code: he.code, message: err.Error(), fields: he.fields}
		}
	}
	return workflowError(err)
}

// ids parses a list of ids given as repeated values or comma/space separated.
func parseIDs(vals []string) ([]int64, error) {
	var out []int64
	for _, v := range vals {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '，' || r == '、' || r == '#' }) {
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil || id <= 0 {
				return nil, &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed",
					message: fmt.Sprintf("信息编号 %q 无效", f), fields: map[string]string{"submissions": "信息编号须为正整数"}}
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// JSON shapes.

func draftJSON(d draft.Draft) fiber.Map {
	sources := make([]fiber.Map, 0, len(d.Sources))
	for _, s := range d.Sources {
		sources = append(sources, fiber.Map{"submission_id": s.SubmissionID, "title": s.Title, "unit": s.UnitCode, "unit_name": s.UnitName,
			"state": s.State, "span_runes": s.SpanRunes, "credit": s.Credit, "contributes": s.SpanRunes >= draft.MinCreditRunes})
	}
	spans := make([]fiber.Map, 0, len(d.Spans))
	for _, s := range d.Spans {
		spans = append(spans, fiber.Map{"submission_id": s.SubmissionID, "start": s.DstStart, "end": s.DstEnd,
			"source_start": s.SrcStart, "source_end": s.SrcEnd, "text": s.Text})
	}
	m := fiber.Map{"id": d.ID, "title": d.Title, "body": d.BodyText, "body_html": d.BodyHTML, "state": d.State,
		"state_name": draft.StateName(d.State), "classification": d.Classification.String(), "label_categories": nonNil(d.LabelCategories),
		"marking": d.Label().Chinese(), "revision": d.Revision, "version": d.Version, "created_by": d.CreatedBy,
		"created_at": d.CreatedAt.UTC().Format(time.RFC3339), "updated_at": d.UpdatedAt.UTC().Format(time.RFC3339),
		"adopted_at": nil, "sources": sources, "spans": spans}
	if d.AdoptedAt != nil {
		m["adopted_at"] = d.AdoptedAt.UTC().Format(time.RFC3339)
	}
	return m
}

func revisionJSON(r draft.Revision) fiber.Map {
	m := fiber.Map{"revision": r.Number, "title": r.Title, "body": r.BodyText, "body_html": r.BodyHTML, "author": r.Author,
		"note": r.Note, "restored_from": nil, "created_at": r.CreatedAt.UTC().Format(time.RFC3339)}
	if r.RestoredFrom != nil {
		m["restored_from"] = *r.RestoredFrom
	}
	return m
}

func diffJSON(ops []draft.DiffOp) []fiber.Map {
	out := make([]fiber.Map, 0, len(ops))
	for _, o := range ops {
		out = append(out, fiber.Map{"op": o.Op, "text": o.Text})
	}
	return out
}

func conflictJSON(ce *draft.ConflictError) fiber.Map {
	return fiber.Map{"error": fiber.Map{"code": "version_conflict", "message": ce.Error(),
		"fields": fiber.Map{"version": strconv.FormatInt(ce.Current.Version, 10), "revision": strconv.Itoa(ce.Current.Revision)}},
		"current": draftJSON(ce.Current), "base_revision": ce.BaseRevision, "changed_by": ce.ChangedBy, "changes": diffJSON(ce.Changes)}
}

func matchJSON(ms []dedup.Match) []fiber.Map {
	out := make([]fiber.Map, 0, len(ms))
	for _, m := range ms {
		out = append(out, fiber.Map{"id": m.ID, "title": m.Title, "unit": m.UnitCode, "unit_name": m.UnitName, "state": m.State,
			"reported_at": m.ReportedAt.UTC().Format(time.RFC3339), "jaccard": round3(m.Score.Jaccard),
			"containment": round3(m.Score.Containment), "score": round3(m.Score.Value())})
	}
	return out
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

func solicitationJSON(s solicitation.Solicitation) fiber.Map {
	targets := make([]fiber.Map, 0, len(s.Targets))
	for _, t := range s.Targets {
		m := fiber.Map{"unit": t.UnitCode, "unit_name": t.UnitName, "status": t.Status, "submission_id": t.SubmissionID, "answered_at": nil}
		if t.AnsweredAt != nil {
			m["answered_at"] = t.AnsweredAt.UTC().Format(time.RFC3339)
		}
		targets = append(targets, m)
	}
	m := fiber.Map{"id": s.ID, "kind": s.Kind, "topic": s.Topic, "description": s.Description, "deadline": nil,
		"created_at": s.CreatedAt.UTC().Format(time.RFC3339), "targets": targets}
	if s.Deadline != nil {
		m["deadline"] = s.Deadline.UTC().Format(time.RFC3339)
	}
	return m
}

// API handlers.

// draftAPIError answers a refused draft operation in JSON: a version conflict with the other
// editor's changes (409, conflictJSON), anything else through draftError.
func draftAPIError(c *fiber.Ctx, err error) error {
	var ce *draft.ConflictError
	if errors.As(err, &ce) {
		return c.Status(fiber.StatusConflict).JSON(conflictJSON(ce))
	}
	return draftError(err)
}

func (a *App) apiDraftList(c *fiber.Ctx) error {
	st := c.Query("state")
	if st != "" && draft.StateName(st) == "" {
		return errStatus(fiber.StatusBadRequest, "bad_request", "state 只能是 editing、adopted 或 withdrawn")
	}
	list, err := a.drafts().List(c.UserContext(), sessionOf(c).User.Subject(), draft.ListOptions{State: st})
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(list))
	for _, d := range list {
		m := draftJSON(d)
		delete(m, "body_html")
		delete(m, "spans")
		items = append(items, m)
	}
	return c.JSON(fiber.Map{"items": items})
}

func (a *App) apiDraftCreate(c *fiber.Ctx) error {
	var b struct {
		Title       string  `json:"title"`
		BodyHTML    string  `json:"body_html"`
		Submissions []int64 `json:"submissions"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	d, err := a.drafts().Create(c.UserContext(), sessionOf(c).User.Subject(), draft.CreateInput{Title: b.Title, BodyHTML: b.BodyHTML,
		SubmissionIDs: b.Submissions, ClientIP: clientIP(c)})
	if err != nil {
		return draftError(err)
	}
	c.Location("/api/v1/drafts/" + strconv.FormatInt(d.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(draftJSON(d))
}

func (a *App) apiDraftGet(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	d, err := a.drafts().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	return c.JSON(draftJSON(d))
}

func (a *App) apiDraftSave(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Title        string `json:"title"`
		BodyHTML     string `json:"body_html"`
		Note         string `json:"note"`
		Version      int64  `json:"version"`
		BaseRevision int    `json:"base_revision"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	if b.Version <= 0 {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "请提供所编辑稿件的版本号 version",
			fields: map[string]string{"version": "必填"}}
	}
	d, err := a.drafts().Save(c.UserContext(), sessionOf(c).User.Subject(), id, draft.SaveInput{Title: b.Title, BodyHTML: b.BodyHTML,
		Note: b.Note, ExpectedVersion: b.Version, BaseRevision: b.BaseRevision, ClientIP: clientIP(c)})
	if err != nil {
		return draftAPIError(c, err)
	}
	return c.JSON(draftJSON(d))
}

func (a *App) apiDraftRevisions(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	revs, err := a.drafts().Revisions(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(revs))
	for _, r := range revs {
		m := revisionJSON(r)
		delete(m, "body_html")
		items = append(items, m)
	}
	return c.JSON(fiber.Map{"items": items})
}

// revisionPair loads revision n of draft id and the one it is compared with (?against=m,
// default n-1; revision 1 is compared with itself).
func (a *App) revisionPair(c *fiber.Ctx) (int64, draft.Revision, draft.Revision, error) {
	id, err := paramID(c)
	if err != nil {
		return 0, draft.Revision{}, draft.Revision{}, err
	}
	n, err := strconv.Atoi(c.Params("n"))
	if err != nil || n < 1 {
		return 0, draft.Revision{}, draft.Revision{}, errNotFound
	}
	sub := sessionOf(c).User.Subject()
	rev, err := a.drafts().GetRevision(c.UserContext(), sub, id, n)
	if err != nil {
		return 0, draft.Revision{}, draft.Revision{}, err
	}
	against := c.QueryInt("against", max(n-1, 1))
	base, err := a.drafts().GetRevision(c.UserContext(), sub, id, against)
	if err != nil {
		return 0, draft.Revision{}, draft.Revision{}, err
	}
	return id, rev, base, nil
}

func (a *App) apiDraftRevision(c *fiber.Ctx) error {
	_, rev, base, err := a.revisionPair(c)
	if err != nil {
		return err
	}
	m := revisionJSON(rev)
	m["against"] = base.Number
	m["diff"] = diffJSON(draft.Diff(base.BodyText, rev.BodyText))
	return c.JSON(m)
}

func versionOf(c *fiber.Ctx, v int64) error {
	if v <= 0 {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "请提供稿件的版本号 version",
			fields: map[string]string{"version": "必填"}}
	}
	return nil
}

func (a *App) apiDraftRestore(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Params("n"))
	if err != nil || n < 1 {
		return errNotFound
	}
	var b struct {
		Version int64 `json:"version"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	if err := versionOf(c, b.Version); err != nil {
		return err
	}
	d, err := a.drafts().Restore(c.UserContext(), sessionOf(c).User.Subject(), id, n, b.Version, clientIP(c))
	if err != nil {
		return draftAPIError(c, err)
	}
	return c.JSON(draftJSON(d))
}

func (a *App) apiDraftAdopt(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Version int64 `json:"version"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	if err := versionOf(c, b.Version); err != nil {
		return err
	}
	d, credits, err := a.drafts().Adopt(c.UserContext(), sessionOf(c).User.Subject(), id, b.Version, clientIP(c))
	if err != nil {
		return draftAPIError(c, err)
	}
	m := draftJSON(d)
	cs := make([]fiber.Map, 0, len(credits))
	for _, cr := range credits {
		cs = append(cs, fiber.Map{"submission_id": cr.SubmissionID, "unit": cr.UnitCode, "unit_name": cr.UnitName, "kind": cr.Kind,
			"kind_name": draft.CreditName(cr.Kind), "span_runes": cr.SpanRunes})
	}
	m["credits"] = cs
	return c.JSON(m)
}

func (a *App) apiDraftWithdraw(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Version int64  `json:"version"`
		Reason  string `json:"reason"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	if err := versionOf(c, b.Version); err != nil {
		return err
	}
	d, err := a.drafts().Withdraw(c.UserContext(), sessionOf(c).User.Subject(), id, b.Reason, b.Version, clientIP(c))
	if err != nil {
		return draftAPIError(c, err)
	}
	return c.JSON(draftJSON(d))
}

func (a *App) apiDraftAddSources(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	var b struct {
		Version     int64   `json:"version"`
		Submissions []int64 `json:"submissions"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	if err := versionOf(c, b.Version); err != nil {
		return err
	}
	d, err := a.drafts().AddSources(c.UserContext(), sessionOf(c).User.Subject(), id, b.Submissions, b.Version, clientIP(c))
	if err != nil {
		return draftAPIError(c, err)
	}
	return c.JSON(draftJSON(d))
}

func (a *App) apiSimilar(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	ms, err := a.dedup().Similar(c.UserContext(), sessionOf(c).User.Subject(), id, dedup.Options{})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "items": matchJSON(ms)})
}

// apiSimilarHints: near-duplicate hints for a list of reports at once (a queue: ?ids=1,2,3).
func (a *App) apiSimilarHints(c *fiber.Ctx) error {
	ids, err := parseIDs([]string{c.Query("ids")})
	if err != nil {
		return err
	}
	if len(ids) == 0 || len(ids) > 200 {
		return errStatus(fiber.StatusBadRequest, "bad_request", "ids 须为 1 到 200 个信息编号，以逗号分隔")
	}
	hints, err := a.dedup().Hints(c.UserContext(), sessionOf(c).User.Subject(), ids, dedup.Options{})
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(ids))
	for _, id := range ids {
		if ms, ok := hints[id]; ok {
			out = append(out, fiber.Map{"id": id, "items": matchJSON(ms)})
		}
	}
	return c.JSON(fiber.Map{"hints": out})
}

// apiSimilarText: near-duplicate hints for a text not yet saved (the intake form asks while the
// reporter writes).
func (a *App) apiSimilarText(c *fiber.Ctx) error {
	var b struct {
		Title    string `json:"title"`
		Body     string `json:"body"`
		BodyHTML string `json:"body_html"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	body := b.Body
	if strings.TrimSpace(b.BodyHTML) != "" {
		body = submission.HTMLToText(submission.SanitizeHTML(b.BodyHTML))
	}
	ms, err := a.dedup().SimilarText(c.UserContext(), sessionOf(c).User.Subject(), b.Title, body, dedup.Options{})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": matchJSON(ms)})
}

// apiCleanHTML returns pasted HTML cleaned by the body policy (the intake editor's paste from
// Word or WPS shows the writer what will be stored).
func (a *App) apiCleanHTML(c *fiber.Ctx) error {
	var b struct {
		HTML string `json:"html"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"html": submission.SanitizeHTML(b.HTML)})
}

func (a *App) apiSolicitationList(c *fiber.Ctx) error {
	list, err := a.solicitations().List(c.UserContext(), sessionOf(c).User.Subject())
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(list))
	for _, s := range list {
		items = append(items, solicitationJSON(s))
	}
	return c.JSON(fiber.Map{"items": items})
}

func (a *App) apiSolicitationGet(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	s, err := a.solicitations().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	return c.JSON(solicitationJSON(s))
}

func (a *App) apiSolicitationCreate(c *fiber.Ctx) error {
	var b struct {
		Kind        string   `json:"kind"`
		Topic       string   `json:"topic"`
		Description string   `json:"description"`
		Deadline    string   `json:"deadline"`
		Units       []string `json:"units"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	var deadline *time.Time
	if b.Deadline != "" {
		t, err := time.Parse(time.RFC3339, b.Deadline)
		if err != nil {
			return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "截止时间格式应为 RFC 3339（如 2026-06-30T18:00:00+08:00）",
				fields: map[string]string{"deadline": "格式错误"}}
		}
		deadline = &t
	}
	s, err := a.solicitations().Create(c.UserContext(), sessionOf(c).User.Subject(), solicitation.Input{Kind: b.Kind, Topic: b.Topic,
		Description: b.Description, Deadline: deadline, UnitCodes: b.Units, ClientIP: clientIP(c)})
	if err != nil {
		return draftError(err)
	}
	c.Location("/api/v1/solicitations/" + strconv.FormatInt(s.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(solicitationJSON(s))
}

// Pages.

type draftPage struct {
	Draft      draft.Draft
	Revisions  []draft.Revision
	CanEdit    bool
	Errors     map[string]string
	Conflict   *draft.ConflictError
	Title      string // the form's values (the user's, after a refused save)
	BodyHTML   string
	Note       string
	Version    int64
	BaseRev    int
	Highlights []highlight // the body text with provenance marks
	Credits    []draft.Credit
}

// highlight is a piece of the draft's text, with the source it came from (0: the editor's own).
type highlight struct {
	Text   string
	Source int64
	Index  int // 1-based position of the source, for the colour
}

func highlights(d draft.Draft) []highlight {
	rs := []rune(d.BodyText)
	owner := make([]int64, len(rs))
	// Text several reports share (a notice they all quote) matches each of them; the longest
	// span wins, because it runs on into the part only that report has.
	spans := slices.Clone(d.Spans)
	slices.SortStableFunc(spans, func(a, b draft.Span) int { return b.Runes() - a.Runes() })
	for _, s := range spans {
		for i := s.DstStart; i < s.DstEnd && i < len(rs); i++ {
			if owner[i] == 0 {
				owner[i] = s.SubmissionID
			}
		}
	}
	pos := map[int64]int{}
	for _, s := range d.Sources {
		pos[s.SubmissionID] = s.Position
	}
	var out []highlight
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && owner[j] == owner[i] {
			j++
		}
		out = append(out, highlight{Text: string(rs[i:j]), Source: owner[i], Index: pos[owner[i]]})
		i = j
	}
	return out
}

func canEditDrafts(s access.Subject) bool { return s.Has(access.RoleEditor) }

func (a *App) draftList(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	if !sub.AllUnits() {
		return submission.ErrForbidden
	}
	st := c.Query("state")
	if st != "" && draft.StateName(st) == "" {
		st = ""
	}
	list, err := a.drafts().List(c.UserContext(), sub, draft.ListOptions{State: st})
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "drafts", page{Title: "稿件", Nav: "drafts", Flash: draftFlash(c),
		Data: fiber.Map{"Drafts": list, "State": st, "CanEdit": canEditDrafts(sub)}})
}

func draftFlash(c *fiber.Ctx) string {
	switch c.Query("flash") {
	case "created":
		return "稿件已生成。正文中取自各条信息的文字会自动标注来源。"
	case "saved":
		return "已保存为新的一稿。"
	case "restored":
		return "已恢复为新的一稿（原有各稿保留）。"
	case "adopted":
		return "稿件已采用，来源信息的报送单位已按采用情况自动计分。"
	case "withdrawn":
		return "稿件已撤销并存档，历史各稿仍可查看。"
	case "sources":
		return "已合并所选信息。请把需要的内容编入正文后保存。"
	}
	return ""
}

func (a *App) draftCreate(c *fiber.Ctx) error {
	ids, err := parseIDs(formValues(c, "submissions"))
	if err != nil {
		return err
	}
	d, err := a.drafts().Create(c.UserContext(), sessionOf(c).User.Subject(), draft.CreateInput{Title: c.FormValue("title"),
		SubmissionIDs: ids, ClientIP: clientIP(c)})
	if err != nil {
		return draftError(err)
	}
	return c.Redirect("/drafts/"+strconv.FormatInt(d.ID, 10)+"?flash=created", fiber.StatusSeeOther)
}

func (a *App) renderDraft(c *fiber.Ctx, status int, d draft.Draft, p draftPage, msg string) error {
	sub := sessionOf(c).User.Subject()
	revs, err := a.drafts().Revisions(c.UserContext(), sub, d.ID)
	if err != nil {
		return err
	}
	p.Draft, p.Revisions, p.CanEdit = d, revs, canEditDrafts(sub) && d.State == draft.StateEditing
	if p.Version == 0 {
		p.Title, p.BodyHTML, p.Version, p.BaseRev = d.Title, d.BodyHTML, d.Version, d.Revision
	}
	p.Highlights = highlights(d)
	return a.render(c, status, "draft_show", page{Title: d.Title, Nav: "drafts", Flash: draftFlash(c), Error: msg, Data: p})
}

func (a *App) draftShow(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	d, err := a.drafts().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	return a.renderDraft(c, fiber.StatusOK, d, draftPage{}, "")
}

func formInt64(c *fiber.Ctx, key string) int64 {
	v, _ := strconv.ParseInt(c.FormValue(key), 10, 64)
	return v
}

// draftPageError renders the draft page again with the refusal: a conflict shows the other
// editor's changes and keeps the user's text in the form (based on the current version now, so
// saving again is a deliberate overwrite of what they have seen).
func (a *App) draftPageError(c *fiber.Ctx, id int64, err error, p draftPage) error {
	var ce *draft.ConflictError
	if errors.As(err, &ce) {
		p.Conflict = ce
		p.Version, p.BaseRev = ce.Current.Version, ce.Current.Revision
		return a.renderDraft(c, fiber.StatusConflict, ce.Current, p, ce.Error())
	}
	he := classify(draftError(err))
	if he.status == fiber.StatusUnprocessableEntity || he.status == fiber.StatusConflict {
		d, gerr := a.drafts().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
		if gerr != nil {
			return gerr
		}
		p.Errors = he.fields
		if p.Version == 0 {
			p.Version, p.BaseRev = d.Version, d.Revision
		}
		return a.renderDraft(c, he.status, d, p, he.message)
	}
	return draftError(err)
}

func (a *App) draftSave(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	in := draft.SaveInput{Title: c.FormValue("title"), BodyHTML: c.FormValue("body_html"), Note: c.FormValue("note"),
		ExpectedVersion: formInt64(c, "version"), BaseRevision: int(formInt64(c, "base_revision")), ClientIP: clientIP(c)}
	_, err = a.drafts().Save(c.UserContext(), sessionOf(c).User.Subject(), id, in)
	if err != nil {
		return a.draftPageError(c, id, err, draftPage{Title: in.Title, BodyHTML: submission.SanitizeHTML(in.BodyHTML), Note: in.Note,
			Version: in.ExpectedVersion, BaseRev: in.BaseRevision})
	}
	return c.Redirect("/drafts/"+strconv.FormatInt(id, 10)+"?flash=saved", fiber.StatusSeeOther)
}

func (a *App) draftAction(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	sub := sessionOf(c).User.Subject()
	v := formInt64(c, "version")
	var flash string
	switch c.Params("action") {
	case "adopt":
		_, _, err = a.drafts().Adopt(c.UserContext(), sub, id, v, clientIP(c))
		flash = "adopted"
	case "withdraw":
		_, err = a.drafts().Withdraw(c.UserContext(), sub, id, c.FormValue("reason"), v, clientIP(c))
		flash = "withdrawn"
	case "sources":
		var ids []int64
		if ids, err = parseIDs(formValues(c, "submissions")); err == nil {
			_, err = a.drafts().AddSources(c.UserContext(), sub, id, ids, v, clientIP(c))
		}
		flash = "sources"
	default:
		return errNotFound
	}
	if err != nil {
		return a.draftPageError(c, id, err, draftPage{})
	}
	return c.Redirect("/drafts/"+strconv.FormatInt(id, 10)+"?flash="+flash, fiber.StatusSeeOther)
}

func (a *App) draftRevisionShow(c *fiber.Ctx) error {
	id, rev, base, err := a.revisionPair(c)
	if err != nil {
		return err
	}
	d, err := a.drafts().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "draft_revision", page{Title: fmt.Sprintf("%s · 第 %d 稿", d.Title, rev.Number), Nav: "drafts",
		Data: fiber.Map{"Draft": d, "Rev": rev, "Base": base, "Diff": draft.Diff(base.BodyText, rev.BodyText),
			"TitleChanged": base.Title != rev.Title, "CanEdit": canEditDrafts(sessionOf(c).User.Subject()) && d.State == draft.StateEditing}})
}

func (a *App) draftRestore(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Params("n"))
	if err != nil || n < 1 {
		return errNotFound
	}
	if _, err := a.drafts().Restore(c.UserContext(), sessionOf(c).User.Subject(), id, n, formInt64(c, "version"), clientIP(c)); err != nil {
		return a.draftPageError(c, id, err, draftPage{})
	}
	return c.Redirect("/drafts/"+strconv.FormatInt(id, 10)+"?flash=restored", fiber.StatusSeeOther)
}

func (a *App) solicitationListPage(c *fiber.Ctx) error {
	sub := sessionOf(c).User.Subject()
	list, err := a.solicitations().List(c.UserContext(), sub)
	if err != nil {
		return err
	}
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "solicitations", page{Title: "约稿与报送要点", Nav: "solicitations", Flash: solicitationFlash(c),
		Data: fiber.Map{"Items": list, "CanCreate": sub.Has(access.RoleEditor), "Units": n.unitList, "Now": time.Now()}})
}

func solicitationFlash(c *fiber.Ctx) string {
	if c.Query("flash") == "created" {
		return "已发布。约稿单位在新建报送时可选择答复。"
	}
	return ""
}

func (a *App) solicitationCreatePage(c *fiber.Ctx) error {
	var deadline *time.Time
	if v := c.FormValue("deadline"); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", v, search.Location)
		if err != nil {
			return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "截止时间格式不正确"}
		}
		deadline = &t
	}
	s, err := a.solicitations().Create(c.UserContext(), sessionOf(c).User.Subject(), solicitation.Input{Kind: c.FormValue("kind"),
		Topic: c.FormValue("topic"), Description: c.FormValue("description"), Deadline: deadline, UnitCodes: formValues(c, "units"), ClientIP: clientIP(c)})
	if err != nil {
		return draftError(err)
	}
	return c.Redirect("/solicitations/"+strconv.FormatInt(s.ID, 10)+"?flash=created", fiber.StatusSeeOther)
}

func (a *App) solicitationShowPage(c *fiber.Ctx) error {
	id, err := paramID(c)
	if err != nil {
		return err
	}
	s, err := a.solicitations().Get(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return err
	}
	return a.render(c, fiber.StatusOK, "solicitation_show", page{Title: s.Topic, Nav: "solicitations", Flash: solicitationFlash(c),
		Data: fiber.Map{"S": s, "CanAnswer": sessionOf(c).User.Subject().CanSubmit()}})
}

// Template functions of these pages, added to the shared map before the templates are parsed
// (package initialization runs before New).
func init() {
	funcs["draftStateName"] = draft.StateName
	funcs["creditName"] = draft.CreditName
	funcs["kindName"] = solicitation.KindName
	funcs["answerName"] = solicitation.StatusName
	funcs["similarityPct"] = func(f float64) int { return int(f*100 + 0.5) }
}
