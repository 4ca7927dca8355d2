package label_test

import (
	"errors"
	"slices"
	"testing"

	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	for _, n := range []string{"纪检", "人事", "经济"} {
		if _, err := label.AddCategory(ctx, db, n, n+"类信息"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := label.AddCategory(ctx, db, "人事", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second AddCategory(人事) = %v, want ErrConflict", err)
	}
	if _, err := label.AddCategory(ctx, db, "a,b", ""); !errors.Is(err, label.ErrInvalidCategory) {
		t.Errorf("AddCategory(a,b) = %v, want ErrInvalidCategory", err)
	}
	// The table refuses malformed names even when written directly.
	if _, err := db.Exec(ctx, `INSERT INTO label_categories (name) VALUES ('a，b')`); err == nil {
		t.Error("label_categories accepted a name with a comma")
	}
	cs, err := label.Categories(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
		if c.Description != c.Name+"类信息" || c.CreatedAt.IsZero() {
			t.Errorf("category %+v", c)
		}
	}
	if !slices.Equal(names, []string{"人事", "纪检", "经济"}) {
		t.Errorf("Categories = %q, want sorted registry", names)
	}

	got, err := label.CheckCategories(ctx, db, []string{"纪检", "人事", "纪检"})
	if err != nil || !slices.Equal(got, []string{"人事", "纪检"}) {
		t.Errorf("CheckCategories = %q, %v", got, err)
	}
	if got, err := label.CheckCategories(ctx, db, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("CheckCategories(nil) = %#v, %v; want empty, non-nil", got, err)
	}
	_, err = label.CheckCategories(ctx, db, []string{"人事", "外事", "保密"})
	var unknown *label.UnknownCategoriesError
	if !errors.As(err, &unknown) || !errors.Is(err, label.ErrUnknownCategory) || !slices.Equal(unknown.Names, []string{"保密", "外事"}) {
		t.Errorf("CheckCategories(unregistered) = %v, want UnknownCategoriesError naming 保密, 外事", err)
	}
	if _, err := label.CheckCategories(ctx, db, []string{" 人事"}); !errors.Is(err, label.ErrInvalidCategory) {
		t.Errorf("CheckCategories(' 人事') = %v, want ErrInvalidCategory", err)
	}

	var uid int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, password_hash, roles) VALUES ('hr', 'x', '{leader}') RETURNING id`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	if err := label.SetUserLabel(ctx, db, uid, label.Label{Level: label.Secret, Categories: []string{"纪检", "人事"}}); err != nil {
		t.Fatal(err)
	}
	var cl int
	var cats []string
	if err := db.QueryRow(ctx, `SELECT clearance, label_categories FROM users WHERE id = $1`, uid).Scan(&cl, &cats); err != nil {
		t.Fatal(err)
	}
	if cl != int(label.Secret) || !slices.Equal(cats, []string{"人事", "纪检"}) {
		t.Errorf("user label = %d %q", cl, cats)
	}
	if err := label.SetUserLabel(ctx, db, uid, label.Label{Level: label.Secret, Categories: []string{"外事"}}); !errors.Is(err, label.ErrUnknownCategory) {
		t.Errorf("SetUserLabel(unregistered) = %v", err)
	}
	if err := label.SetUserLabel(ctx, db, uid, label.Label{Level: 5}); err == nil {
		t.Error("SetUserLabel accepted an invalid level")
	}
	if err := label.SetUserLabel(ctx, db, 999999, label.Label{Level: label.Public}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetUserLabel(missing user) = %v, want ErrNotFound", err)
	}
	// Failed assignments left the stored label alone.
	if err := db.QueryRow(ctx, `SELECT clearance, label_categories FROM users WHERE id = $1`, uid).Scan(&cl, &cats); err != nil {
		t.Fatal(err)
	}
	if cl != int(label.Secret) || !slices.Equal(cats, []string{"人事", "纪检"}) {
		t.Errorf("user label after failed updates = %d %q", cl, cats)
	}
}
