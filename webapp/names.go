package webapp

import (
	"context"
	"time"

	"infowork/category"
	"infowork/label"
	"infowork/unit"
)

// nameCache maps codes to display names for facets and forms; refreshed every minute.
type nameCache struct {
	loaded     time.Time
	units      map[string]unit.Unit
	unitList   []unit.Unit
	categories []category.Category
	catByCode  map[string]category.Category
}

func (a *App) lookups(ctx context.Context) (*nameCache, error) {
	a.namesMu.Lock()
	defer a.namesMu.Unlock()
	if a.names != nil && time.Since(a.names.loaded) < time.Minute {
		return a.names, nil
	}
	us, err := unit.List(ctx, a.opts.DB)
	if err != nil {
		return nil, err
	}
	cs, err := category.List(ctx, a.opts.DB)
	if err != nil {
		return nil, err
	}
	n := &nameCache{loaded: time.Now(), units: map[string]unit.Unit{}, unitList: us, categories: cs, catByCode: map[string]category.Category{}}
	for _, u := range us {
		n.units[u.Code] = u
	}
	for _, c := range cs {
		n.catByCode[c.Code] = c
	}
	a.names = n
	return n, nil
}

// invalidateLookups drops the cache (after a unit or category changes in this process).
func (a *App) invalidateLookups() {
	a.namesMu.Lock()
	a.names = nil
	a.namesMu.Unlock()
}

func levelName(l any) string {
	switch v := l.(type) {
	case label.Level:
		return v.Chinese()
	case int:
		return label.Level(v).Chinese()
	case string:
		if lv, err := label.Parse(v); err == nil {
			return lv.Chinese()
		}
		return v
	}
	return ""
}
