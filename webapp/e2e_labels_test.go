package webapp_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/label"
)

// TestLabelsTravelWithTheRecord gives a report a label category through the form, and checks
// who can read it, that the marking is on the page (screen and print), that the watermark names
// the reader, and that search shows the full marking.
func TestLabelsTravelWithTheRecord(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	if _, err := label.AddCategory(ctx, s.DB, "人事", "干部人事信息"); err != nil {
		t.Fatal(err)
	}
	// rep_a and res_secret hold 人事; rep_a2 (same unit) and editor1 do not.
	for _, name := range []string{"rep_a", "res_secret"} {
		var id int64
		if err := s.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := label.SetUserLabel(ctx, s.DB, id, label.Label{Level: label.Secret, Categories: []string{"人事"}}); err != nil {
			t.Fatal(err)
		}
	}

	b := s.browser(t)
	b.login("rep_a")
	form := b.get("/submissions/new")
	must(t, form.Status == 200, "form: %s", form)
	must(t, strings.Contains(string(form.Body), `name="label_categories" value="人事"`), "the form offers the category the user holds: %s", form)
	word := randomWord()
	r := b.post("/submissions", url.Values{"_csrf": {csrfOf(t, form)}, "title": {"干部调整情况 " + word}, "body": {"关于干部调整的情况说明。"},
		"classification": {"secret"}, "urgency": {"normal"}, "label_categories": {"人事"}})
	must(t, r.Status == 303, "create: %s", r)
	loc := r.Header.Get("Location")
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/submissions/")
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("redirect %q", loc)
	}
	page := b.get("/submissions/" + id)
	body := string(page.Body)
	must(t, page.Status == 200, "owner reads: %s", page)
	must(t, strings.Contains(body, "秘密（人事）"), "the marking with its category is on the page: %s", page)
	must(t, strings.Contains(body, `class="print-mark top"`) && strings.Contains(body, `class="print-mark bottom"`), "print markings present")
	must(t, strings.Contains(body, `class="watermark"`) && strings.Contains(body, "rep_a"), "the watermark names the reader")

	// The API shows the label too.
	sub := s.api(t, "GET", "/api/v1/submissions/"+id, s.token(t, "rep_a"), nil).JSON(t)
	must(t, sub["marking"] == "秘密（人事）", "API marking %v", sub["marking"])

	// Same unit and clearance but without the category: 404, and not in lists or search.
	for _, who := range []string{"rep_a2", "editor1"} {
		r := s.api(t, "GET", "/api/v1/submissions/"+id, s.token(t, who), nil)
		must(t, r.Status == 404, "%s without 人事 reads the record: %s", who, r)
	}
	waitFor(t, 5*time.Second, "indexed", func() (bool, string) {
		res := s.search(t, "res_secret", url.Values{"q": {word}})
		return res.Total == 1, fmt.Sprint(res.Total)
	})
	res := s.search(t, "editor1", url.Values{"q": {word}})
	must(t, res.Total == 0, "editor without 人事 finds the record: %d hits", res.Total)
	b2 := s.browser(t)
	b2.login("res_secret")
	sp := b2.get("/search?q=" + url.QueryEscape(word))
	must(t, strings.Contains(string(sp.Body), "秘密（人事）"), "search hit shows the full marking: %s", sp)
}

// TestStoredXSSIsInert submits script in every text field and checks that no page or API answer
// carries it in executable form.
func TestStoredXSSIsInert(t *testing.T) {
	s := newStack(t, stackOptions{})
	payload := `<script>alert(1)</script><img src=x onerror=alert(2)>"'><svg/onload=alert(3)>`
	word := randomWord()
	s.token(t, "rep_a")
	c, err := s.createAPI("rep_a", created{Title: "标题 " + word + " " + payload, Body: "正文 " + payload})
	if err != nil {
		t.Fatal(err)
	}
	rich := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a"), map[string]any{
		"title": "富文本 " + word, "body_html": `<p onclick="x()">段落</p><script>alert(4)</script><a href="javascript:alert(5)">链接</a><iframe src="//evil"></iframe>`,
	})
	must(t, rich.Status == 201, "rich: %s", rich)
	richID := strconv.FormatFloat(rich.JSON(t)["id"].(float64), 'f', 0, 64)
	waitFor(t, 5*time.Second, "indexed", func() (bool, string) {
		res := s.search(t, "rep_a", url.Values{"q": {word}})
		return res.Total == 2, fmt.Sprint(res.Total)
	})
	b := s.browser(t)
	b.login("rep_a")
	pages := map[string]resp{
		"record":  b.get("/submissions/" + strconv.FormatInt(c.ID, 10)),
		"rich":    b.get("/submissions/" + richID),
		"list":    b.get("/submissions"),
		"search":  b.get("/search?q=" + url.QueryEscape(word)),
		"search2": b.get("/search?q=" + url.QueryEscape(payload)),
	}
	for name, p := range pages {
		// The payload's unbalanced quote makes search2 a query the parser refuses (400 page).
		must(t, p.Status == 200 || name == "search2" && p.Status == 400, "%s: %s", name, p)
		low := strings.ToLower(string(p.Body))
		// Escaped text may mention onerror=; what must never appear is markup the payload
		// opened: a tag, an attribute breaking out of a quote, or a javascript: link.
		for _, bad := range []string{"<script>alert", "<img src=x", "<svg", "<iframe", `href="javascript:`, ` onclick="`, `"'><`} {
			must(t, !strings.Contains(low, bad), "%s page contains %q", name, bad)
		}
	}
	must(t, strings.Contains(string(pages["record"].Body), "&lt;script&gt;"), "the typed script shows as text on the record page")
	must(t, strings.Contains(string(pages["rich"].Body), "<p>段落</p>"), "structure survives sanitizing: %s", pages["rich"])
}
