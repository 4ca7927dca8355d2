package label

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"infowork/store"
)

// The category registry (table label_categories) lists the categories that may be assigned to
// users and records. Registry membership is checked when a label is written; reading does not
// depend on the registry at all (a record carrying a name that is not registered is visible only
// to users holding that exact name, which no validated user does).

// ErrUnknownCategory is matched (errors.Is) by *UnknownCategoriesError.
var ErrUnknownCategory = errors.New("unknown label category")

// UnknownCategoriesError lists the names a label uses that are not in the registry.
type UnknownCategoriesError struct{ Names []string }

func (e *UnknownCategoriesError) Error() string {
	return "unknown label category: " + strings.Join(e.Names, ", ")
}

// Is makes errors.Is(err, ErrUnknownCategory) true.
func (e *UnknownCategoriesError) Is(target error) bool { return target == ErrUnknownCategory }

// Category is one entry of the registry.
type Category struct {
	Name        string
	Description string
	CreatedAt   time.Time
}

// AddCategory registers a category. A name already registered answers store.ErrConflict.
func AddCategory(ctx context.Context, db store.DB, name, description string) (Category, error) {
	if err := ValidCategoryName(name); err != nil {
		return Category{}, fmt.Errorf("label: add category: %w", err)
	}
	c := Category{Name: name, Description: description}
	err := db.QueryRow(ctx, `INSERT INTO label_categories (name, description) VALUES ($1, $2) RETURNING created_at`,
		name, description).Scan(&c.CreatedAt)
	if store.IsUniqueViolation(err, "") {
		return Category{}, fmt.Errorf("label: add category %q: %w: already registered", name, store.ErrConflict)
	}
	if err != nil {
		return Category{}, fmt.Errorf("label: add category %q: %w", name, err)
	}
	return c, nil
}

// Categories lists the registry by name.
func Categories(ctx context.Context, db store.DB) ([]Category, error) {
	rows, err := db.Query(ctx, `SELECT name, description, created_at FROM label_categories ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("label: list categories: %w", err)
	}
	defer rows.Close()
	var out []Category
	for rows.Next() {
		var c Category
		if err := rows.Scan(&c.Name, &c.Description, &c.CreatedAt); err != nil {
			return nil, fmt.Errorf("label: list categories: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("label: list categories: %w", err)
	}
	return out, nil
}

// CheckCategories validates names, checks that each is registered and returns them canonical
// (sorted, deduplicated, never nil). A malformed name gives an error wrapping ErrInvalidCategory,
// unregistered names an *UnknownCategoriesError.
func CheckCategories(ctx context.Context, db store.DB, names []string) ([]string, error) {
	cs, err := CanonicalCategories(names)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return cs, nil
	}
	var known []string
	if err := db.QueryRow(ctx, `SELECT COALESCE(array_agg(name), '{}') FROM label_categories WHERE name = ANY($1::text[])`, cs).Scan(&known); err != nil {
		return nil, fmt.Errorf("label: check categories: %w", err)
	}
	var unknown []string
	for _, c := range cs {
		if !slices.Contains(known, c) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownCategoriesError{Names: unknown}
	}
	return cs, nil
}

// CheckLabel canonicalizes l and checks its categories against the registry.
func CheckLabel(ctx context.Context, db store.DB, l Label) (Label, error) {
	if !l.Level.Valid() {
		return Label{}, fmt.Errorf("invalid classification level %d", int(l.Level))
	}
	cs, err := CheckCategories(ctx, db, l.Categories)
	if err != nil {
		return Label{}, err
	}
	return Label{Level: l.Level, Categories: cs}, nil
}

// SetUserLabel sets a user's clearance and categories (the security administrator's action; the
// caller audits it, in the same transaction when db is one). The categories must be registered.
// A missing user answers store.ErrNotFound.
func SetUserLabel(ctx context.Context, db store.DB, userID int64, l Label) error {
	l, err := CheckLabel(ctx, db, l)
	if err != nil {
		return fmt.Errorf("label: set label of user %d: %w", userID, err)
	}
	tag, err := db.Exec(ctx, `UPDATE users SET clearance = $2, label_categories = $3, updated_at = now() WHERE id = $1`,
		userID, int(l.Level), l.Categories)
	if err != nil {
		return fmt.Errorf("label: set label of user %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("label: set label of user %d: %w", userID, store.ErrNotFound)
	}
	return nil
}
