package label

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCategoryRunes is the longest category name.
const MaxCategoryRunes = 20

// Label is the full security label of a record or the clearance of a user: a level plus a set of
// categories (compartments such as 人事, 纪检, 经济). A clearance dominates a label when its level
// is at least the label's level and it holds every category of the label.
//
// A Label built by NewLabel or ParseLabel is canonical: categories sorted, without duplicates, each
// a valid name. Dominates does not depend on that: it compares the exact strings, like the SQL
// predicate and the engine filter, so a record carrying an unexpected category value is hidden
// rather than matched loosely.
type Label struct {
	Level      Level
	Categories []string
}

// categorySeparators split a category list; a name may not contain them.
const categorySeparators = ",，、"

// ErrInvalidCategory is wrapped by errors about a malformed category name.
var ErrInvalidCategory = errors.New("invalid label category name")

// ValidCategoryName reports why name is not a valid category name (nil when it is valid):
// 1–20 characters, no comma (, ，、), no control characters, no surrounding spaces. The error
// wraps ErrInvalidCategory.
func ValidCategoryName(name string) error {
	if err := validCategoryName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCategory, err)
	}
	return nil
}

func validCategoryName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return fmt.Errorf("category name %q is not valid UTF-8", name)
	case n == 0:
		return fmt.Errorf("category name is empty")
	case n > MaxCategoryRunes:
		return fmt.Errorf("category name %q is longer than %d characters", name, MaxCategoryRunes)
	case strings.ContainsAny(name, categorySeparators):
		return fmt.Errorf("category name %q contains a comma", name)
	case strings.TrimFunc(name, unicode.IsSpace) != name:
		return fmt.Errorf("category name %q starts or ends with a space", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Errorf("category name %q contains a control character", name)
		}
	}
	return nil
}

// CanonicalCategories validates names and returns them sorted and without duplicates (never nil).
func CanonicalCategories(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if err := ValidCategoryName(n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// NewLabel returns the canonical label of a level and categories.
func NewLabel(level Level, categories ...string) (Label, error) {
	if !level.Valid() {
		return Label{}, fmt.Errorf("invalid classification level %d", int(level))
	}
	cs, err := CanonicalCategories(categories)
	if err != nil {
		return Label{}, err
	}
	return Label{Level: level, Categories: cs}, nil
}

// ParseLabel parses "LEVEL" or "LEVEL:CAT,CAT…" where LEVEL is what Parse accepts and categories
// are separated by commas (also ，or 、); a full-width colon (：) works too. Spaces around items are
// ignored, empty items are skipped. Examples: "secret", "secret:人事,纪检", "秘密：人事、纪检".
func ParseLabel(s string) (Label, error) {
	// The level ends at the first colon, ASCII or full-width; later colons belong to names.
	lv, rest := s, ""
	if i := strings.IndexAny(s, ":："); i >= 0 {
		_, w := utf8.DecodeRuneInString(s[i:])
		lv, rest = s[:i], s[i+w:]
	}
	level, err := Parse(lv)
	if err != nil {
		return Label{}, err
	}
	var cats []string
	for _, c := range strings.FieldsFunc(rest, func(r rune) bool { return strings.ContainsRune(categorySeparators, r) }) {
		if c = strings.TrimFunc(c, unicode.IsSpace); c != "" {
			cats = append(cats, c)
		}
	}
	l, err := NewLabel(level, cats...)
	if err != nil {
		return Label{}, fmt.Errorf("label %q: %w", s, err)
	}
	return l, nil
}

// String returns the contract form: "secret" or "secret:人事,纪检".
func (l Label) String() string {
	if len(l.Categories) == 0 {
		return l.Level.String()
	}
	return l.Level.String() + ":" + strings.Join(l.Categories, ",")
}

// Chinese returns the zh-CN marking for headers and watermarks: "秘密" or "秘密（人事、纪检）".
func (l Label) Chinese() string {
	if len(l.Categories) == 0 {
		return l.Level.Chinese()
	}
	return l.Level.Chinese() + "（" + strings.Join(l.Categories, "、") + "）"
}

// Valid reports whether l is canonical: a valid level and categories as CanonicalCategories
// returns them.
func (l Label) Valid() bool {
	if !l.Level.Valid() {
		return false
	}
	for i, c := range l.Categories {
		if ValidCategoryName(c) != nil || i > 0 && l.Categories[i-1] >= c {
			return false
		}
	}
	return true
}

// Dominates reports whether a clearance c may read a record labelled l: c's level dominates l's
// level and every category of l is one of c's categories (exact string comparison).
func (c Label) Dominates(l Label) bool {
	return c.Level.Dominates(l.Level) && HoldsAll(c.Categories, l.Categories)
}

// HoldsAll reports whether every one of need is in have (need ⊆ have, exact strings).
func HoldsAll(have, need []string) bool {
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}
