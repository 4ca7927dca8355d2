package webapp

// The workflow API: the transitions an item allows, taking one, its history, and the workflow
// definitions (read by everyone, published by the system administrator). Workflow errors are
// turned into HTTP errors here, so app.go's classify stays generic.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/access"
	"infowork/workflow"
)

// workflowError maps the engine's refusals: a lost race is 409 with the current version and
// state, an invalid transition or a failed guard 422 and a role that may not take it 403, each
// with the engine's zh-CN reason.
func workflowError(err error) error {
	var ce *workflow.ConflictError
	var re *workflow.RefusedError
	var de *workflow.DefinitionError
	switch {
	case errors.As(err, &ce):
		return &httpError{status: fiber.StatusConflict, code: "version_conflict", message: ce.Error(),
			fields: map[string]string{"version": strconv.FormatInt(ce.Current, 10), "state": ce.State}}
	case errors.As(err, &re):
		switch re.Kind {
		case workflow.RefusedForbidden:
			return &httpError{status: fiber.StatusForbidden, code: "transition_forbidden", message: re.Message}
		case workflow.RefusedGuard:
			return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: re.Message, fields: re.Fields}
		case workflow.RefusedLocked:
			return &httpError{status: fiber.StatusConflict, code: "locked", message: re.Message}
		}
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "invalid_transition", message: re.Message}
	case errors.As(err, &de):
		fields := map[string]string{}
		for i, p := range de.Problems {
			fields["problem_"+strconv.Itoa(i+1)] = p
		}
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "invalid_definition", message: de.Error(), fields: fields}
	}
	return err
}

func choicesJSON(cs []workflow.Choice) []fiber.Map {
	out := make([]fiber.Map, 0, len(cs))
	for _, c := range cs {
		out = append(out, fiber.Map{"code": c.Code, "label": c.Label, "to": c.To, "to_name": c.ToName, "require": nonNil(c.Require)})
	}
	return out
}

func (a *App) apiTransitions(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	av, err := a.opts.Workflow.Available(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return workflowError(err)
	}
	reasons := make([]fiber.Map, 0, len(av.Reasons))
	for _, r := range av.Reasons {
		reasons = append(reasons, fiber.Map{"code": r.Code, "name": r.Name})
	}
	return c.JSON(fiber.Map{"id": av.ID, "state": av.State, "state_name": av.StateName, "version": av.Version,
		"workflow": av.Workflow, "workflow_version": av.WorkflowVersion, "transitions": choicesJSON(av.Transitions), "reasons": reasons})
}

type transitionBody struct {
	Transition string `json:"transition"`
	Reason     string `json:"reason"`
	Comment    string `json:"comment"`
	Version    int64  `json:"version"`
}

func (a *App) apiTransition(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	var b transitionBody
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	fields := map[string]string{}
	if strings.TrimSpace(b.Transition) == "" {
		fields["transition"] = "transition 必填（可执行的操作见 GET /api/v1/submissions/{id}/transitions）"
	}
	if b.Version < 1 {
		fields["version"] = "version 必填：您看到的信息版本号，用于防止覆盖他人的修改"
	}
	if len(fields) > 0 {
		return &httpError{status: fiber.StatusUnprocessableEntity, code: "validation_failed", message: "请求缺少必填项", fields: fields}
	}
	res, err := a.opts.Workflow.Transition(c.UserContext(), sessionOf(c).User.Subject(), id, b.Transition,
		workflow.Input{Reason: b.Reason, Comment: b.Comment, ExpectedVersion: b.Version, ClientIP: clientIP(c)})
	if err != nil {
		return workflowError(err)
	}
	return c.JSON(fiber.Map{"id": res.ID, "transition": res.Transition, "from": res.From, "from_name": res.FromName,
		"state": res.To, "state_name": res.ToName, "version": res.Version, "event_id": res.EventID,
		"at": res.At.UTC().Format(time.RFC3339)})
}

func (a *App) apiHistory(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	evs, err := a.opts.Workflow.History(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return workflowError(err)
	}
	items := make([]fiber.Map, 0, len(evs))
	for _, e := range evs {
		items = append(items, fiber.Map{"id": e.ID, "transition": e.Transition, "label": e.Label, "from": e.From, "from_name": e.FromName,
			"to": e.To, "to_name": e.ToName, "actor": e.Actor, "reason": e.Reason, "reason_name": e.ReasonName, "comment": e.Comment,
			"at": e.At.UTC().Format(time.RFC3339)})
	}
	return c.JSON(fiber.Map{"items": items})
}

func storedJSON(st workflow.Stored) fiber.Map {
	return fiber.Map{"name": st.Name, "version": st.Version, "active": st.Active, "created_by": st.CreatedBy,
		"created_at": st.CreatedAt.UTC().Format(time.RFC3339), "definition": st.Definition}
}

func (a *App) apiWorkflows(c *fiber.Ctx) error {
	list, err := a.opts.Workflow.List(c.UserContext())
	if err != nil {
		return err
	}
	items := make([]fiber.Map, 0, len(list))
	for _, st := range list {
		items = append(items, storedJSON(st))
	}
	return c.JSON(fiber.Map{"items": items})
}

func (a *App) apiWorkflowPublish(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	s := sessionOf(c)
	d, err := workflow.Parse(c.Body())
	if err != nil && s.User.Subject().Has(access.RoleSysAdmin) {
		return workflowError(err)
	}
	st, err := a.opts.Workflow.Publish(c.UserContext(), s.User.Subject(), d, clientIP(c))
	if err != nil {
		return workflowError(err)
	}
	c.Location("/api/v1/workflows")
	return c.Status(fiber.StatusCreated).JSON(storedJSON(st))
}

// apiWorkflowValidate checks a definition without publishing it: its problems, or what it
// changes against the active version of its name. System administrator only, like publishing.
func (a *App) apiWorkflowValidate(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	if !sessionOf(c).User.Subject().Has(access.RoleSysAdmin) {
		return errStatus(fiber.StatusForbidden, "forbidden", "只有系统管理员维护流程定义")
	}
	d, err := workflow.Parse(c.Body())
	if err == nil {
		err = d.Validate()
	}
	var de *workflow.DefinitionError
	if errors.As(err, &de) {
		return c.JSON(fiber.Map{"valid": false, "problems": de.Problems, "changes": []fiber.Map{}})
	}
	if err != nil {
		return err
	}
	changes := []fiber.Map{}
	list, err := a.opts.Workflow.List(c.UserContext())
	if err != nil {
		return err
	}
	for _, st := range list {
		if st.Name == d.Name && st.Active {
			for _, ch := range workflow.Diff(st.Definition, d) {
				changes = append(changes, fiber.Map{"kind": ch.Kind, "what": ch.What, "key": ch.Key, "detail": ch.Detail})
			}
		}
	}
	return c.JSON(fiber.Map{"valid": true, "problems": []string{}, "changes": changes})
}
