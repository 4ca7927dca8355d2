package webapp

// The workflow on the record page: the "流转" panel (current state, one form per transition the
// user may take, with the configured reasons where a reason is required) and the "流转记录"
// timeline. The forms post to /submissions/:id/transitions; a refused or stale transition
// re-renders the page with the engine's reason.

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

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
	p := &flowPanel{State: av.State, StateName: av.StateName, Version: av.Version, Reasons: av.Reasons, History: hist}
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
			if re.Kind == workflow.RefusedForbidden {
				status = fiber.StatusForbidden
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
