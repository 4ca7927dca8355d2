package access_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"infowork/access"
	"infowork/analyzers"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/unit"
)

// genRecord is one generated record of a case.
type genRecord struct {
	unit     int // index into the case's units
	level    label.Level
	readers  []string
	labelCat []string // label categories
	category string
	district string
	date     time.Time
}

var (
	usernames = []string{"li", "wang", "zhao", "sa"}
	// labelCats are label categories users may hold; records also draw unregisteredCat, which no
	// user holds (a name that reached a record without passing the registry check).
	labelCats       = []string{"人事", "人事处", "纪检", "经济"}
	unregisteredCat = "未登记"
	categories      = []string{"综合", "经济", "社会"}
	districts       = []string{"", "东城区", "西城区"}
	baseDate        = time.Date(2025, 11, 20, 10, 0, 0, 0, search.Location)
)

// TestPolicyAgreesEverywhere is the key property of the security model: for every subject and
// record, the Go decision (CanRead), the SQL predicate (Predicate), the search engine scope
// (Scope) and row-level security (a query without any predicate, run under the application's
// role after SetLocal) give exactly the same visible set, and nothing outside that set shows up
// in the engine's total or facet counts.
func TestPolicyAgreesEverywhere(t *testing.T) {
	db := testenv.DB(t)
	ctx := t.Context()
	role := appRole(t, db)
	an, err := analyzers.New(analyzers.Options{CacheDir: t.TempDir(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(an.Close)
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: an, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })

	caseNo := 0
	rapid.Check(t, func(rt *rapid.T) {
		caseNo++
		// Unit codes are new in every case; rows are rolled back and documents deleted after it.
		nUnits := rapid.IntRange(1, 4).Draw(rt, "units")
		codes := make([]string, nUnits)
		for i := range codes {
			codes[i] = fmt.Sprintf("C%dU%d", caseNo, i)
		}
		principals := []string{}
		for _, u := range usernames {
			principals = append(principals, "user:"+u)
		}
		for _, c := range codes {
			principals = append(principals, "unit:"+c)
		}
		for _, r := range access.Roles {
			principals = append(principals, "role:"+r)
		}

		recs := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) genRecord {
			r := genRecord{
				unit:     rapid.IntRange(0, nUnits-1).Draw(t, "unit"),
				level:    label.Level(rapid.IntRange(0, 3).Draw(t, "level")),
				category: rapid.SampledFrom(categories).Draw(t, "category"),
				district: rapid.SampledFrom(districts).Draw(t, "district"),
				date:     baseDate.AddDate(0, 0, rapid.IntRange(-70, 0).Draw(t, "day")),
			}
			if rapid.Bool().Draw(t, "restricted") {
				r.readers = rapid.SliceOfNDistinct(rapid.SampledFrom(principals), 1, 3, rapid.ID[string]).Draw(t, "readers")
			}
			r.labelCat = rapid.SliceOfNDistinct(rapid.SampledFrom(append(slices.Clone(labelCats), unregisteredCat)), 0, 3, rapid.ID[string]).Draw(t, "labelCats")
			return r
		}), 0, 15).Draw(rt, "records")

		subjects := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) access.Subject {
			unitChoices := append(slices.Clone(codes), "", "OTHER")
			return access.Subject{
				Username:   rapid.SampledFrom(usernames).Draw(t, "username"),
				UnitCode:   rapid.SampledFrom(unitChoices).Draw(t, "unitCode"),
				Roles:      rapid.SliceOfNDistinct(rapid.SampledFrom(access.Roles), 1, 2, rapid.ID[string]).Draw(t, "roles"),
				Clearance:  label.Level(rapid.IntRange(-1, 4).Draw(t, "clearance")),
				Categories: rapid.SliceOfNDistinct(rapid.SampledFrom(labelCats), 0, len(labelCats), rapid.ID[string]).Draw(t, "categories"),
			}
		}), 1, 6).Draw(rt, "subjects")

		tx, err := db.Begin(ctx)
		if err != nil {
			rt.Fatal(err)
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck
		for i, c := range codes {
			if _, err := unit.Upsert(ctx, tx, unit.Unit{Code: c, Name: "单位" + strconv.Itoa(i), Kind: unit.KindBureau}); err != nil {
				rt.Fatal(err)
			}
		}
		ids := make([]int64, len(recs))
		ops := make([]search.Op, len(recs))
		for i, r := range recs {
			readers, cats := r.readers, r.labelCat
			if readers == nil {
				readers = []string{}
			}
			if cats == nil {
				cats = []string{}
			}
			err := tx.QueryRow(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, classification, readers, district, reported_at, label_categories)
				SELECT id, $2, '<p>正文</p>', '正文', $3, $4, $5, $6, $7 FROM units WHERE code = $1 RETURNING id`,
				codes[r.unit], "报告"+strconv.Itoa(i), int(r.level), readers, r.district, r.date, cats).Scan(&ids[i])
			if err != nil {
				rt.Fatal(err)
			}
			id := strconv.FormatInt(ids[i], 10)
			ops[i] = search.Op{Kind: search.OpUpsert, ID: id, Version: 1, Doc: &search.Document{
				ID: id, Version: 1, Kind: "submission", Title: "报告" + strconv.Itoa(i), Body: "正文",
				Unit: codes[r.unit], UnitName: "单位" + strconv.Itoa(r.unit), Category: r.category,
				District: r.district, Classification: int(r.level), Urgency: "normal", State: policyStates[i%len(policyStates)],
				Date: r.date, Readers: r.readers, LabelCategories: r.labelCat,
			}}
		}
		applyOK(rt, eng, ops)
		defer func() {
			del := make([]search.Op, len(ops))
			for i, op := range ops {
				del[i] = search.Op{Kind: search.OpDelete, ID: op.ID, Version: 2}
			}
			applyOK(rt, eng, del)
		}()

		for si, sub := range subjects {
			// (a) Go.
			goVisible := map[string]bool{}
			for i, r := range recs {
				if access.CanRead(sub, access.Record{UnitCode: codes[r.unit], Classification: r.level, Readers: r.readers, Categories: r.labelCat}) {
					goVisible[strconv.FormatInt(ids[i], 10)] = true
				}
			}
			// (b) SQL.
			pred, args := access.Predicate(sub, "s", 1)
			rows, err := tx.Query(ctx, `SELECT s.id FROM submissions s WHERE `+pred, args...)
			if err != nil {
				rt.Fatalf("subject %d: predicate query: %v", si, err)
			}
			sqlVisible := map[string]bool{}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rt.Fatal(err)
				}
				sqlVisible[strconv.FormatInt(id, 10)] = true
			}
			if err := rows.Err(); err != nil {
				rt.Fatal(err)
			}
			if !maps.Equal(goVisible, sqlVisible) {
				rt.Fatalf("subject %+v: CanRead sees %v, SQL predicate sees %v", sub, sortedKeys(goVisible), sortedKeys(sqlVisible))
			}
			// (b2) Row-level security: no predicate at all, the application's role, the subject's
			// settings. The savepoint's rollback ends the role and the settings.
			rlsVisible := rlsIDs(rt, ctx, tx, role, &sub)
			if !maps.Equal(goVisible, rlsVisible) {
				rt.Fatalf("subject %+v: CanRead sees %v, row-level security sees %v", sub, sortedKeys(goVisible), sortedKeys(rlsVisible))
			}
			// (c) Engine.
			res, err := eng.Search(ctx, search.Query{Size: search.MaxPageSize, Facets: search.AllFacets, FacetSize: 1000, Scope: access.Scope(sub)})
			if err != nil {
				rt.Fatalf("subject %d: search: %v", si, err)
			}
			engVisible := map[string]bool{}
			for _, h := range res.Hits {
				engVisible[h.ID] = true
			}
			if !maps.Equal(goVisible, engVisible) {
				rt.Fatalf("subject %+v: CanRead sees %v, engine sees %v", sub, sortedKeys(goVisible), sortedKeys(engVisible))
			}
			if res.Total != len(goVisible) {
				rt.Fatalf("subject %+v: engine total %d, visible %d", sub, res.Total, len(goVisible))
			}
			want := map[string]map[string]int{}
			for _, f := range search.AllFacets {
				want[f] = map[string]int{}
			}
			for i, r := range recs {
				if !goVisible[strconv.FormatInt(ids[i], 10)] {
					continue
				}
				want[search.FacetUnit][codes[r.unit]]++
				want[search.FacetCategory][r.category]++
				if r.district != "" {
					want[search.FacetDistrict][r.district]++
				}
				want[search.FacetMonth][search.Month(r.date)]++
				want[search.FacetClassification][r.level.String()]++
				want[search.FacetState][policyStates[i%len(policyStates)]]++
			}
			for _, f := range search.AllFacets {
				got := map[string]int{}
				for _, v := range res.Facets[f] {
					got[v.Value] = v.Count
				}
				if !maps.Equal(got, want[f]) {
					rt.Fatalf("subject %+v: facet %s = %v, want %v (from the visible set)", sub, f, got, want[f])
				}
			}
		}
	})
}

// policyStates are the workflow states the generated documents take in turn, so the state
// facet's counts are checked against the visible set like the other facets.
var policyStates = []string{"submitted", "adopted", "returned"}

func applyOK(t interface{ Fatalf(string, ...any) }, eng search.Engine, ops []search.Op) {
	if len(ops) == 0 {
		return
	}
	res, err := eng.Apply(context.Background(), ops)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, r := range res {
		if r.Err != nil || r.Stale {
			t.Fatalf("apply %s: stale=%v err=%v", r.ID, r.Stale, r.Err)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestPolicyOddReaders covers readers values that are not well-formed principals (as a Notes
// import may carry them): the engine must not treat any of them as "no readers list".
func TestPolicyOddReaders(t *testing.T) {
	db := testenv.DB(t)
	ctx := t.Context()
	an, err := analyzers.New(analyzers.Options{CacheDir: t.TempDir(), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(an.Close)
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: an, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "U1", Name: "单位", Kind: unit.KindBureau}); err != nil {
		t.Fatal(err)
	}
	sub := access.Subject{Username: "x", UnitCode: "U1", Roles: []string{access.RoleLeader}, Clearance: label.Confidential}
	for _, readers := range [][]string{{"*"}, {""}, {"user:"}, {"role:leader "}, {"ROLE:leader"}, {"x"}, {"*", "user:y"}} {
		t.Run(fmt.Sprintf("%q", readers), func(t *testing.T) {
			var id int64
			if err := db.QueryRow(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, readers)
				SELECT id, 't', '<p>b</p>', 'b', $1 FROM units WHERE code = 'U1' RETURNING id`, readers).Scan(&id); err != nil {
				t.Fatal(err)
			}
			sid := strconv.FormatInt(id, 10)
			applyOK(t, eng, []search.Op{{Kind: search.OpUpsert, ID: sid, Version: 1, Doc: &search.Document{
				ID: sid, Version: 1, Title: "t", Body: "b", Unit: "U1", Category: "c", Readers: readers}}})
			t.Cleanup(func() {
				applyOK(t, eng, []search.Op{{Kind: search.OpDelete, ID: sid, Version: 2}})
				db.Exec(context.Background(), `DELETE FROM submissions WHERE id = $1`, id) //nolint:errcheck
			})
			goSees := access.CanRead(sub, access.Record{UnitCode: "U1", Readers: readers})
			pred, args := access.Predicate(sub, "s", 2)
			var n int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM submissions s WHERE s.id = $1 AND `+pred, append([]any{id}, args...)...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			res, err := eng.Search(ctx, search.Query{Scope: access.Scope(sub)})
			if err != nil {
				t.Fatal(err)
			}
			if goSees || n != 0 || res.Total != 0 {
				t.Errorf("readers %q hide the record from %s: CanRead = %v, SQL rows = %d, engine total = %d; want false, 0, 0",
					readers, sub.Username, goSees, n, res.Total)
			}
		})
	}
}
