// Package access decides what a user may see. It is the single source of the read policy:
// the Go decision (CanRead), the SQL predicate used by every query that lists or reads records
// (Predicate) and the search-engine scope (Scope) are built from the same Subject, and a property
// test checks that the three agree.
//
// Policy: a record is readable when the subject's clearance dominates the record's label (level
// at least the record's classification AND the subject's label categories include every label
// category of the record) AND the subject's role grants the record's unit (reporters and unit
// approvers: their own unit; office roles: every unit; the three administrators: no records) AND
// the record's readers list is empty or names one of the subject's principals.
//
// Row-level security on submissions (migration 0004) is a second line for the application's
// non-owner database role: SetLocal puts the same Subject into the transaction's settings.
package access

import (
	"fmt"
	"slices"

	"infowork/label"
	"infowork/search"
)

// Roles (contract names, see DESIGN.md).
const (
	RoleReporter     = "reporter"
	RoleUnitApprover = "unit_approver"
	RoleEditor       = "editor"
	RoleSigner       = "signer"
	RoleResearcher   = "researcher"
	RoleLeader       = "leader"
	RoleSysAdmin     = "sysadmin"
	RoleSecAdmin     = "secadmin"
	RoleAuditAdmin   = "auditadmin"
)

// Roles lists every role in display order.
var Roles = []string{RoleReporter, RoleUnitApprover, RoleEditor, RoleSigner, RoleResearcher, RoleLeader, RoleSysAdmin, RoleSecAdmin, RoleAuditAdmin}

var roleNames = map[string]string{
	RoleReporter:     "信息员",
	RoleUnitApprover: "单位审签人",
	RoleEditor:       "编辑",
	RoleSigner:       "签发人",
	RoleResearcher:   "研究人员",
	RoleLeader:       "领导",
	RoleSysAdmin:     "系统管理员",
	RoleSecAdmin:     "安全管理员",
	RoleAuditAdmin:   "审计管理员",
}

// RoleName returns the zh-CN name of a role.
func RoleName(r string) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return r
}

// ValidRole reports whether r is a defined role.
func ValidRole(r string) bool { _, ok := roleNames[r]; return ok }

// adminRoles are the three separated administrators (三员分立); an account holds at most one of
// them and no other role.
var adminRoles = []string{RoleSysAdmin, RoleSecAdmin, RoleAuditAdmin}

// officeRoles read records of every unit (within clearance).
var officeRoles = []string{RoleEditor, RoleSigner, RoleResearcher, RoleLeader}

// ValidateRoles checks a role set for an account.
func ValidateRoles(roles []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("at least one role is required")
	}
	admins := 0
	for _, r := range roles {
		if !ValidRole(r) {
			return fmt.Errorf("unknown role %q", r)
		}
		if slices.Contains(adminRoles, r) {
			admins++
		}
	}
	if admins > 0 && len(roles) > 1 {
		return fmt.Errorf("an administrator role (sysadmin, secadmin, auditadmin) cannot be combined with any other role")
	}
	return nil
}

// Subject is the user a decision is made for.
type Subject struct {
	UserID    int64
	Username  string
	UnitCode  string // "" when the user belongs to no unit
	Roles     []string
	Clearance label.Level
	// Categories are the subject's label categories (compartments); a record labelled with a
	// category not listed here is not readable.
	Categories []string
}

// Label returns the subject's clearance as a label.
func (s Subject) Label() label.Label {
	return label.Label{Level: s.Clearance, Categories: s.Categories}
}

// Has reports whether the subject holds role r.
func (s Subject) Has(r string) bool { return slices.Contains(s.Roles, r) }

// AllUnits reports whether the subject's role grants records of every unit.
func (s Subject) AllUnits() bool {
	for _, r := range officeRoles {
		if s.Has(r) {
			return true
		}
	}
	return false
}

// Units returns the units granted when AllUnits is false.
func (s Subject) Units() []string {
	if s.AllUnits() || s.UnitCode == "" {
		return nil
	}
	if s.Has(RoleReporter) || s.Has(RoleUnitApprover) {
		return []string{s.UnitCode}
	}
	return nil
}

// Principals are the names a readers list may grant: user:NAME, unit:CODE and role:ROLE.
func (s Subject) Principals() []string {
	p := []string{"user:" + s.Username}
	if s.UnitCode != "" {
		p = append(p, "unit:"+s.UnitCode)
	}
	for _, r := range s.Roles {
		p = append(p, "role:"+r)
	}
	return p
}

// CanSubmit reports whether the subject may submit reports for its unit.
func (s Subject) CanSubmit() bool {
	return s.UnitCode != "" && (s.Has(RoleReporter) || s.Has(RoleUnitApprover))
}

// Record is what the policy needs to know about a record.
type Record struct {
	UnitCode       string
	Classification label.Level
	Categories     []string // label categories
	Readers        []string
}

// CanRead is the Go form of the read policy.
func CanRead(s Subject, r Record) bool {
	if !s.Label().Dominates(label.Label{Level: r.Classification, Categories: r.Categories}) {
		return false
	}
	if !s.AllUnits() && !slices.Contains(s.Units(), r.UnitCode) {
		return false
	}
	if len(r.Readers) == 0 {
		return true
	}
	for _, p := range s.Principals() {
		if slices.Contains(r.Readers, p) {
			return true
		}
	}
	return false
}

// level is the highest classification the subject may read, -1 when none.
func (s Subject) level() int {
	if !s.Clearance.Valid() {
		return -1
	}
	return int(s.Clearance)
}

// categories returns the subject's label categories, never nil (a nil slice would be SQL NULL).
func (s Subject) categories() []string {
	if s.Categories == nil {
		return []string{}
	}
	return slices.Clone(s.Categories)
}

// Predicate returns the SQL form of the read policy for a record table aliased as alias that has
// columns classification, label_categories, readers and unit_id, with unit codes looked up in
// units. Placeholders start at $next; the returned args fill them in order (level, principals,
// categories, then unit codes unless the subject reads every unit).
func Predicate(s Subject, alias string, next int) (string, []any) {
	sql := fmt.Sprintf("(%[1]s.classification <= $%[2]d AND (cardinality(%[1]s.readers) = 0 OR %[1]s.readers && $%[3]d::text[])"+
		" AND %[1]s.label_categories <@ $%[4]d::text[]",
		alias, next, next+1, next+2)
	args := []any{s.level(), s.Principals(), s.categories()}
	if !s.AllUnits() {
		sql += fmt.Sprintf(" AND %s.unit_id IN (SELECT id FROM units WHERE code = ANY($%d::text[]))", alias, next+3)
		units := s.Units()
		if units == nil {
			units = []string{}
		}
		args = append(args, units)
	}
	return sql + ")", args
}

// Scope returns the search-engine form of the read policy.
func Scope(s Subject) search.Scope {
	return search.Scope{MaxLevel: s.level(), AllUnits: s.AllUnits(), Units: s.Units(), Principals: s.Principals(),
		Categories: s.categories()}
}
