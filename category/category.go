// Package category manages the configurable category tree (类别) that reports are filed under.
package category

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"infowork/store"
)

// Category is one node of the tree (levels 1–3).
type Category struct {
	ID         int64
	Code       string
	Name       string
	ParentCode string
	Level      int
	// TopName is the name of the level-1 ancestor (the node itself at level 1); search facets use it.
	TopName string
	// Path is the names from the root, joined by " / ".
	Path string
}

// Upsert creates or renames a category; the parent must exist already.
func Upsert(ctx context.Context, db store.DB, c Category) (int64, error) {
	if strings.TrimSpace(c.Code) == "" || strings.TrimSpace(c.Name) == "" {
		return 0, fmt.Errorf("category: code and name are required")
	}
	if c.Level < 1 || c.Level > 3 {
		return 0, fmt.Errorf("category %s: level must be 1, 2 or 3", c.Code)
	}
	var parent *int64
	if c.ParentCode != "" {
		var pid int64
		if err := db.QueryRow(ctx, `SELECT id FROM categories WHERE code = $1`, c.ParentCode).Scan(&pid); err != nil {
			return 0, fmt.Errorf("category %s: parent %q: %w", c.Code, c.ParentCode, err)
		}
		parent = &pid
	}
	var id int64
	err := db.QueryRow(ctx, `INSERT INTO categories (code, name, parent_id, level) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, level = EXCLUDED.level
		RETURNING id`, c.Code, strings.TrimSpace(c.Name), parent, c.Level).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("category %s: save: %w", c.Code, err)
	}
	return id, nil
}

// selectTree resolves each category's top-level name and path with a recursive query.
const selectTree = `WITH RECURSIVE tree AS (
	SELECT id, code, name, parent_id, level, name AS top_name, name AS path, ''::text AS parent_code
	FROM categories WHERE parent_id IS NULL
	UNION ALL
	SELECT c.id, c.code, c.name, c.parent_id, c.level, t.top_name, t.path || ' / ' || c.name, t.code
	FROM categories c JOIN tree t ON c.parent_id = t.id
) SELECT id, code, name, parent_code, level, top_name, path FROM tree`

func scan(r pgx.CollectableRow) (Category, error) {
	var c Category
	err := r.Scan(&c.ID, &c.Code, &c.Name, &c.ParentCode, &c.Level, &c.TopName, &c.Path)
	return c, err
}

// List returns the whole tree in code order (parents before children).
func List(ctx context.Context, db store.DB) ([]Category, error) {
	rows, err := db.Query(ctx, selectTree+` ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("category: list: %w", err)
	}
	cs, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("category: list: %w", err)
	}
	return cs, nil
}

// ByCode returns one category.
func ByCode(ctx context.Context, db store.DB, code string) (Category, error) {
	rows, err := db.Query(ctx, selectTree+` WHERE code = $1`, code)
	if err != nil {
		return Category{}, fmt.Errorf("category %s: %w", code, err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return Category{}, fmt.Errorf("category %s: %w", code, store.ErrNotFound)
	}
	if err != nil {
		return Category{}, fmt.Errorf("category %s: %w", code, err)
	}
	return c, nil
}
