package webapp

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/periodical"
	"infowork/search"
)

// JSON API for the periodical actions the pages offer (docs/openapi.yaml, tag periodicals):
// create an issue, add items, order them, sign, record distribution, archive, record a leader's
// endorsement, answer and review its follow-up tasks. The same service calls as the pages, so
// the same rules, audit rows and refusals: 422 validation_failed / item_refused with a zh-CN
// message and fields, 409 state_conflict, 403, 404.

func apiDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, search.Location)
	if err != nil {
		return time.Time{}, &periodical.ValidationError{Fields: map[string]string{field: "日期格式应为 YYYY-MM-DD"}}
	}
	return t, nil
}

// apiIssueAfter answers an action on an issue with the issue as it is now.
func (a *App) apiIssueAfter(c *fiber.Ctx, id int64, status int) error {
	is, err := a.periodicals().Issue(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return periodicalError(err)
	}
	return c.Status(status).JSON(issueJSON(is))
}

func (a *App) apiIssueCreate(c *fiber.Ctx) error {
	var b struct {
		Date  string `json:"date"`
		Title string `json:"title"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	d, err := apiDate("date", b.Date)
	if err != nil {
		return periodicalError(err)
	}
	is, err := a.periodicals().CreateIssue(c.UserContext(), sessionOf(c).User.Subject(), idParam(c, "id"),
		periodical.IssueInput{Date: d, Title: b.Title}, a.clientIPOf(c))
	if err != nil {
		return periodicalError(err)
	}
	return c.Status(http.StatusCreated).JSON(issueJSON(is))
}

func (a *App) apiIssueAddItems(c *fiber.Ctx) error {
	var b struct {
		Refs    []string `json:"refs"`
		Section string   `json:"section"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	refs := make([]periodical.Ref, 0, len(b.Refs))
	for _, v := range b.Refs {
		r, err := periodical.ParseRef(v)
		if err != nil {
			return periodicalError(&periodical.ValidationError{Fields: map[string]string{"refs": "条目引用 " + v + " 无效（应为 submission:ID 或 draft:ID）"}})
		}
		refs = append(refs, r)
	}
	id := idParam(c, "id")
	if _, err := a.periodicals().AddItems(c.UserContext(), sessionOf(c).User.Subject(), id, refs, b.Section, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	return a.apiIssueAfter(c, id, http.StatusOK)
}

func (a *App) apiIssueOrder(c *fiber.Ctx) error {
	var b struct {
		Items []struct {
			ID      int64  `json:"id"`
			Section string `json:"section"`
		} `json:"items"`
		Sections []string `json:"sections"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	id := idParam(c, "id")
	sub := sessionOf(c).User.Subject()
	if len(b.Items) == 0 && len(b.Sections) == 0 {
		return periodicalError(&periodical.ValidationError{Fields: map[string]string{"order": "请给出条目顺序（items）或栏目顺序（sections）"}})
	}
	if len(b.Sections) > 0 {
		if err := a.periodicals().OrderSections(c.UserContext(), sub, id, b.Sections); err != nil {
			return periodicalError(err)
		}
	}
	if len(b.Items) > 0 {
		places := make([]periodical.Place, 0, len(b.Items))
		for _, it := range b.Items {
			places = append(places, periodical.Place{ItemID: it.ID, Section: it.Section})
		}
		if err := a.periodicals().Reorder(c.UserContext(), sub, id, places); err != nil {
			return periodicalError(err)
		}
	}
	return a.apiIssueAfter(c, id, http.StatusOK)
}

func (a *App) apiIssueSign(c *fiber.Ctx) error {
	id := idParam(c, "id")
	if _, err := a.periodicals().Sign(c.UserContext(), sessionOf(c).User.Subject(), id, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	return a.apiIssueAfter(c, id, http.StatusOK)
}

func (a *App) apiIssueArchive(c *fiber.Ctx) error {
	id := idParam(c, "id")
	if err := a.periodicals().Archive(c.UserContext(), sessionOf(c).User.Subject(), id, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	return a.apiIssueAfter(c, id, http.StatusOK)
}

func (a *App) apiIssueDistribute(c *fiber.Ctx) error {
	var b struct {
		Recipients []string `json:"recipients"`
		Channel    string   `json:"channel"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	id := idParam(c, "id")
	n, err := a.periodicals().Distribute(c.UserContext(), sessionOf(c).User.Subject(), id, b.Recipients, b.Channel, a.clientIPOf(c))
	if err != nil {
		return periodicalError(err)
	}
	is, err := a.periodicals().Issue(c.UserContext(), sessionOf(c).User.Subject(), id)
	if err != nil {
		return periodicalError(err)
	}
	return c.JSON(fiber.Map{"recorded": n, "issue": issueJSON(is)})
}

func (a *App) apiEndorsementCreate(c *fiber.Ctx) error {
	var b struct {
		Leader   string   `json:"leader"`
		Level    string   `json:"level"`
		Text     string   `json:"text"`
		Date     string   `json:"date"`
		Deadline string   `json:"deadline"`
		Units    []string `json:"units"`
		ScanName string   `json:"scan_name"`
		ScanType string   `json:"scan_type"`
		Scan     string   `json:"scan_base64"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	in := periodical.EndorsementInput{IssueItemID: idParam(c, "item"), Leader: b.Leader, Level: b.Level, Text: b.Text, ExtraUnits: b.Units,
		ScanName: b.ScanName, ScanType: b.ScanType}
	var err error
	if in.Date, err = apiDate("date", b.Date); err != nil {
		return periodicalError(err)
	}
	if in.Deadline, err = apiDate("deadline", b.Deadline); err != nil {
		return periodicalError(err)
	}
	if b.Scan != "" {
		if base64.StdEncoding.DecodedLen(len(b.Scan)) > periodical.MaxScanBytes+3 {
			return periodicalError(&periodical.ValidationError{Fields: map[string]string{"scan_base64": "批示件扫描最大 10 MiB"}})
		}
		if in.Scan, err = base64.StdEncoding.DecodeString(b.Scan); err != nil {
			return periodicalError(&periodical.ValidationError{Fields: map[string]string{"scan_base64": "批示件扫描不是合法的 Base64"}})
		}
	}
	sub := sessionOf(c).User.Subject()
	// The item must belong to the issue of the path.
	is, err := a.periodicals().Issue(c.UserContext(), sub, idParam(c, "id"))
	if err != nil {
		return periodicalError(err)
	}
	found := false
	for _, it := range is.Items {
		found = found || it.ID == in.IssueItemID
	}
	if !found {
		return periodicalError(periodical.ErrNotFound)
	}
	e, err := a.periodicals().Endorse(c.UserContext(), sub, in, a.clientIPOf(c))
	if err != nil {
		return periodicalError(err)
	}
	if e, err = a.periodicals().Endorsement(c.UserContext(), sub, e.ID); err != nil {
		return periodicalError(err)
	}
	return c.Status(http.StatusCreated).JSON(endorsementJSON(e))
}

func (a *App) apiTaskFeedback(c *fiber.Ctx) error {
	var b struct {
		Feedback string `json:"feedback"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	sub := sessionOf(c).User.Subject()
	if err := a.periodicals().Feedback(c.UserContext(), sub, idParam(c, "id"), b.Feedback, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	e, err := a.periodicals().TaskEndorsement(c.UserContext(), sub, idParam(c, "id"))
	if err != nil {
		return periodicalError(err)
	}
	return c.JSON(endorsementJSON(e))
}

func (a *App) apiTaskReview(c *fiber.Ctx) error {
	var b struct {
		Review string `json:"review"`
	}
	if err := jsonBody(c, &b); err != nil {
		return err
	}
	sub := sessionOf(c).User.Subject()
	if err := a.periodicals().Review(c.UserContext(), sub, idParam(c, "id"), b.Review, a.clientIPOf(c)); err != nil {
		return periodicalError(err)
	}
	e, err := a.periodicals().TaskEndorsement(c.UserContext(), sub, idParam(c, "id"))
	if err != nil {
		return periodicalError(err)
	}
	return c.JSON(endorsementJSON(e))
}

// endorsementJSON is the Endorsement schema of docs/openapi.yaml.
func endorsementJSON(e periodical.Endorsement) fiber.Map {
	tasks := make([]fiber.Map, 0, len(e.Tasks))
	for _, t := range e.Tasks {
		m := fiber.Map{"id": t.ID, "unit": t.UnitCode, "unit_name": t.UnitName, "deadline": t.Deadline.Format("2006-01-02"),
			"state": t.State, "feedback": t.Feedback, "feedback_by": t.FeedbackBy, "review": t.Review}
		if t.FeedbackAt != nil {
			m["feedback_at"] = t.FeedbackAt
		}
		if t.ReviewedAt != nil {
			m["reviewed_at"] = t.ReviewedAt
		}
		tasks = append(tasks, m)
	}
	return fiber.Map{"id": e.ID, "issue_id": e.IssueID, "item_id": e.IssueItemID, "ref": e.Ref.String(), "leader": e.Leader,
		"level": e.Level, "text": e.Text, "date": e.Date.Format("2006-01-02"), "state": e.State, "has_scan": e.HasScan,
		"scan_sha256": e.ScanSHA256, "tasks": tasks}
}
