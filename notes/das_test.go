package notes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dasStandIn is a Domino Access Services data API stand-in built from the documented shapes
// (docs/notes-migration.md, "Sources"): the document collection with since, ps and page and a
// Content-Range header, the document resource by UNID, HTTP basic authentication answering 401,
// and a Date header from its own clock, which runs hours ahead of the local one so a poller that
// used the local clock for since would be caught.
type dasStandIn struct {
	mu       sync.Mutex
	db       string
	user     string
	pass     string
	clock    time.Time
	docs     map[string]*dasDoc
	sinces   []string // since of each first-page collection request, in order
	dates    []string // Date of each first-page collection answer
	docGets  int
	failNext int // answer 500 to the next n requests
	failIn   int // when > 0: answer 500 to the failIn-th request from now (once)
}

type dasDoc struct {
	unid     string
	form     string
	created  time.Time
	modified time.Time
	fields   map[string]any
}

func newDASStandIn(db, user, pass string) (*dasStandIn, *httptest.Server) {
	s := &dasStandIn{db: db, user: user, pass: pass, clock: time.Now().UTC().Add(5 * time.Hour).Truncate(time.Second),
		docs: map[string]*dasDoc{}}
	return s, httptest.NewServer(s)
}

// put creates or changes a document at the server's current time, then moves the clock on.
func (s *dasStandIn) put(unid, form string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[unid]
	if !ok {
		d = &dasDoc{unid: unid, form: form, created: s.clock}
		s.docs[unid] = d
	}
	d.fields = fields
	d.modified = s.clock
	s.clock = s.clock.Add(time.Second)
}

func (s *dasStandIn) remove(unid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, unid)
	s.clock = s.clock.Add(time.Second)
}

func (s *dasStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Date", s.clock.Format(http.TimeFormat))
	if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
		w.Header().Set("WWW-Authenticate", `Basic realm="/`+s.db+`"`)
		http.Error(w, `{"code":401,"text":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if s.failIn > 0 {
		if s.failIn--; s.failIn == 0 {
			http.Error(w, `{"code":500,"text":"Internal error"}`, http.StatusInternalServerError)
			return
		}
	}
	if s.failNext > 0 {
		s.failNext--
		http.Error(w, `{"code":500,"text":"Internal error"}`, http.StatusInternalServerError)
		return
	}
	prefix := "/" + s.db + "/api/data/documents"
	switch {
	case r.URL.Path == prefix:
		s.collection(w, r)
	case strings.HasPrefix(r.URL.Path, prefix+"/unid/"):
		s.docGets++
		d, ok := s.docs[strings.TrimPrefix(r.URL.Path, prefix+"/unid/")]
		if !ok {
			http.Error(w, `{"code":404,"text":"Document not found"}`, http.StatusNotFound)
			return
		}
		out := map[string]any{"@unid": d.unid, "@noteid": "8F6", "@form": d.form,
			"@href":    prefix + "/unid/" + d.unid,
			"@created": d.created.Format(time.RFC3339), "@modified": d.modified.Format(time.RFC3339)}
		for k, v := range d.fields {
			out[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

func (s *dasStandIn) collection(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, `{"code":400,"text":"bad since"}`, http.StatusBadRequest)
			return
		}
		since = t
	}
	ps, _ := strconv.Atoi(q.Get("ps"))
	if ps <= 0 {
		ps = 10
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page == 0 {
		s.sinces = append(s.sinces, q.Get("since"))
		s.dates = append(s.dates, s.clock.Format(time.RFC3339))
	}
	var list []*dasDoc
	for _, d := range s.docs {
		if !d.modified.Before(since) {
			list = append(list, d)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].unid < list[j].unid })
	first, last := page*ps, min((page+1)*ps, len(list))
	out := []map[string]string{}
	for _, d := range list[min(first, len(list)):last] {
		out = append(out, map[string]string{"@href": "/" + s.db + "/api/data/documents/unid/" + d.unid, "@unid": d.unid,
			"@modified": d.modified.Format(time.RFC3339)})
	}
	if len(list) > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("items %d-%d/%d", first, last-1, len(list)))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
