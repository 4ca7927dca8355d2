package webapp

// The workflow on the record page: the "流转" panel (current state, one form per transition the
// user may take, with the configured reasons where a reason is required) and the "流转记录"
// timeline. The forms post to /submissions/:id/transitions; a refused or stale transition
// re-renders the page with the engine's reason.

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/workflow"
)

// flowChoice is a transition form on the page.
type flowChoice struct {
	workflow.Choice
	NeedsReason  bool
	NeedsComment bool
	// Re-filled after a refused attempt of this transition.
	Reason  string
	Comment string
	Errors  map[string]string
}

// flowPanel is the workflow part of the record page.
type flowPanel struct {
	State       string
	StateName   string
	Version     int64
	Transitions []flowChoice
	Reasons     []workflow.Reason
	History     []workflow.Event
	Conflict    string // set when the user's transition lost a race
	// Desk is the desk part: lock holder, assignee, due date, comments (desk.go).
	Desk *deskPanel
}

func (a *App) flowPanel(c *fiber.Ctx, id int64) (*flowPanel, error) {
	sub := sessionOf(c).User.Subject()
	av, err := a.opts.Workflow.Available(c.UserContext(), sub, id)
	if err != nil {
		return nil, err
	}
	hist, err := a.opts.Workflow.History(c.UserContext(), sub, id)
	if err != nil {
		return nil, err
	}
	dp, err := a.deskPanel(c, id)
	if err != nil {
		return nil, err
	}
	p := &flowPanel{State: av.State, StateName: av.StateName, Version: av.Version, Reasons: av.Reasons, History: hist, Desk: dp}
	for _, ch := range av.Transitions {
		p.Transitions = append(p.Transitions, flowChoice{Choice: ch,
			NeedsReason: slices.Contains(ch.Require, workflow.FieldReason), NeedsComment: slices.Contains(ch.Require, workflow.FieldComment)})
	}
	return p, nil
}

// submissionTransition takes a transition from the record page's form.
func (a *App) submissionTransition(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	subject := sessionOf(c).User.Subject()
	code := strings.TrimSpace(c.FormValue("transition"))
	in := workflow.Input{Reason: c.FormValue("reason"), Comment: c.FormValue("comment"), ClientIP: clientIP(c)}
	in.ExpectedVersion, _ = strconv.ParseInt(c.FormValue("version"), 10, 64)
	var status int
	var msg string
	var fields map[string]string
	var ce *workflow.ConflictError
	var re *workflow.RefusedError
	if code == "" || in.ExpectedVersion < 1 {
		status, msg = fiber.StatusUnprocessableEntity, "操作未执行：表单缺少操作或版本号，请刷新页面后重试。"
	} else {
		_, err := a.opts.Workflow.Transition(c.UserContext(), subject, id, code, in)
		switch {
		case err == nil:
			return c.Redirect("/submissions/"+strconv.FormatInt(id, 10)+"?flash=transitioned", fiber.StatusSeeOther)
		case errors.As(err, &ce):
			status, msg = fiber.StatusConflict, "操作未执行："+ce.Error()
		case errors.As(err, &re):
			status, msg, fields = fiber.StatusUnprocessableEntity, "操作未执行："+re.Message, re.Fields
			switch re.Kind {
			case workflow.RefusedForbidden:
				status = fiber.StatusForbidden
			case workflow.RefusedLocked:
				status = fiber.StatusConflict
			}
		default:
			return err // not found (404), database errors
		}
	}
	rec, err := a.opts.Submissions.Get(c.UserContext(), subject, id, clientIP(c))
	if err != nil {
		return err
	}
	data, err := a.submissionPage(c, rec)
	if err != nil {
		return err
	}
	if data.Flow != nil {
		if ce != nil {
			data.Flow.Conflict = msg
		}
		for i := range data.Flow.Transitions {
			if t := &data.Flow.Transitions[i]; t.Code == code {
				t.Reason, t.Comment, t.Errors = strings.TrimSpace(in.Reason), in.Comment, fields
			}
		}
	}
	return a.render(c, status, "submission_show", page{Title: rec.Title, Nav: "submissions", Error: msg, Data: data})
}

// The workflow definition editor of the system administrator (/admin/workflows). Workflow
// definitions are system configuration: which states exist and which role may take which
// step. They grant no one a role or a clearance (the security administrator's work) and read no
// record, so they belong to the system administrator (三员分立, docs/workflow.md).

// versionRow is one stored version with what changed from the version before it.
type versionRow struct {
	workflow.Stored
	Changes []workflow.Change
	First   bool
}

func (a *App) adminWorkflows(c *fiber.Ctx) error {
	list, err := a.opts.Workflow.List(c.UserContext())
	if err != nil {
		return err
	}
	rows := make([]versionRow, len(list))
	for i, st := range list {
		rows[i] = versionRow{Stored: st, First: true}
		if i+1 < len(list) && list[i+1].Name == st.Name {
			rows[i].First = false
			rows[i].Changes = workflow.Diff(list[i+1].Definition, st.Definition)
		}
	}
	fl := map[string]string{"published": "新版本已发布：此后新建的信息使用新版本，已有信息仍按原版本流转。"}[c.Query("flash")]
	return a.render(c, fiber.StatusOK, "admin_workflows", page{Title: "流程定义", Nav: "admin-workflows", Flash: fl, Data: rows})
}

func (a *App) adminWorkflowShow(c *fiber.Ctx) error {
	v, err := strconv.Atoi(c.Params("version"))
	if err != nil {
		return errNotFound
	}
	d, err := a.opts.Workflow.Definition(c.UserContext(), c.Params("name"), v)
	if err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(d, "", "  ")
	return a.render(c, fiber.StatusOK, "admin_workflow", page{Title: "流程定义 " + d.Name + " 第 " + strconv.Itoa(v) + " 版",
		Nav: "admin-workflows", Data: workflowView{Definition: d, Version: v, JSON: string(raw)}})
}

// workflowView shows one definition as tables, and in the editor its JSON text.
type workflowView struct {
	Definition workflow.Definition
	Version    int
	JSON       string
	Problems   []string
	Changes    []workflow.Change
	Valid      bool
	Base       int // the active version the edit started from
	Roles      []string
	// OfficeRoles are the roles that may take transitions (the columns of the role matrix).
	OfficeRoles []string
}

// officeRoles are the business roles: administrators handle no reports.
func officeRoles() []string {
	var out []string
	for _, r := range access.Roles {
		if r != access.RoleSysAdmin && r != access.RoleSecAdmin && r != access.RoleAuditAdmin {
			out = append(out, r)
		}
	}
	return out
}

func (a *App) activeDefinition(c *fiber.Ctx, name string) (workflow.Stored, error) {
	list, err := a.opts.Workflow.List(c.UserContext())
	if err != nil {
		return workflow.Stored{}, err
	}
	for _, st := range list {
		if st.Name == name && st.Active {
			return st, nil
		}
	}
	return workflow.Stored{}, errNotFound
}

func (a *App) adminWorkflowEdit(c *fiber.Ctx) error {
	st, err := a.activeDefinition(c, workflow.DefaultName)
	if err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(st.Definition, "", "  ")
	return a.render(c, fiber.StatusOK, "admin_workflow_edit", page{Title: "编辑流程定义", Nav: "admin-workflows",
		Data: workflowView{Definition: st.Definition, Version: st.Version, JSON: string(raw), Base: st.Version, Roles: access.Roles,
			OfficeRoles: officeRoles()}})
}

// adminWorkflowSubmit checks (action=validate) or publishes (action=publish) the edited
// definition. An invalid one is shown again with every problem (422); a valid one with what
// it changes against the active version.
func (a *App) adminWorkflowSubmit(c *fiber.Ctx) error {
	text := c.FormValue("definition")
	view := workflowView{JSON: text, Roles: access.Roles, OfficeRoles: officeRoles()}
	d, err := workflow.Parse([]byte(text))
	if err == nil && c.FormValue("matrix") == "1" {
		// The role matrix: the roles of transition i are the checked roles_i boxes.
		for i := range d.Transitions {
			var roles []string
			for _, v := range c.Request().PostArgs().PeekMulti("roles_" + strconv.Itoa(i)) {
				roles = append(roles, string(v))
			}
			d.Transitions[i].Roles = roles
		}
		raw, _ := json.MarshalIndent(d, "", "  ")
		view.JSON = string(raw)
	}
	if err == nil {
		err = d.Validate()
	}
	view.Definition = d
	var de *workflow.DefinitionError
	if errors.As(err, &de) {
		view.Problems = de.Problems
		return a.render(c, fiber.StatusUnprocessableEntity, "admin_workflow_edit", page{Title: "编辑流程定义", Nav: "admin-workflows",
			Error: "流程定义未通过校验，未发布。请按下列问题修改：", Data: view})
	}
	if err != nil {
		return err
	}
	if st, err := a.activeDefinition(c, d.Name); err == nil {
		view.Changes, view.Base = workflow.Diff(st.Definition, d), st.Version
	}
	if c.FormValue("action") != "publish" {
		view.Valid = true
		return a.render(c, fiber.StatusOK, "admin_workflow_edit", page{Title: "编辑流程定义", Nav: "admin-workflows",
			Flash: "校验通过。下面列出与当前生效版本的差异；确认后点击「发布新版本」。", Data: view})
	}
	if len(view.Changes) == 0 && view.Base > 0 {
		return a.render(c, fiber.StatusUnprocessableEntity, "admin_workflow_edit", page{Title: "编辑流程定义", Nav: "admin-workflows",
			Error: "与当前生效版本没有任何差异，无需发布新版本。", Data: view})
	}
	if _, err := a.opts.Workflow.Publish(c.UserContext(), sessionOf(c).User.Subject(), d, clientIP(c)); err != nil {
		if errors.As(err, &de) {
			view.Problems = de.Problems
			return a.render(c, fiber.StatusUnprocessableEntity, "admin_workflow_edit", page{Title: "编辑流程定义", Nav: "admin-workflows",
				Error: "流程定义未通过校验，未发布。", Data: view})
		}
		return err
	}
	return c.Redirect("/admin/workflows?flash=published", fiber.StatusSeeOther)
}
