package webapp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestDraftAdoptionRefusedNamesTheReport: adopting a draft whose third source report another
// editor holds locked is refused as a whole (409, code locked) naming that report, in JSON and
// on the draft page; no report is credited and the draft stays in editing. Once the lock is
// gone, adoption credits all three. A source that cannot be credited from its state gets 422.
func TestDraftAdoptionRefusedNamesTheReport(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	editorialUsers(t, s)
	editorialEditor2(t, s)
	ed := s.token(t, "editor1")
	var ids []int64
	for _, rr := range rainReports {
		r := s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": rr.title, "body": rr.body,
			"writer_name": "张三", "writer_phone": "0731-84001234", "draft": true})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %s", r)
		}
		id := num(r.JSON(t)["id"])
		s.step(t, rr.reporter, id, "submit", nil)
		s.step(t, rr.approver, id, "approve", nil)
		ids = append(ids, id)
	}
	r := s.api(t, "POST", "/api/v1/drafts", ed, map[string]any{"title": "我市各地各部门连夜应对强降雨", "submissions": ids})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	d := r.JSON(t)
	draftID, version := num(d["id"]), num(d["version"])
	third := ids[2]
	if _, err := s.DB.Exec(ctx, `UPDATE submissions SET lock_holder_id = (SELECT id FROM users WHERE username = 'editor2'),
		lock_expires_at = now() + interval '10 minutes' WHERE id = $1`, third); err != nil {
		t.Fatal(err)
	}
	unchanged := func(when string) {
		t.Helper()
		for i, id := range ids {
			r := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d", id), s.token(t, rainReports[i].reporter), nil)
			if st := r.JSON(t)["state"]; st != "submitted" {
				t.Errorf("%s: report %d is %v, want submitted", when, id, st)
			}
		}
		r := s.api(t, "GET", fmt.Sprintf("/api/v1/drafts/%d", draftID), ed, nil).JSON(t)
		if r["state"] != "editing" || num(r["version"]) != version {
			t.Errorf("%s: draft %v version %v", when, r["state"], r["version"])
		}
		for _, src := range r["sources"].([]any) {
			if c := src.(map[string]any)["credit"]; c != nil && c != "" {
				t.Errorf("%s: source credited %v", when, src)
			}
		}
	}

	// JSON: 409 locked, naming the third report.
	r = s.api(t, "POST", fmt.Sprintf("/api/v1/drafts/%d/adopt", draftID), ed, map[string]any{"version": version})
	var refusal struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.Decode(t, &refusal)
	if r.Status != http.StatusConflict || refusal.Error.Code != "locked" || refusal.Error.Fields["submission_id"] != strconv.FormatInt(third, 10) ||
		!strings.Contains(refusal.Error.Message, fmt.Sprintf("来源信息 #%d", third)) || !strings.Contains(refusal.Error.Message, "测试editor2") ||
		!strings.Contains(refusal.Error.Message, "稿件未采用") {
		t.Fatalf("adopt with the third source locked: %s", r)
	}
	unchanged("after the refused API adoption")

	// Page: the draft page again, 409, with the same message.
	b := s.browser(t)
	b.login("editor1")
	page := b.get(fmt.Sprintf("/drafts/%d", draftID))
	if page.Status != http.StatusOK {
		t.Fatal(page)
	}
	r = b.post(fmt.Sprintf("/drafts/%d/adopt", draftID), url.Values{"_csrf": {csrfOf(t, page)}, "version": {strconv.FormatInt(version, 10)}})
	body := string(r.Body)
	if r.Status != http.StatusConflict || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, fmt.Sprintf("来源信息 #%d", third)) ||
		!strings.Contains(body, "市住房和城乡建设局") || !strings.Contains(body, "稿件未采用") || !strings.Contains(body, `id="adopt-form"`) {
		t.Fatalf("adopt page with the third source locked: %s", r)
	}
	unchanged("after the refused page adoption")

	// Lock gone: all three credited at once.
	if _, err := s.DB.Exec(ctx, `UPDATE submissions SET lock_holder_id = NULL, lock_expires_at = NULL WHERE id = $1`, third); err != nil {
		t.Fatal(err)
	}
	r = s.api(t, "POST", fmt.Sprintf("/api/v1/drafts/%d/adopt", draftID), ed, map[string]any{"version": version})
	if r.Status != http.StatusOK || r.JSON(t)["state"] != "adopted" || len(r.JSON(t)["credits"].([]any)) != 3 {
		t.Fatalf("adopt: %s", r)
	}
	for i, id := range ids {
		if st := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d", id), s.token(t, rainReports[i].reporter), nil).JSON(t)["state"]; st != "merged" {
			t.Errorf("report %d is %v after adoption", id, st)
		}
	}

	// A source filed meanwhile cannot be credited: 422, naming it.
	rr := rainReports[0]
	r = s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": "东湖街道汛后清淤", "body": rr.body,
		"writer_name": "张三", "writer_phone": "0731-84001234", "draft": true})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	late := num(r.JSON(t)["id"])
	s.step(t, rr.reporter, late, "submit", nil)
	s.step(t, rr.approver, late, "approve", nil)
	r = s.api(t, "POST", "/api/v1/drafts", ed, map[string]any{"title": "东湖街道汛后清淤", "submissions": []int64{late}})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	d2 := r.JSON(t)
	s.step(t, "editor1", late, "file", nil)
	r = s.api(t, "POST", fmt.Sprintf("/api/v1/drafts/%d/adopt", num(d2["id"])), ed, map[string]any{"version": num(d2["version"])})
	r.Decode(t, &refusal)
	if r.Status != http.StatusUnprocessableEntity || refusal.Error.Code != "validation_failed" ||
		refusal.Error.Fields["submission_id"] != strconv.FormatInt(late, 10) || !strings.Contains(refusal.Error.Message, "存档") {
		t.Fatalf("adopt with a filed source: %s", r)
	}
	if st := s.api(t, "GET", fmt.Sprintf("/api/v1/drafts/%d", num(d2["id"])), ed, nil).JSON(t)["state"]; st != "editing" {
		t.Errorf("draft with a filed source is %v", st)
	}
}
