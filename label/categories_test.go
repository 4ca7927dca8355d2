package label_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"infowork/label"
)

func TestParseLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want label.Label
		str  string
		zh   string
	}{
		{"secret", label.Label{Level: label.Secret, Categories: []string{}}, "secret", "秘密"},
		{"secret:", label.Label{Level: label.Secret, Categories: []string{}}, "secret", "秘密"},
		{"secret:人事,纪检", label.Label{Level: label.Secret, Categories: []string{"人事", "纪检"}}, "secret:人事,纪检", "秘密（人事、纪检）"},
		{"secret:纪检,人事", label.Label{Level: label.Secret, Categories: []string{"人事", "纪检"}}, "secret:人事,纪检", "秘密（人事、纪检）"},
		{"秘密：纪检、人事，人事", label.Label{Level: label.Secret, Categories: []string{"人事", "纪检"}}, "secret:人事,纪检", "秘密（人事、纪检）"},
		{" Internal : 经济 , ,人事 ", label.Label{Level: label.Internal, Categories: []string{"人事", "经济"}}, "internal:人事,经济", "内部（人事、经济）"},
		{"公开:a:b", label.Label{Level: label.Public, Categories: []string{"a:b"}}, "public:a:b", "公开（a:b）"},
		{"机密:\u3000人事\u3000", label.Label{Level: label.Confidential, Categories: []string{"人事"}}, "confidential:人事", "机密（人事）"},
	}
	for _, tt := range tests {
		got, err := label.ParseLabel(tt.in)
		if err != nil {
			t.Errorf("ParseLabel(%q): %v", tt.in, err)
			continue
		}
		if got.Level != tt.want.Level || !slices.Equal(got.Categories, tt.want.Categories) || got.Categories == nil {
			t.Errorf("ParseLabel(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if got.String() != tt.str || got.Chinese() != tt.zh {
			t.Errorf("ParseLabel(%q): String, Chinese = %q, %q; want %q, %q", tt.in, got.String(), got.Chinese(), tt.str, tt.zh)
		}
		if !got.Valid() {
			t.Errorf("ParseLabel(%q) = %#v is not Valid", tt.in, got)
		}
	}
}

func TestParseLabelRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "unknown classification"},
		{"绝密:人事", "unknown classification"},
		{":人事", "unknown classification"},
		{"secret:" + strings.Repeat("字", 21), "longer than 20"},
		{"secret:a\x00b", "control character"},
		{"secret:a\nb", "control character"},
		{"secret:\xff", "UTF-8"},
	}
	for _, tt := range tests {
		l, err := label.ParseLabel(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLabel(%q) = %v, %v; want an error containing %q", tt.in, l, err, tt.want)
		}
	}
	if _, err := label.ParseLabel("secret:" + strings.Repeat("字", 20)); err != nil {
		t.Errorf("a 20-character category is valid: %v", err)
	}
}

func TestValidCategoryName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"人事", "纪检", "A", "a:b", "经济 运行", strings.Repeat("x", 20)} {
		if err := label.ValidCategoryName(ok); err != nil {
			t.Errorf("ValidCategoryName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " 人事", "人事 ", "人事\u3000", "a,b", "a，b", "a、b", "a\tb", "\u0085", strings.Repeat("x", 21), "\xfe"} {
		err := label.ValidCategoryName(bad)
		if err == nil || !errors.Is(err, label.ErrInvalidCategory) {
			t.Errorf("ValidCategoryName(%q) = %v, want an error wrapping ErrInvalidCategory", bad, err)
		}
	}
}

func TestNewLabel(t *testing.T) {
	t.Parallel()
	if _, err := label.NewLabel(label.Level(4), "人事"); err == nil {
		t.Error("NewLabel accepted an invalid level")
	}
	l, err := label.NewLabel(label.Secret, "纪检", "人事", "纪检")
	if err != nil || !slices.Equal(l.Categories, []string{"人事", "纪检"}) {
		t.Errorf("NewLabel = %#v, %v", l, err)
	}
	for _, l := range []label.Label{
		{Level: label.Secret, Categories: []string{"纪检", "人事"}},
		{Level: label.Secret, Categories: []string{"人事", "人事"}},
		{Level: label.Secret, Categories: []string{""}},
		{Level: 9},
	} {
		if l.Valid() {
			t.Errorf("%#v is Valid, want not canonical", l)
		}
	}
}

func TestLabelDominates(t *testing.T) {
	t.Parallel()
	lbl := func(l label.Level, cs ...string) label.Label { return label.Label{Level: l, Categories: cs} }
	tests := []struct {
		c, l label.Label
		want bool
	}{
		{lbl(label.Secret), lbl(label.Secret), true},
		{lbl(label.Secret), lbl(label.Public), true},
		{lbl(label.Secret), lbl(label.Confidential), false},
		{lbl(label.Secret), lbl(label.Public, "人事"), false},
		{lbl(label.Secret, "人事"), lbl(label.Public, "人事"), true},
		{lbl(label.Secret, "人事", "纪检"), lbl(label.Secret, "纪检"), true},
		{lbl(label.Secret, "人事", "纪检"), lbl(label.Secret, "人事", "纪检"), true},
		{lbl(label.Secret, "人事"), lbl(label.Secret, "人事", "纪检"), false},
		{lbl(label.Secret, "人事", "纪检"), lbl(label.Confidential, "人事"), false},
		{lbl(label.Secret, "人事"), lbl(label.Secret, "人事处"), false},
		{lbl(label.Secret, "人事处"), lbl(label.Secret, "人事"), false},
		{lbl(label.Level(-1), "人事"), lbl(label.Public), false},
		{lbl(label.Confidential, "人事"), lbl(label.Level(7), "人事"), false},
		// Not canonical on either side: still exact set containment.
		{lbl(label.Secret, "纪检", "人事"), lbl(label.Secret, "人事", "人事"), true},
	}
	for _, tt := range tests {
		if got := tt.c.Dominates(tt.l); got != tt.want {
			t.Errorf("%v Dominates(%v) = %v, want %v", tt.c, tt.l, got, tt.want)
		}
	}
}

func FuzzParseLabel(f *testing.F) {
	for _, s := range []string{"secret", "secret:人事,纪检", "秘密：人事、纪检", "public:", "x:y", ":", "secret:,", "机密:a\x00", "内部:人事，人事"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := label.ParseLabel(s)
		if err != nil {
			return
		}
		if !l.Valid() {
			t.Fatalf("ParseLabel(%q) = %#v, not canonical", s, l)
		}
		forms := []string{l.String()}
		if !strings.ContainsAny(strings.Join(l.Categories, ""), "（）") { // the marking is for people, not parsing
			forms = append(forms, strings.TrimSuffix(strings.Replace(l.Chinese(), "（", ":", 1), "）"))
		}
		for _, form := range forms {
			back, err := label.ParseLabel(form)
			if err != nil || back.Level != l.Level || !slices.Equal(back.Categories, l.Categories) {
				t.Fatalf("round trip of %#v via %q = %#v, %v", l, form, back, err)
			}
		}
		if !l.Dominates(l) {
			t.Fatalf("%v does not dominate itself", l)
		}
	})
}

// FuzzLabelDominates checks dominance against its definition and the order laws it must obey.
func FuzzLabelDominates(f *testing.F) {
	f.Add(2, uint8(3), 1, uint8(1), 3, uint8(7))
	f.Add(0, uint8(0), 0, uint8(0), 0, uint8(0))
	f.Add(3, uint8(1), 3, uint8(2), -1, uint8(0))
	names := []string{"人事", "纪检", "经济", "人事处"}
	mk := func(lv int, mask uint8) label.Label {
		l := label.Label{Level: label.Level(lv)}
		for i, n := range names {
			if mask&(1<<i) != 0 {
				l.Categories = append(l.Categories, n)
			}
		}
		return l
	}
	f.Fuzz(func(t *testing.T, al int, am uint8, bl int, bm uint8, cl int, cm uint8) {
		a, b, c := mk(al, am), mk(bl, bm), mk(cl, cm)
		valid := func(l int) bool { return l >= 0 && l <= 3 }
		want := valid(al) && valid(bl) && al >= bl && bm&0xf&^(am&0xf) == 0
		if got := a.Dominates(b); got != want {
			t.Fatalf("%v Dominates(%v) = %v, want %v", a, b, got, want)
		}
		if valid(al) && !a.Dominates(a) {
			t.Fatalf("%v does not dominate itself", a)
		}
		if a.Dominates(b) && b.Dominates(c) && !a.Dominates(c) {
			t.Fatalf("not transitive: %v ≥ %v ≥ %v", a, b, c)
		}
		if a.Dominates(b) && b.Dominates(a) && (a.Level != b.Level || !slices.Equal(a.Categories, b.Categories)) {
			t.Fatalf("not antisymmetric: %v, %v", a, b)
		}
	})
}
