package notes_test

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"infowork/access"
	"infowork/label"
	"infowork/notes"
)

func doc(items ...notes.Item) *notes.Document { return &notes.Document{UNID: "X", Items: items} }

func names(flag string, ns ...string) notes.Item {
	it := notes.Item{Name: flag + "Field", Flags: map[string]string{flag: "true", "names": "true"}, Type: "textlist"}
	for _, n := range ns {
		it.Values = append(it.Values, notes.Value{T: "text", V: n})
	}
	return it
}

func subject(user, unit string) access.Subject {
	return access.Subject{Username: user, UnitCode: unit, Roles: []string{access.RoleEditor}, Clearance: label.Confidential}
}

// The IBM truth table ("Combining Readers and Authors fields"): no Readers and no Authors —
// everyone with Reader access reads; Readers={Jane} — only Jane; Readers={Jane}, Authors={Roberto}
// — both.
func TestIBMReadersAuthorsTruthTable(t *testing.T) {
	acl := &notes.ACL{Entries: []notes.ACLEntry{{Name: "-Default-", Level: "editor", Attrs: map[string]string{"default": "true"}}}}
	m := notes.DefaultMapping()
	m.Names = map[string]string{"CN=Jane/O=Org": "user:jane", "CN=Roberto/O=Org": "user:roberto"}
	users := []string{"jane", "roberto", "other"}
	cases := []struct {
		name string
		d    *notes.Document
		read []string
	}{
		{"no readers, no authors", doc(), []string{"jane", "roberto", "other"}},
		{"readers jane", doc(names("readers", "CN=Jane/O=Org")), []string{"jane"}},
		{"readers jane, authors roberto", doc(names("readers", "CN=Jane/O=Org"), names("authors", "CN=Roberto/O=Org")), []string{"jane", "roberto"}},
		{"authors only", doc(names("authors", "CN=Roberto/O=Org")), []string{"jane", "roberto", "other"}},
	}
	for _, c := range cases {
		rd := notes.ComputeReaders(acl, c.d, m)
		for _, u := range users {
			got := access.CanRead(subject(u, ""), access.Record{Readers: rd.Principals})
			notesSays := notes.NotesCanRead(notes.NotesUser{Name: "CN=" + cap(u) + "/O=Org"}, acl, c.d)
			if want := slices.Contains(c.read, u); got != want || notesSays != want {
				t.Errorf("%s: %s infowork=%v notes-oracle=%v want %v (readers %v)", c.name, u, got, notesSays, want, rd.Principals)
			}
		}
	}
}

func cap(u string) string {
	if u == "" {
		return u
	}
	return string(u[0]-32) + u[1:]
}

// For random ACLs, users, groups and Readers/Authors fields, infowork's decision equals the
// Notes rules (the oracle NotesCanRead) for every user and document; the only allowed difference
// is a denial the import reported as narrowed — never a read Notes would refuse.
func TestReadDecisionsEqualTheNotesOracle(t *testing.T) {
	levels := []string{"noaccess", "depositor", "reader", "author", "editor", "manager"}
	userNames := []string{"u1", "u2", "u3", "u4", "u5"}
	groups := []string{"g1", "g2"}
	rapid.Check(t, func(rt *rapid.T) {
		m := notes.DefaultMapping()
		m.Names = map[string]string{}
		member := map[string]string{}
		for _, u := range userNames {
			m.Names["CN="+u+"/O=City"] = "user:" + u
			if g := rapid.SampledFrom(append([]string{""}, groups...)).Draw(rt, "group-"+u); g != "" {
				member[u] = g
			}
		}
		for _, g := range groups {
			m.Names[g] = "unit:" + g
		}
		acl := &notes.ACL{Entries: []notes.ACLEntry{{Name: "-Default-", Attrs: map[string]string{"default": "true"},
			Level: rapid.SampledFrom(levels).Draw(rt, "default")}}}
		for _, n := range append(slices.Clone(userNames), groups...) {
			if !rapid.Bool().Draw(rt, "has-entry-"+n) {
				continue
			}
			name := n
			if !slices.Contains(groups, n) {
				name = "CN=" + n + "/O=City"
			}
			e := notes.ACLEntry{Name: name, Level: rapid.SampledFrom(levels).Draw(rt, "level-"+n)}
			if rapid.Bool().Draw(rt, "role-"+n) {
				e.Roles = []string{"[Editors]"}
			}
			acl.Entries = append(acl.Entries, e)
		}
		pick := func(label string) []string {
			var out []string
			for _, n := range []string{"CN=u1/O=City", "CN=u2/O=City", "CN=u3/O=City", "g1", "g2", "[Editors]"} {
				if rapid.IntRange(0, 3).Draw(rt, label+n) == 0 {
					out = append(out, n)
				}
			}
			return out
		}
		var items []notes.Item
		if r := pick("readers"); len(r) > 0 {
			items = append(items, names("readers", r...))
		}
		if a := pick("authors"); len(a) > 0 {
			items = append(items, names("authors", a...))
		}
		d := doc(items...)
		rd := notes.ComputeReaders(acl, d, m)
		for _, u := range userNames {
			nu := notes.NotesUser{Name: "CN=" + u + "/O=City"}
			if g := member[u]; g != "" {
				nu.Groups = []string{g}
			}
			want := notes.NotesCanRead(nu, acl, d)
			got := access.CanRead(subject(u, member[u]), access.Record{UnitCode: member[u], Readers: rd.Principals})
			if got && !want {
				rt.Fatalf("%s reads in infowork but not in Notes: readers %v, ACL %+v, items %+v", u, rd.Principals, acl.Entries, items)
			}
			if !got && want && len(rd.Narrowed) == 0 {
				rt.Fatalf("%s reads in Notes but not in infowork, and the import did not report it: readers %v, ACL %+v, items %+v",
					u, rd.Principals, acl.Entries, fmt.Sprint(items))
			}
		}
	})
}
