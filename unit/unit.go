// Package unit manages the reporting units (信息报送单位): districts (区县), bureaus (委办局) and
// direct reporting points (信息直报点), arranged as a tree.
package unit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"infowork/store"
)

// Kinds of unit.
const (
	KindOffice   = "office"
	KindDistrict = "district"
	KindBureau   = "bureau"
	KindDirect   = "direct"
)

var kindNames = map[string]string{KindOffice: "市委市政府办公室", KindDistrict: "区县", KindBureau: "委办局", KindDirect: "信息直报点"}

// KindName returns the zh-CN name of a kind.
func KindName(k string) string { return kindNames[k] }

// Unit is one reporting unit.
type Unit struct {
	ID         int64
	Code       string
	Name       string
	Kind       string
	ParentCode string
	District   string
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Validate checks a unit before it is stored.
func (u Unit) Validate() error {
	if !codeRE.MatchString(u.Code) {
		return fmt.Errorf("unit code %q: use 1–32 letters, digits, '.', '_' or '-'", u.Code)
	}
	if n := len([]rune(strings.TrimSpace(u.Name))); n == 0 || n > 100 {
		return fmt.Errorf("unit name: 1–100 characters required")
	}
	if _, ok := kindNames[u.Kind]; !ok {
		return fmt.Errorf("unit kind %q: want office, district, bureau or direct", u.Kind)
	}
	return nil
}

// Upsert creates the unit or updates its name, kind, parent and district, and returns its id.
func Upsert(ctx context.Context, db store.DB, u Unit) (int64, error) {
	if err := u.Validate(); err != nil {
		return 0, err
	}
	var parent *int64
	if u.ParentCode != "" {
		var pid int64
		if err := db.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, u.ParentCode).Scan(&pid); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return 0, fmt.Errorf("unit %s: parent unit %q does not exist", u.Code, u.ParentCode)
			}
			return 0, fmt.Errorf("unit %s: %w", u.Code, err)
		}
		parent = &pid
	}
	var id int64
	err := db.QueryRow(ctx, `INSERT INTO units (code, name, kind, parent_id, district) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
			district = EXCLUDED.district, updated_at = now()
		RETURNING id`, u.Code, strings.TrimSpace(u.Name), u.Kind, parent, u.District).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("unit %s: save: %w", u.Code, err)
	}
	return id, nil
}

const selectUnits = `SELECT u.id, u.code, u.name, u.kind, COALESCE(p.code, ''), u.district
	FROM units u LEFT JOIN units p ON p.id = u.parent_id`

func scan(r pgx.CollectableRow) (Unit, error) {
	var u Unit
	err := r.Scan(&u.ID, &u.Code, &u.Name, &u.Kind, &u.ParentCode, &u.District)
	return u, err
}

// ByCode returns one unit.
func ByCode(ctx context.Context, db store.DB, code string) (Unit, error) {
	rows, err := db.Query(ctx, selectUnits+` WHERE u.code = $1`, code)
	if err != nil {
		return Unit{}, fmt.Errorf("unit %s: %w", code, err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return Unit{}, fmt.Errorf("unit %s: %w", code, store.ErrNotFound)
	}
	if err != nil {
		return Unit{}, fmt.Errorf("unit %s: %w", code, err)
	}
	return u, nil
}

// List returns every unit ordered by kind and code.
func List(ctx context.Context, db store.DB) ([]Unit, error) {
	rows, err := db.Query(ctx, selectUnits+` ORDER BY CASE u.kind WHEN 'office' THEN 0 WHEN 'bureau' THEN 1 WHEN 'district' THEN 2 ELSE 3 END, u.code`)
	if err != nil {
		return nil, fmt.Errorf("unit: list: %w", err)
	}
	us, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("unit: list: %w", err)
	}
	return us, nil
}
