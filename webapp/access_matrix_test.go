package webapp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"infowork/access"
	"infowork/auth"
	"infowork/label"
	"infowork/submission"
)

// TestAccessMatrix is generated from the policy: every role × two clearances (with and without a
// label category) against records of the user's own unit and of another unit at every level,
// with a label category and with readers lists. For each cell the expected outcome comes from
// access.CanRead, and every read route is checked: the record page and API answer 200 or 404
// (never 403: another unit's record must not be seen to exist), and the list and search routes,
// pages and API, show the record and count it in their totals exactly when CanRead allows.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	if _, err := label.AddCategory(ctx, s.DB, "人事", "人事档案"); err != nil {
		t.Fatal(err)
	}

	// Records: own unit (Z101) and another unit (Z102) at each level, one with a label category,
	// and readers lists naming a user, a unit and a role.
	shared := randomWord()
	type rec struct {
		ID     int64
		Word   string
		Record access.Record
	}
	var recs []*rec
	add := func(unitCode string, lvl label.Level, cats, readers []string) {
		recs = append(recs, &rec{Word: randomWord(), Record: access.Record{UnitCode: unitCode, Classification: lvl, Categories: cats, Readers: readers}})
	}
	for _, u := range []string{"Z101", "Z102"} {
		for _, l := range label.Levels {
			add(u, l, nil, nil)
		}
	}
	add("Z101", label.Public, []string{"人事"}, nil)
	add("Z102", label.Public, nil, []string{"user:mx_editor_c"})
	add("Z102", label.Internal, nil, []string{"unit:Z101"})
	add("Z101", label.Public, nil, []string{"role:researcher"})

	subs := submission.New(s.DB)
	for _, r := range recs {
		author := access.Subject{Username: "matrix", UnitCode: r.Record.UnitCode, Roles: []string{access.RoleReporter},
			Clearance: label.Confidential, Categories: []string{"人事"}}
		c, err := subs.Create(ctx, author, submission.Input{Title: "矩阵 " + r.Word, Body: "访问矩阵正文 " + shared,
			Classification: r.Record.Classification.String(), LabelCategories: r.Record.Categories}, "127.0.0.1")
		if err != nil {
			t.Fatalf("record %+v: %v", r.Record, err)
		}
		r.ID = c.ID
		if len(r.Record.Readers) > 0 {
			if _, err := s.DB.Exec(ctx, `WITH u AS (UPDATE submissions SET readers = $2, version = version + 1 WHERE id = $1 RETURNING id)
				INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM u`, c.ID, r.Record.Readers); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Users: every role, in unit Z101, at internal without categories and at confidential with 人事.
	type user struct {
		Name    string
		Subject access.Subject
		Browser *browser
	}
	svc, err := auth.New(s.DB, auth.Options{HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	var users []*user
	for _, role := range access.Roles {
		for _, cl := range []struct {
			suffix string
			level  label.Level
			cats   []string
		}{{"i", label.Internal, nil}, {"c", label.Confidential, []string{"人事"}}} {
			name := "mx_" + role + "_" + cl.suffix
			if role == access.RoleEditor {
				name = "mx_editor_" + cl.suffix
			}
			u, err := svc.CreateUser(ctx, auth.NewUser{Username: name, Password: password, Roles: []string{role}, UnitCode: "Z101", Clearance: cl.level})
			if err != nil {
				t.Fatal(err)
			}
			if len(cl.cats) > 0 {
				if err := label.SetUserLabel(ctx, s.DB, u.ID, label.Label{Level: cl.level, Categories: cl.cats}); err != nil {
					t.Fatal(err)
				}
			}
			if u, err = svc.UserByID(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			users = append(users, &user{Name: name, Subject: u.Subject()})
		}
	}

	// Wait until the indexer has drained the outbox: every record is in the engine.
	waitFor(t, 15*time.Second, "records indexed", func() (bool, string) {
		var n int
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0, fmt.Sprintf("%d outbox rows", n)
	})

	totalRE := regexp.MustCompile(`共 (\d+) 条`)
	cells := 0
	for _, u := range users {
		t.Run(u.Name, func(t *testing.T) {
			if auth.AdminRoleOf(u.Subject.Roles) != "" {
				u.Browser = adminLogin(t, s, u.Name)
			} else {
				u.Browser = s.browser(t)
				u.Browser.login(u.Name)
			}
			b := u.Browser
			var want []int64
			for _, r := range recs {
				ok := access.CanRead(u.Subject, r.Record)
				if ok {
					want = append(want, r.ID)
				}
				status := http.StatusNotFound
				if ok {
					status = http.StatusOK
				}
				for _, p := range []string{"/submissions/" + strconv.FormatInt(r.ID, 10), "/api/v1/submissions/" + strconv.FormatInt(r.ID, 10)} {
					got := b.get(p)
					cells++
					must(t, got.Status == status, "%s GET %s (record %+v): %d, want %d", u.Name, p, r.Record, got.Status, status)
					if ok && got.Status == http.StatusOK {
						must(t, strings.Contains(string(got.Body), r.Word), "%s GET %s: the record's title is missing", u.Name, p)
					}
				}
			}
			slices.Sort(want)

			// API list and search: exactly the readable records, and totals that say so.
			var list struct {
				Total int `json:"total"`
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
			}
			b.getJSON("/api/v1/submissions?size=100", &list)
			var gotList []int64
			for _, it := range list.Items {
				gotList = append(gotList, it.ID)
			}
			slices.Sort(gotList)
			must(t, slices.Equal(gotList, want) && list.Total == len(want), "%s /api/v1/submissions: %v (total %d), want %v", u.Name, gotList, list.Total, want)

			var res searchResult
			b.getJSON("/api/v1/search?size=100&q="+url.QueryEscape(shared), &res)
			var gotSearch []int64
			for _, h := range res.Hits {
				id, _ := strconv.ParseInt(h.ID, 10, 64)
				gotSearch = append(gotSearch, id)
			}
			slices.Sort(gotSearch)
			must(t, slices.Equal(gotSearch, want) && res.Total == len(want), "%s /api/v1/search: %v (total %d), want %v", u.Name, gotSearch, res.Total, want)
			for name, vals := range res.Facets {
				sum := 0
				for _, v := range vals {
					sum += v.Count
				}
				must(t, sum <= len(want), "%s facet %s counts %d records, the user may read %d", u.Name, name, sum, len(want))
			}
			if unitFacet := res.Facets["unit"]; len(want) > 0 {
				sum := 0
				for _, v := range unitFacet {
					sum += v.Count
				}
				must(t, sum == len(want), "%s unit facet counts %d, want %d", u.Name, sum, len(want))
			}

			// Pages: the list and the search results show exactly the readable titles.
			listPage := b.get("/submissions")
			searchPage := b.get("/search?size=100&q=" + url.QueryEscape(shared))
			must(t, listPage.Status == http.StatusOK && searchPage.Status == http.StatusOK, "%s pages: %s / %s", u.Name, listPage, searchPage)
			if m := totalRE.FindSubmatch(listPage.Body); m == nil || string(m[1]) != strconv.Itoa(len(want)) {
				t.Errorf("%s /submissions total %q, want %d", u.Name, m, len(want))
			}
			for _, r := range recs {
				readable := slices.Contains(want, r.ID)
				must(t, strings.Contains(string(listPage.Body), r.Word) == readable, "%s /submissions shows record %+v: %v, want %v", u.Name, r.Record, !readable, readable)
				must(t, strings.Contains(string(searchPage.Body), r.Word) == readable, "%s /search shows record %+v: %v, want %v", u.Name, r.Record, !readable, readable)
				cells += 4
			}
		})
	}
	// The generated matrix is not trivial: some users read everything readable at their level,
	// some nothing, and every record is readable by someone and hidden from someone.
	for _, r := range recs {
		readers, hidden := 0, 0
		for _, u := range users {
			if access.CanRead(u.Subject, r.Record) {
				readers++
			} else {
				hidden++
			}
		}
		must(t, readers > 0 && hidden > 0, "record %+v: %d users may read it, %d may not", r.Record, readers, hidden)
	}
	t.Logf("%d users × %d records: %d cells checked", len(users), len(recs), cells)
}

// getJSON GETs an API path with the browser's session cookie and decodes the answer.
func (b *browser) getJSON(path string, v any) {
	b.t.Helper()
	r := b.get(path)
	if r.Status != http.StatusOK {
		b.t.Fatalf("GET %s: %s", path, r)
	}
	r.Decode(b.t, v)
}
