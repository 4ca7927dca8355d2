package webapp_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"infowork/search"
)

// apiError is the JSON error body every API failure carries.
type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func wantAPIError(t *testing.T, r resp, status int, code string) apiError {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d", r.URL, r.Status, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", r.URL, ct)
	}
	var e apiError
	r.Decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: error body %s lacks code or message", r.URL, r.Body)
	}
	if code != "" && e.Error.Code != code {
		t.Errorf("%s: error code %q, want %q", r.URL, e.Error.Code, code)
	}
	return e
}

func TestAPIContract(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})

	// Login.
	r := s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "rep_a", "password": password})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %s", r)
	}
	login := r.JSON(t)
	if tok, _ := login["token"].(string); len(tok) < 20 {
		t.Fatalf("login answer %s has no token", r.Body)
	}
	wantAPIError(t, s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "rep_a", "password": "wrong-password-1"}),
		http.StatusUnauthorized, "invalid_credentials")
	wantAPIError(t, s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "nobody", "password": password}),
		http.StatusUnauthorized, "invalid_credentials")

	repA := s.token(t, "rep_a")

	// Create, then read back.
	r = s.api(t, "POST", "/api/v1/submissions", repA, map[string]string{
		"title": "东湖街道老旧小区加装电梯进展情况", "body": "截至本月，东湖街道已完成加装电梯十二台。\n居民反映良好。",
		"category": "C11", "classification": "internal", "urgency": "urgent"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var sub submissionJSON
	r.Decode(t, &sub)
	must(t, sub.ID > 0 && sub.Version >= 1, "create answer %s: want id and version", r.Body)
	must(t, sub.Unit == "Z101", "create: unit %q, want the user's unit Z101", sub.Unit)
	must(t, sub.District == "芙蓉区", "create: district %q, want the unit's district 芙蓉区", sub.District)
	must(t, sub.Classification == "internal" && sub.Category == "C11", "create: %s", r.Body)
	must(t, r.Header.Get("Location") == "/api/v1/submissions/"+strconv.FormatInt(sub.ID, 10), "Location %q", r.Header.Get("Location"))
	path := "/api/v1/submissions/" + strconv.FormatInt(sub.ID, 10)

	r = s.api(t, "GET", path, repA, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get own record: %s", r)
	}
	var got submissionJSON
	r.Decode(t, &got)
	must(t, got.Title == "东湖街道老旧小区加装电梯进展情况" && got.ID == sub.ID, "get: %s", r.Body)
	must(t, got.Body == "截至本月，东湖街道已完成加装电梯十二台。\n居民反映良好。", "get: body %q", got.Body)

	// Same record, other readers.
	for _, tc := range []struct {
		user   string
		status int
	}{
		{"rep_a2", http.StatusOK},           // same unit
		{"editor1", http.StatusOK},          // office role, clearance secret
		{"res_secret", http.StatusOK},       // researcher, clearance secret
		{"rep_b", http.StatusNotFound},      // another unit's reporter
		{"res_public", http.StatusNotFound}, // clearance public < internal
	} {
		r := s.api(t, "GET", path, s.token(t, tc.user), nil)
		if tc.status == http.StatusNotFound {
			wantAPIError(t, r, http.StatusNotFound, "not_found")
		} else if r.Status != tc.status {
			t.Errorf("GET record as %s: %s, want %d", tc.user, r, tc.status)
		}
	}
	// A record that does not exist looks the same as one the caller may not see.
	wantAPIError(t, s.api(t, "GET", "/api/v1/submissions/987654321", repA, nil), http.StatusNotFound, "not_found")

	// No token, or a token that is not one.
	wantAPIError(t, s.api(t, "GET", path, "", nil), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", "", map[string]string{"title": "x", "body": "y"}), http.StatusUnauthorized, "unauthorized")
	wantAPIError(t, s.api(t, "GET", "/api/v1/search?q=x", "not-a-real-token", nil), http.StatusUnauthorized, "unauthorized")

	// Malformed requests.
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", repA, `{"title": "半截`, "Content-Type", "application/json"),
		http.StatusBadRequest, "bad_request")
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", repA, "title=a&body=b", "Content-Type", "application/x-www-form-urlencoded"),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", repA, `{"title":"a","body":"b"}`),
		http.StatusUnsupportedMediaType, "unsupported_media_type") // no Content-Type at all
	e := wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", repA, map[string]string{"title": " ", "body": "", "urgency": "asap"}),
		http.StatusUnprocessableEntity, "validation_failed")
	for _, f := range []string{"title", "body", "urgency"} {
		must(t, e.Error.Fields[f] != "", "422 fields %v: want a message for %s", e.Error.Fields, f)
	}
	must(t, e.Error.Fields["title"] == "标题不能为空", "title message %q", e.Error.Fields["title"])
	e = wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_b"), map[string]string{"title": "t", "body": "b", "classification": "confidential"}),
		http.StatusUnprocessableEntity, "validation_failed")
	must(t, e.Error.Fields["classification"] != "", "above-clearance classification: fields %v", e.Error.Fields)
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", repA, map[string]string{"title": "t", "body": "b", "category": "NOPE"}),
		http.StatusUnprocessableEntity, "validation_failed")
	// A body over the limit: the server answers from the headers alone (and closes), so send
	// only the headers, as a client that waits for an early answer would.
	wantAPIError(t, s.oversized(t, "/api/v1/submissions", repA, 3<<20), http.StatusRequestEntityTooLarge, "payload_too_large")
	// Only a unit's reporters submit.
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", s.token(t, "res_secret"), map[string]string{"title": "t", "body": "b"}),
		http.StatusForbidden, "forbidden")

	// Unknown routes and methods under /api/v1 answer JSON too.
	wantAPIError(t, s.api(t, "GET", "/api/v1/no-such-thing", repA, nil), http.StatusNotFound, "not_found")
	wantAPIError(t, s.api(t, "GET", "/api/v1/no-such-thing", "", nil), http.StatusNotFound, "not_found")
	wantAPIError(t, s.api(t, "GET", "/api/v1/submissions/abc", repA, nil), http.StatusNotFound, "not_found")
	r = s.api(t, "DELETE", path, repA, nil)
	if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE %s: %s, want 404 or 405", path, r)
	}
	wantAPIError(t, r, r.Status, "")

	// Who am I; the DB list; lookups.
	r = s.api(t, "GET", "/api/v1/me", repA, nil)
	me := r.JSON(t)
	must(t, r.Status == 200 && me["username"] == "rep_a" && me["unit"] == "Z101" && me["clearance"] == "secret", "me: %s", r)
	r = s.api(t, "GET", "/api/v1/submissions", s.token(t, "rep_b"), nil)
	list := r.JSON(t)
	must(t, r.Status == 200 && list["total"] == float64(0), "another unit's list: %s", r)
	r = s.api(t, "GET", "/api/v1/submissions?size=5", repA, nil)
	list = r.JSON(t)
	must(t, r.Status == 200 && list["total"] == float64(1), "own list: %s", r)
	wantAPIError(t, s.api(t, "GET", "/api/v1/submissions?size=1000", repA, nil), http.StatusBadRequest, "bad_request")
	r = s.api(t, "GET", "/api/v1/units", repA, nil)
	must(t, r.Status == 200 && strings.Contains(string(r.Body), `"code":"B101"`), "units: %s", r)
	r = s.api(t, "GET", "/api/v1/categories", repA, nil)
	must(t, r.Status == 200 && strings.Contains(string(r.Body), `"code":"C21"`), "categories: %s", r)

	// Logout revokes the bearer token.
	r = s.api(t, "POST", "/api/v1/auth/logout", repA, nil)
	must(t, r.Status == http.StatusNoContent, "logout: %s", r)
	wantAPIError(t, s.api(t, "GET", "/api/v1/me", repA, nil), http.StatusUnauthorized, "unauthorized")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	tok := s.token(t, "rep_b")
	body := map[string]string{"title": "西湖街道防汛物资储备情况", "body": "已储备沙袋两千只。"}
	first := s.api(t, "POST", "/api/v1/submissions", tok, body, "Idempotency-Key", "retry-7f3a")
	second := s.api(t, "POST", "/api/v1/submissions", tok, body, "Idempotency-Key", "retry-7f3a")
	if first.Status != http.StatusCreated || second.Status != http.StatusOK {
		t.Fatalf("statuses %d then %d, want 201 then 200 (%s / %s)", first.Status, second.Status, first, second)
	}
	var a, b submissionJSON
	first.Decode(t, &a)
	second.Decode(t, &b)
	must(t, a.ID == b.ID && a.Version == b.Version, "retried POST made id %d, first %d", b.ID, a.ID)
	// A different key is a different report.
	third := s.api(t, "POST", "/api/v1/submissions", tok, body, "Idempotency-Key", "retry-other")
	must(t, third.Status == http.StatusCreated, "new key: %s", third)
	r := s.api(t, "GET", "/api/v1/submissions", tok, nil)
	must(t, r.JSON(t)["total"] == float64(2), "list after 3 POSTs with 2 keys: %s", r)
	// The same key by another user is that user's own key.
	other := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a"), body, "Idempotency-Key", "retry-7f3a")
	must(t, other.Status == http.StatusCreated, "same key, other user: %s", other)
	wantAPIError(t, s.api(t, "POST", "/api/v1/submissions", tok, body, "Idempotency-Key", strings.Repeat("k", 101)),
		http.StatusUnprocessableEntity, "validation_failed")
}

// TestConcurrentSubmissionsSearchable: four reporters submit at once through the API; every
// report becomes searchable within seconds, and totals and facet counts match what each reader
// may see, computed independently from what was created.
func TestConcurrentSubmissionsSearchable(t *testing.T) {
	s := newStack(t, stackOptions{})
	reporters := []string{"rep_a", "rep_a2", "rep_b", "rep_c"}
	for _, u := range append(slices.Clone(reporters), "res_secret", "res_public") {
		s.token(t, u)
	}
	levels := []string{"public", "internal", "secret"}
	cats := []string{"C1", "C11", "C2", "C21"}
	bodies := []string{"群众反映小区停车位紧张，晚间车辆乱停现象突出。", "街道开展矛盾纠纷排查，共化解纠纷二十余起。",
		"部分老旧小区雨污管网破损，汛期积水严重。", "辖区企业反映用工难，希望加强技能培训对接。"}

	var (
		mu   sync.Mutex
		recs []created
		wg   sync.WaitGroup
	)
	const perReporter = 10
	for _, u := range reporters {
		for i := range perReporter {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := randomWord()
				c, err := s.createAPI(u, created{Word: w, Title: fmt.Sprintf("关于%s问题的情况反映（%d）", w, i),
					Body: pick(bodies) + "\n编号" + w + "。", Category: pick(cats), Classification: pick(levels)})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if c.Unit != userUnit[u] {
					t.Errorf("record by %s stored for unit %q", u, c.Unit)
				}
				recs = append(recs, c)
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(recs) != len(reporters)*perReporter {
		t.Fatalf("created %d records", len(recs))
	}

	// Freshness: each word finds its record within the deadline.
	start := time.Now()
	deadline := 5 * time.Second
	pending := slices.Clone(recs)
	waitFor(t, deadline, "every new record searchable by its word", func() (bool, string) {
		var still []created
		for _, c := range pending {
			res := s.search(t, "res_secret", url.Values{"q": {c.Word}})
			if res.Total == 0 {
				still = append(still, c)
				continue
			}
			if res.Total != 1 || res.Hits[0].ID != strconv.FormatInt(c.ID, 10) {
				t.Fatalf("q=%s: total %d, first hit %+v; want exactly record %d", c.Word, res.Total, res.Hits, c.ID)
			}
			if !strings.Contains(res.Hits[0].TitleHTML, "<mark>"+c.Word+"</mark>") {
				t.Errorf("q=%s: title_html %q lacks the highlighted word", c.Word, res.Hits[0].TitleHTML)
			}
		}
		pending = still
		return len(pending) == 0, fmt.Sprintf("%d of %d not yet searchable", len(pending), len(recs))
	})
	t.Logf("40 concurrent submissions all searchable %s after the last was created", time.Since(start).Round(time.Millisecond))

	// Totals and facet counts by reader, from what was created.
	type facetCounts map[string]map[string]int
	expect := func(keep func(created) bool) (int, facetCounts) {
		n := 0
		fc := facetCounts{}
		add := func(f, v string) {
			if fc[f] == nil {
				fc[f] = map[string]int{}
			}
			fc[f][v]++
		}
		for _, c := range recs {
			if !keep(c) {
				continue
			}
			n++
			add(search.FacetUnit, c.Unit)
			add(search.FacetCategory, categoryTop[c.Category])
			if d := unitByCode[c.Unit].District; d != "" {
				add(search.FacetDistrict, d)
			}
			add(search.FacetClassification, c.Classification)
			add(search.FacetMonth, search.Month(c.ReportedAt))
			add(search.FacetState, "submitted") // the API creates submitted records (issues 5, 7: state facet)
		}
		return n, fc
	}
	check := func(user string, keep func(created) bool) {
		t.Helper()
		want, wantFacets := expect(keep)
		res := s.search(t, user, url.Values{"size": {"100"}})
		if res.Total != want || len(res.Hits) != want {
			t.Errorf("%s: empty search total %d (%d hits), want %d", user, res.Total, len(res.Hits), want)
		}
		for _, f := range search.AllFacets {
			got := map[string]int{}
			for _, v := range res.Facets[f] {
				got[v.Value] = v.Count
			}
			w := wantFacets[f]
			if w == nil {
				w = map[string]int{}
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s: facet %s = %v, want %v", user, f, got, w)
			}
		}
		for _, h := range res.Hits {
			id, _ := strconv.ParseInt(h.ID, 10, 64)
			i := slices.IndexFunc(recs, func(c created) bool { return c.ID == id })
			if i < 0 || !keep(recs[i]) {
				t.Errorf("%s sees record %s (%s, %s), which it may not", user, h.ID, h.Unit, h.Classification)
			}
		}
	}
	check("res_secret", func(created) bool { return true })
	check("res_public", func(c created) bool { return c.Classification == "public" })
	check("rep_b", func(c created) bool { return c.Unit == "Z102" })
	check("rep_a", func(c created) bool { return c.Unit == "Z101" })

	// A filter narrows a restricted reader's totals within its scope only.
	res := s.search(t, "res_public", url.Values{"classification": {"secret"}})
	must(t, res.Total == 0, "public researcher filtering on secret: total %d", res.Total)
	res = s.search(t, "rep_b", url.Values{"unit": {"Z101"}})
	must(t, res.Total == 0, "Z102 reporter filtering on Z101: total %d", res.Total)
}

// oversized sends the headers of a request whose Content-Length exceeds the body limit and
// reads the answer without sending the body.
func (s *stack) oversized(t *testing.T, path, token string, length int) resp {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.Base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"title\":\"",
		path, strings.TrimPrefix(s.Base, "http://"), token, length)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("oversized POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b, URL: s.Base + path}
}
