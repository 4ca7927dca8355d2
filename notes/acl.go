package notes

import (
	"slices"
	"sort"
	"strings"
)

// ACL levels, lowest to highest (HCL Domino, "Access levels in the ACL").
var levelRank = map[string]int{"noaccess": 0, "depositor": 1, "reader": 2, "author": 3, "editor": 4, "designer": 5, "manager": 6}

// Rank returns the rank of an ACL level name (unknown: no access).
func Rank(level string) int { return levelRank[strings.ToLower(level)] }

// NoOne is the readers principal of a record no one may read (the ACL grants no reader at all).
const NoOne = "notes:-no-access-"

// Readers is the outcome of translating a document's Readers/Authors items and the database ACL
// into an infowork readers list.
type Readers struct {
	// Principals is the readers column: empty means no restriction beyond unit and label.
	Principals []string
	// Unmapped are Notes names that have no entry in the mapping (kept as notes:NAME, which no
	// one holds, so they only restrict).
	Unmapped []string
	// Narrowed are reader names dropped because the ACL closes the database and the name has no
	// ACL entry of its own (group membership is not known here): access is narrower than in
	// Notes, never wider, and the report lists them.
	Narrowed []string
}

func (m *Mapping) principal(name string, unmapped *[]string) string {
	n := strings.TrimSpace(name)
	for _, k := range []string{n, abbreviate(n), commonName(n)} {
		for mk, v := range m.Names {
			if strings.EqualFold(mk, k) {
				return v
			}
		}
	}
	if !slices.Contains(*unmapped, n) {
		*unmapped = append(*unmapped, n)
	}
	return "notes:" + n
}

func commonName(n string) string {
	first, _, _ := strings.Cut(n, "/")
	if k, v, ok := strings.Cut(first, "="); ok && strings.EqualFold(k, "CN") {
		return v
	}
	return first
}

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) ||
		strings.EqualFold(abbreviate(strings.TrimSpace(a)), abbreviate(strings.TrimSpace(b)))
}

// entry returns the ACL entry of name, if any.
func (a *ACL) entry(name string) (ACLEntry, bool) {
	if a == nil {
		return ACLEntry{}, false
	}
	for _, e := range a.Entries {
		if sameName(e.Name, name) {
			return e, true
		}
	}
	return ACLEntry{}, false
}

// defaultRank is the level of -Default- (manager when there is no ACL: a single-note export
// carries none, and the document is then governed by its own Readers fields only).
func (a *ACL) defaultRank() int {
	if a == nil || len(a.Entries) == 0 {
		return levelRank["manager"]
	}
	for _, e := range a.Entries {
		if e.Attrs["default"] == "true" || e.Name == "-Default-" {
			return Rank(e.Level)
		}
	}
	return 0 // no -Default- entry: Notes treats it as No Access
}

// ComputeReaders translates the Notes read rules (§0.9) into an infowork readers list:
//   - a reader list exists when a Readers item has a name; it is the union of all Readers items
//     and all Authors items (Authors grant read access when a reader list exists);
//   - Readers only restrict: a name gets read access only if the ACL gives it at least Reader;
//     No Access (and Depositor) never read, even when listed;
//   - without a reader list, whoever the ACL lets read may read: everyone (no restriction) when
//     -Default- is Reader or above, else exactly the entries with Reader or above.
//
// Roles ([Name]) in reader lists stand for the ACL entries holding the role.
func ComputeReaders(acl *ACL, d *Document, m *Mapping) Readers {
	var out Readers
	readers, authors := d.ReadersAndAuthors()
	names := append(slices.Clone(readers), authors...)
	open := acl.defaultRank() >= levelRank["reader"]
	special := func(e ACLEntry) bool {
		return e.Attrs["default"] == "true" || e.Name == "-Default-" || strings.EqualFold(e.Name, "Anonymous")
	}
	// An explicit entry below Reader (No Access, Depositor) denies that person even when a group
	// they belong to, or -Default-, would let them read. A readers list can only add, and group
	// membership is not known here, so while such an entry exists no group-like principal
	// (unit:, role:) is granted: access becomes narrower than in Notes, never wider.
	// A group entry below Reader likewise decides the level of its members who have no entry of
	// their own, so then a person is granted only through their own entry.
	deny, groupDeny := false, false
	if acl != nil {
		for _, e := range acl.Entries {
			if !special(e) && Rank(e.Level) < levelRank["reader"] {
				deny = true
				if !strings.HasPrefix(m.principal(e.Name, &[]string{}), "user:") {
					groupDeny = true
				}
			}
		}
	}
	add := func(name string) {
		p := m.principal(name, &out.Unmapped)
		if deny && !strings.HasPrefix(p, "user:") && !strings.HasPrefix(p, "notes:") {
			out.Narrowed = append(out.Narrowed, name)
			return
		}
		if !slices.Contains(out.Principals, p) {
			out.Principals = append(out.Principals, p)
		}
	}
	finish := func() Readers {
		if len(out.Principals) == 0 {
			out.Principals = []string{NoOne}
		}
		sort.Strings(out.Principals)
		return out
	}
	if len(readers) == 0 {
		if open && !deny {
			return out // everyone the unit and label rules allow
		}
		for _, e := range acl.Entries {
			if !special(e) && Rank(e.Level) >= levelRank["reader"] {
				add(e.Name)
			}
		}
		if open {
			out.Narrowed = append(out.Narrowed, "-Default-")
		}
		return finish()
	}
	for _, n := range names {
		if strings.HasPrefix(n, "[") && strings.HasSuffix(n, "]") {
			// a role: the people whose own ACL entry holds it (a group's roles reach only the
			// members without an entry of their own, which is not known here)
			if acl != nil {
				for _, e := range acl.Entries {
					if special(e) || Rank(e.Level) < levelRank["reader"] ||
						!(slices.Contains(e.Roles, n) || slices.Contains(e.Roles, strings.Trim(n, "[]"))) {
						continue
					}
					if p := m.principal(e.Name, &[]string{}); strings.HasPrefix(p, "user:") {
						add(e.Name)
					} else {
						out.Narrowed = append(out.Narrowed, e.Name)
					}
				}
			}
			if p := m.principal(n, &[]string{}); !strings.HasPrefix(p, "notes:") {
				add(n) // the operator mapped the role itself (e.g. role:editor)
			}
			continue
		}
		if e, ok := acl.entry(n); ok {
			switch {
			case Rank(e.Level) >= levelRank["reader"]:
				add(n)
			case !strings.HasPrefix(m.principal(n, &[]string{}), "user:"):
				// a group denied as a group: members with their own Reader entry still read in
				// Notes, and who they are is not known here
				out.Narrowed = append(out.Narrowed, n)
			}
			continue
		}
		if open && !groupDeny {
			add(n)
		} else {
			out.Narrowed = append(out.Narrowed, n)
		}
	}
	return finish()
}

// NotesUser is a person in the Notes directory, for the oracle.
type NotesUser struct {
	Name   string
	Groups []string
}

// NotesCanRead is the reference implementation of the Notes read rules (§0.9) used as the test
// oracle: the user's ACL level is that of their own entry, else the highest of their groups'
// entries, else -Default-; roles come from the matching entries; No Access (and Depositor) never
// read; with a reader list (Readers ∪ Authors) the user, one of their groups or one of their
// roles must be listed.
func NotesCanRead(u NotesUser, acl *ACL, d *Document) bool {
	rank := -1
	var roles []string
	if e, ok := acl.entry(u.Name); ok {
		rank = Rank(e.Level)
		roles = e.Roles
	} else {
		for _, g := range u.Groups {
			if e, ok := acl.entry(g); ok {
				if Rank(e.Level) > rank {
					rank = Rank(e.Level)
				}
				roles = append(roles, e.Roles...)
			}
		}
		if rank < 0 {
			rank = acl.defaultRank()
		}
	}
	if rank < levelRank["reader"] {
		return false
	}
	readers, authors := d.ReadersAndAuthors()
	if len(readers) == 0 {
		return true
	}
	for _, n := range append(readers, authors...) {
		if sameName(n, u.Name) {
			return true
		}
		for _, g := range u.Groups {
			if sameName(n, g) {
				return true
			}
		}
		for _, r := range roles {
			if n == r || n == "["+strings.Trim(r, "[]")+"]" {
				return true
			}
		}
	}
	return false
}
