package esengine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"infowork/analyzers"
	"infowork/mappings"
	"infowork/search"
	"infowork/search/internal/esengine/estest"
)

// fakeCluster answers the few requests the engine sends, with scripted bulk item statuses.
type fakeCluster struct {
	mu        sync.Mutex
	down      bool
	aliasOK   bool
	bulkCalls int
	// bulkStatus returns the status of one bulk item (by id and 1-based bulk call); 0 means a
	// request-level 429 for the whole call.
	bulkStatus func(id string, call int) int
}

func respond(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
}

func (f *fakeCluster) send(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	}
	switch {
	case req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/_alias/"):
		if !f.aliasOK {
			return respond(404, `{"error":"alias [x] missing","status":404}`), nil
		}
		return respond(200, `{"t_submissions.v1":{"aliases":{"t_submissions":{}}}}`), nil
	case req.Method == http.MethodPut:
		f.aliasOK = true
		return respond(200, `{"acknowledged":true}`), nil
	case strings.HasSuffix(req.URL.Path, "/_bulk"):
		f.bulkCalls++
		var items []string
		sc := bufio.NewScanner(req.Body)
		sc.Buffer(nil, 1<<20)
		for line := 0; sc.Scan(); line++ {
			if line%2 == 1 {
				continue
			}
			var meta struct {
				Index struct {
					ID string `json:"_id"`
				} `json:"index"`
			}
			if err := json.Unmarshal(sc.Bytes(), &meta); err != nil {
				return nil, err
			}
			items = append(items, meta.Index.ID)
		}
		var out []string
		for _, id := range items {
			st := f.bulkStatus(id, f.bulkCalls)
			if st == 0 {
				return respond(429, `{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":429}`), nil
			}
			item := fmt.Sprintf(`{"index":{"_id":%q,"status":%d}}`, id, st)
			if st >= 300 {
				item = fmt.Sprintf(`{"index":{"_id":%q,"status":%d,"error":{"type":"t%d","reason":"r%d"}}}`, id, st, st, st)
			}
			out = append(out, item)
		}
		return respond(200, `{"errors":true,"items":[`+strings.Join(out, ",")+`]}`), nil
	}
	return respond(500, `{"error":{"type":"unexpected","reason":"`+req.Method+" "+req.URL.Path+`"}}`), nil
}

func openFake(t *testing.T, f *fakeCluster) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{
		Name: "fake", Send: f.send, IndexPrefix: "t_", Analyzer: estest.Analyzer(t),
		BulkBackoffBase: time.Millisecond, BulkBackoffMax: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ops(ids ...string) []search.Op {
	var out []search.Op
	for _, id := range ids {
		d := search.Document{ID: id, Version: 1, Title: "停车", Body: "停车难", Unit: "u1", Date: time.Now()}
		out = append(out, search.Op{Kind: search.OpUpsert, ID: id, Version: 1, Doc: &d})
	}
	return out
}

// TestApplyReadsEveryItem: an HTTP 200 bulk answer with mixed item statuses, after a
// request-level 429 (reliability reference B6).
func TestApplyReadsEveryItem(t *testing.T) {
	f := &fakeCluster{aliasOK: true, bulkStatus: func(id string, call int) int {
		switch {
		case call == 1:
			return 0 // whole request throttled
		case id == "ok":
			return 201
		case id == "stale":
			return 409
		case id == "mapping":
			return 400
		case id == "throttled" && call == 2:
			return 429
		case id == "throttled":
			return 201
		case id == "down":
			return 503
		}
		return 500
	}}
	e := openFake(t, f)
	res, err := e.Apply(context.Background(), ops("ok", "stale", "mapping", "throttled", "down"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stale, err, permanent bool
	}{{false, false, false}, {true, false, false}, {false, true, true}, {false, false, false}, {false, true, false}}
	for i, w := range want {
		r := res[i]
		if r.Stale != w.stale || (r.Err != nil) != w.err || r.Permanent != w.permanent {
			t.Errorf("%s: %+v, want stale=%v err=%v permanent=%v", r.ID, r, w.stale, w.err, w.permanent)
		}
	}
	if f.bulkCalls != DefaultBulkAttempts {
		t.Errorf("bulk calls = %d, want %d (one throttled request, then retries of the 5xx item)", f.bulkCalls, DefaultBulkAttempts)
	}
}

// TestUnreachable: Open tolerates a cluster that is down; writes and searches fail with
// ErrUnavailable; once it is back, the first call creates the index and works.
func TestUnreachable(t *testing.T) {
	f := &fakeCluster{down: true, bulkStatus: func(string, int) int { return 201 }}
	e := openFake(t, f)
	if _, err := e.Apply(context.Background(), ops("1")); !errors.Is(err, search.ErrUnavailable) {
		t.Fatalf("Apply while down: %v, want ErrUnavailable", err)
	}
	if _, err := e.Search(context.Background(), search.Query{Text: "停车"}); !errors.Is(err, search.ErrUnavailable) {
		t.Fatalf("Search while down: %v, want ErrUnavailable", err)
	}
	// Within the retry interval the last set-up failure is reported without a new attempt.
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
	if _, err := e.Search(context.Background(), search.Query{Text: "停车"}); !errors.Is(err, search.ErrUnavailable) {
		t.Fatalf("Search right after the failure: %v, want the remembered ErrUnavailable", err)
	}
	e.setupRetry = 0
	res, err := e.Apply(context.Background(), ops("1"))
	if err != nil || res[0].Err != nil {
		t.Fatalf("Apply after recovery: %v %+v", err, res)
	}
	if !f.aliasOK {
		t.Fatal("the index was not created on first use")
	}
}

func TestApplyWhenTheWholeRequestKeepsFailing(t *testing.T) {
	f := &fakeCluster{aliasOK: true, bulkStatus: func(string, int) int { return 0 }}
	e := openFake(t, f)
	if _, err := e.Apply(context.Background(), ops("1", "2")); !errors.Is(err, search.ErrUnavailable) {
		t.Fatalf("Apply = %v, want ErrUnavailable after %d throttled attempts", err, DefaultBulkAttempts)
	}
	if f.bulkCalls != DefaultBulkAttempts {
		t.Fatalf("bulk calls = %d, want %d", f.bulkCalls, DefaultBulkAttempts)
	}
}

func TestOpenRejectsBadCredentials(t *testing.T) {
	send := func(*http.Request) (*http.Response, error) {
		return respond(401, `{"error":{"type":"security_exception","reason":"missing authentication credentials"}}`), nil
	}
	_, err := Open(context.Background(), Config{Name: "fake", Send: send, Analyzer: estest.Analyzer(t)})
	if err == nil || errors.Is(err, search.ErrUnavailable) || !strings.Contains(err.Error(), "security_exception") {
		t.Fatalf("Open = %v, want the authentication error", err)
	}
}

func TestIndexTermsSharePositions(t *testing.T) {
	toks := []analyzers.Token{
		{Term: "北京", Position: 0}, {Term: "市委", Position: 0}, {Term: "北京市委", Position: 0},
		{Term: "召开", Position: 1}, {Term: "a b", Position: 3},
	}
	got := indexTerms(toks)
	want := "北京\x01市委\x01北京市委 召开 \x01 a_b"
	if got != want {
		t.Fatalf("indexTerms = %q, want %q", got, want)
	}
	long := strings.Repeat("长", 200)
	if w := wireTerm(long); len(w) > maxTermBytes || !strings.HasPrefix(long, w) {
		t.Fatalf("wireTerm cut %d bytes badly: %q", len(w), w)
	}
}

// TestMappingDeclaresEveryField: the index is dynamic: strict, so a field written but not
// declared would make every write fail.
func TestMappingDeclaresEveryField(t *testing.T) {
	m, err := mappings.Latest(MappingName)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(m.JSON, &def); err != nil {
		t.Fatal(err)
	}
	e := openFake(t, &fakeCluster{aliasOK: true})
	d := search.Document{
		ID: "1", Kind: "submission", Title: "标题", Body: "正文", Unit: "u", UnitName: "单位", Category: "c",
		Subcategory: "s", District: "d", Classification: 1, Urgency: "urgent", State: "submitted",
		Date: time.Now(), Readers: []string{"user:a"}, LabelCategories: []string{"x"},
	}
	for _, src := range []source{e.buildSource(search.Op{ID: "1", Version: 1, Doc: &d}), {ID: "1", Deleted: true}} {
		b, _ := json.Marshal(src)
		var fields map[string]any
		_ = json.Unmarshal(b, &fields)
		for f := range fields {
			if _, ok := def.Mappings.Properties[f]; !ok {
				t.Errorf("field %q is written but not in mappings/%s v%d", f, m.Name, m.Version)
			}
		}
	}
	for _, f := range hitSource {
		if _, ok := def.Mappings.Properties[f]; !ok {
			t.Errorf("hit field %q is not in the mapping", f)
		}
	}
	if !bytes.Contains(m.JSON, []byte(`"iw_query"`)) {
		t.Error("the phrase analyzer iw_query used by match_phrase is missing")
	}
}
