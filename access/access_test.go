package access_test

import (
	"slices"
	"strings"
	"testing"

	"infowork/access"
	"infowork/label"
)

func TestValidateRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roles   []string
		wantErr string // substring; "" means valid
	}{
		{nil, "at least one role"},
		{[]string{}, "at least one role"},
		{[]string{"reporter"}, ""},
		{[]string{"reporter", "unit_approver"}, ""},
		{[]string{"editor", "signer", "researcher", "leader"}, ""},
		{[]string{"sysadmin"}, ""},
		{[]string{"secadmin"}, ""},
		{[]string{"auditadmin"}, ""},
		{[]string{"sysadmin", "reporter"}, "cannot be combined"},
		{[]string{"editor", "auditadmin"}, "cannot be combined"},
		{[]string{"leader", "secadmin"}, "cannot be combined"},
		{[]string{"root"}, `unknown role "root"`},
		{[]string{"reporter", "Reporter"}, `unknown role "Reporter"`},
		{[]string{""}, `unknown role ""`},
		{[]string{"editor", " editor"}, "unknown role"},
	}
	for _, tt := range tests {
		err := access.ValidateRoles(tt.roles)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateRoles(%q) = %v, want nil", tt.roles, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateRoles(%q) = %v, want error containing %q", tt.roles, err, tt.wantErr)
		}
	}
}

// TestAdminPairs is the 三员分立 rule: no account holds two of the three administrator roles,
// nor the same one twice.
func TestAdminPairs(t *testing.T) {
	t.Parallel()
	admins := []string{access.RoleSysAdmin, access.RoleSecAdmin, access.RoleAuditAdmin}
	for _, a := range admins {
		for _, b := range admins {
			if err := access.ValidateRoles([]string{a, b}); err == nil {
				t.Errorf("ValidateRoles(%s, %s) accepted two administrator roles", a, b)
			}
		}
	}
}

func TestRolesAreKnown(t *testing.T) {
	t.Parallel()
	want := []string{"reporter", "unit_approver", "editor", "signer", "researcher", "leader", "sysadmin", "secadmin", "auditadmin"}
	if !slices.Equal(access.Roles, want) {
		t.Fatalf("Roles = %v, want the contract list %v", access.Roles, want)
	}
	for _, r := range access.Roles {
		if !access.ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
		if n := access.RoleName(r); n == r || n == "" {
			t.Errorf("RoleName(%q) = %q, want a zh-CN name", r, n)
		}
	}
	if access.ValidRole("admin") || access.RoleName("admin") != "admin" {
		t.Error("unknown role treated as known")
	}
}

func TestSubjectScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		sub        access.Subject
		allUnits   bool
		units      []string
		principals []string
		canSubmit  bool
	}{
		{"reporter", access.Subject{Username: "li", UnitCode: "B01", Roles: []string{"reporter"}},
			false, []string{"B01"}, []string{"user:li", "unit:B01", "role:reporter"}, true},
		{"unit approver", access.Subject{Username: "wang", UnitCode: "D02", Roles: []string{"unit_approver"}},
			false, []string{"D02"}, []string{"user:wang", "unit:D02", "role:unit_approver"}, true},
		{"reporter without unit", access.Subject{Username: "x", Roles: []string{"reporter"}},
			false, nil, []string{"user:x", "role:reporter"}, false},
		{"editor", access.Subject{Username: "ed", UnitCode: "OFF", Roles: []string{"editor"}},
			true, nil, []string{"user:ed", "unit:OFF", "role:editor"}, false},
		{"signer", access.Subject{Username: "s", Roles: []string{"signer"}}, true, nil, []string{"user:s", "role:signer"}, false},
		{"researcher", access.Subject{Username: "r", Roles: []string{"researcher"}}, true, nil, []string{"user:r", "role:researcher"}, false},
		{"leader", access.Subject{Username: "l", Roles: []string{"leader"}}, true, nil, []string{"user:l", "role:leader"}, false},
		{"reporter and editor", access.Subject{Username: "re", UnitCode: "B01", Roles: []string{"reporter", "editor"}},
			true, nil, []string{"user:re", "unit:B01", "role:reporter", "role:editor"}, true},
		{"sysadmin", access.Subject{Username: "sa", UnitCode: "B01", Roles: []string{"sysadmin"}},
			false, nil, []string{"user:sa", "unit:B01", "role:sysadmin"}, false},
		{"secadmin", access.Subject{Username: "se", Roles: []string{"secadmin"}}, false, nil, []string{"user:se", "role:secadmin"}, false},
		{"auditadmin", access.Subject{Username: "au", Roles: []string{"auditadmin"}}, false, nil, []string{"user:au", "role:auditadmin"}, false},
		{"no roles", access.Subject{Username: "n", UnitCode: "B01"}, false, nil, []string{"user:n", "unit:B01"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.sub.AllUnits(); got != tt.allUnits {
				t.Errorf("AllUnits() = %v, want %v", got, tt.allUnits)
			}
			if got := tt.sub.Units(); !slices.Equal(got, tt.units) {
				t.Errorf("Units() = %q, want %q", got, tt.units)
			}
			if got := tt.sub.Principals(); !slices.Equal(got, tt.principals) {
				t.Errorf("Principals() = %q, want %q", got, tt.principals)
			}
			if got := tt.sub.CanSubmit(); got != tt.canSubmit {
				t.Errorf("CanSubmit() = %v, want %v", got, tt.canSubmit)
			}
			sc := access.Scope(tt.sub)
			if sc.AllUnits != tt.allUnits || !slices.Equal(sc.Units, tt.units) || !slices.Equal(sc.Principals, tt.principals) {
				t.Errorf("Scope() = %+v, does not match the subject", sc)
			}
			if sc.Categories == nil || len(sc.Categories) != 0 {
				t.Errorf("Scope().Categories = %#v, want empty", sc.Categories)
			}
			withCats := tt.sub
			withCats.Categories = []string{"人事", "经济"}
			if sc := access.Scope(withCats); !slices.Equal(sc.Categories, withCats.Categories) {
				t.Errorf("Scope().Categories = %q, want %q", sc.Categories, withCats.Categories)
			}
		})
	}
}

func TestCanRead(t *testing.T) {
	t.Parallel()
	reporter := access.Subject{Username: "li", UnitCode: "B01", Roles: []string{"reporter"}, Clearance: label.Internal}
	editor := access.Subject{Username: "ed", UnitCode: "OFF", Roles: []string{"editor"}, Clearance: label.Secret}
	admin := access.Subject{Username: "sa", UnitCode: "B01", Roles: []string{"sysadmin"}, Clearance: label.Confidential}
	personnel := access.Subject{Username: "hr", Roles: []string{"leader"}, Clearance: label.Secret, Categories: []string{"人事", "纪检"}}
	tests := []struct {
		name string
		sub  access.Subject
		rec  access.Record
		want bool
	}{
		{"own unit public", reporter, access.Record{UnitCode: "B01"}, true},
		{"own unit at clearance", reporter, access.Record{UnitCode: "B01", Classification: label.Internal}, true},
		{"own unit above clearance", reporter, access.Record{UnitCode: "B01", Classification: label.Secret}, false},
		{"other unit", reporter, access.Record{UnitCode: "B02"}, false},
		{"other unit naming the reporter", reporter, access.Record{UnitCode: "B02", Readers: []string{"user:li"}}, false},
		{"readers naming the user", reporter, access.Record{UnitCode: "B01", Readers: []string{"user:zhao", "user:li"}}, true},
		{"readers naming the unit", reporter, access.Record{UnitCode: "B01", Readers: []string{"unit:B01"}}, true},
		{"readers naming the role", reporter, access.Record{UnitCode: "B01", Readers: []string{"role:reporter"}}, true},
		{"readers naming others only", reporter, access.Record{UnitCode: "B01", Readers: []string{"user:zhao", "role:editor"}}, false},
		{"readers bare name is not a principal", reporter, access.Record{UnitCode: "B01", Readers: []string{"li"}}, false},
		{"editor any unit", editor, access.Record{UnitCode: "B99", Classification: label.Secret}, true},
		{"editor above clearance", editor, access.Record{UnitCode: "B99", Classification: label.Confidential}, false},
		{"editor readers role", editor, access.Record{UnitCode: "B99", Readers: []string{"role:editor"}}, true},
		{"editor readers other role", editor, access.Record{UnitCode: "B99", Readers: []string{"role:leader"}}, false},
		{"admin sees no records", admin, access.Record{UnitCode: "B01"}, false},
		{"admin named in readers still sees nothing", admin, access.Record{UnitCode: "B01", Readers: []string{"user:sa"}}, false},
		{"invalid clearance", access.Subject{Username: "x", Roles: []string{"leader"}, Clearance: 9}, access.Record{UnitCode: "B01"}, false},
		{"negative clearance", access.Subject{Username: "x", Roles: []string{"leader"}, Clearance: -1}, access.Record{UnitCode: "B01"}, false},
		{"invalid record level", editor, access.Record{UnitCode: "B01", Classification: -1}, false},
		{"category not held", editor, access.Record{UnitCode: "B01", Categories: []string{"人事"}}, false},
		{"categories held", personnel, access.Record{UnitCode: "B01", Classification: label.Secret, Categories: []string{"人事", "纪检"}}, true},
		{"one category held", personnel, access.Record{UnitCode: "B01", Categories: []string{"人事"}}, true},
		{"one of two categories held", personnel, access.Record{UnitCode: "B01", Categories: []string{"人事", "经济"}}, false},
		{"categories held but level too high", personnel, access.Record{UnitCode: "B01", Classification: label.Confidential, Categories: []string{"人事"}}, false},
		{"category differs by a space", personnel, access.Record{UnitCode: "B01", Categories: []string{"人事 "}}, false},
		{"unregistered category", personnel, access.Record{UnitCode: "B01", Categories: []string{"未登记"}}, false},
		{"no categories, user holds some", personnel, access.Record{UnitCode: "B01"}, true},
	}
	for _, tt := range tests {
		if got := access.CanRead(tt.sub, tt.rec); got != tt.want {
			t.Errorf("%s: CanRead = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPredicatePlaceholders(t *testing.T) {
	t.Parallel()
	reporter := access.Subject{Username: "li", UnitCode: "B01", Roles: []string{"reporter"}, Clearance: label.Secret}
	reporter.Categories = []string{"人事"}
	sql, args := access.Predicate(reporter, "x", 4)
	for _, want := range []string{"x.classification <= $4", "x.readers && $5::text[]", "x.label_categories <@ $6::text[]", "x.unit_id", "$7::text[]"} {
		if !strings.Contains(sql, want) {
			t.Errorf("Predicate SQL %q lacks %q", sql, want)
		}
	}
	if len(args) != 4 || args[0] != 2 || !slices.Equal(args[1].([]string), reporter.Principals()) ||
		!slices.Equal(args[2].([]string), []string{"人事"}) || !slices.Equal(args[3].([]string), []string{"B01"}) {
		t.Errorf("Predicate args = %#v", args)
	}
	editor := access.Subject{Username: "ed", Roles: []string{"editor"}, Clearance: label.Public}
	sql, args = access.Predicate(editor, "s", 1)
	if strings.Contains(sql, "unit_id") || len(args) != 3 {
		t.Errorf("editor predicate restricts units: %q %#v", sql, args)
	}
	if cats, ok := args[2].([]string); !ok || cats == nil || len(cats) != 0 {
		t.Errorf("subject without categories must pass an empty, non-nil category list (NULL would match nothing): %#v", args[2])
	}
	admin := access.Subject{Username: "sa", Roles: []string{"sysadmin"}, Clearance: label.Confidential}
	_, args = access.Predicate(admin, "s", 1)
	if len(args) != 4 || args[3] == nil || len(args[3].([]string)) != 0 {
		t.Errorf("admin predicate must pass an empty, non-nil unit list: %#v", args)
	}
	bad := access.Subject{Username: "x", Roles: []string{"leader"}, Clearance: 7}
	_, args = access.Predicate(bad, "s", 1)
	if args[0] != -1 {
		t.Errorf("invalid clearance gives level %v, want -1", args[0])
	}
	if sc := access.Scope(bad); sc.MaxLevel != -1 {
		t.Errorf("invalid clearance gives scope level %d, want -1", sc.MaxLevel)
	}
}

// FuzzDominance checks that the three forms of the clearance check agree for any clearance and
// record level, including out-of-range values.
func FuzzDominance(f *testing.F) {
	for c := -2; c <= 5; c++ {
		for l := -2; l <= 5; l++ {
			f.Add(c, l)
		}
	}
	f.Fuzz(func(t *testing.T, c, l int) {
		sub := access.Subject{Username: "u", Roles: []string{"leader"}, Clearance: label.Level(c)}
		rec := access.Record{UnitCode: "B01", Classification: label.Level(l)}
		want := c >= 0 && c <= 3 && l >= 0 && l <= 3 && c >= l
		if got := access.CanRead(sub, rec); got != want {
			t.Fatalf("CanRead(clearance %d, level %d) = %v, want %v", c, l, got, want)
		}
		_, args := access.Predicate(sub, "s", 1)
		max := args[0].(int)
		// SQL: classification <= max. Rows only hold levels 0..3 (CHECK constraint).
		if l >= 0 && l <= 3 && (l <= max) != want {
			t.Fatalf("Predicate level bound %d disagrees with CanRead for clearance %d, level %d", max, c, l)
		}
		if sc := access.Scope(sub); sc.MaxLevel != max {
			t.Fatalf("Scope level %d, Predicate level %d for clearance %d", sc.MaxLevel, max, c)
		}
	})
}

// FuzzCategoryDominance checks the category half of dominance: a record is readable only when
// every one of its categories is held, compared as exact strings, and Predicate and Scope carry
// exactly the subject's categories (the SQL and engine sides are checked against a database and
// an index by TestPolicyAgreesEverywhere).
func FuzzCategoryDominance(f *testing.F) {
	for _, m := range [][2]uint8{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {3, 1}, {1, 3}, {0xff, 0x7f}, {2, 4}} {
		f.Add(m[0], m[1])
	}
	names := []string{"人事", "人事处", "纪检", "经济", "", "人事 ", "a,b", "A"}
	pick := func(mask uint8) []string {
		var out []string
		for i, n := range names {
			if mask&(1<<i) != 0 {
				out = append(out, n)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, have, need uint8) {
		sub := access.Subject{Username: "u", Roles: []string{"leader"}, Clearance: label.Confidential, Categories: pick(have)}
		rec := access.Record{UnitCode: "B01", Classification: label.Public, Categories: pick(need)}
		want := need&^have == 0
		if got := access.CanRead(sub, rec); got != want {
			t.Fatalf("CanRead(categories %q, record %q) = %v, want %v", sub.Categories, rec.Categories, got, want)
		}
		_, args := access.Predicate(sub, "s", 1)
		if got := args[2].([]string); !slices.Equal(got, sub.Categories) || got == nil {
			t.Fatalf("Predicate categories %#v, subject %#v", got, sub.Categories)
		}
		if got := access.Scope(sub).Categories; !slices.Equal(got, sub.Categories) || got == nil {
			t.Fatalf("Scope categories %#v, subject %#v", got, sub.Categories)
		}
	})
}
