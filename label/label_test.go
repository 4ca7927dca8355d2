package label_test

import (
	"strings"
	"testing"

	"infowork/label"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want label.Level
	}{
		{"public", label.Public},
		{"internal", label.Internal},
		{"secret", label.Secret},
		{"confidential", label.Confidential},
		{"公开", label.Public},
		{"内部", label.Internal},
		{"秘密", label.Secret},
		{"机密", label.Confidential},
		{"SECRET", label.Secret},
		{"  Internal\t", label.Internal},
		{"\u3000机密\n", label.Confidential},
	}
	for _, tt := range tests {
		got, err := label.Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRejectsJunk(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", " ", "top secret", "topsecret", "绝密", "0", "1", "level(2)", "未知",
		"public internal", "公开内部", "secret\x00", "pub", "confidentia", "秘"} {
		l, err := label.Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, nil; want an error", in, l)
			continue
		}
		if !strings.Contains(err.Error(), "unknown classification") {
			t.Errorf("Parse(%q) error %q does not say what is wrong", in, err)
		}
	}
}

func TestStringAndChinese(t *testing.T) {
	t.Parallel()
	want := map[label.Level][2]string{
		label.Public:       {"public", "公开"},
		label.Internal:     {"internal", "内部"},
		label.Secret:       {"secret", "秘密"},
		label.Confidential: {"confidential", "机密"},
		label.Level(-1):    {"level(-1)", "未知"},
		label.Level(4):     {"level(4)", "未知"},
	}
	for l, w := range want {
		if l.String() != w[0] || l.Chinese() != w[1] {
			t.Errorf("level %d: String, Chinese = %q, %q; want %q, %q", int(l), l.String(), l.Chinese(), w[0], w[1])
		}
		if l.Valid() != (l >= 0 && l <= 3) {
			t.Errorf("level %d: Valid() = %v", int(l), l.Valid())
		}
	}
	if len(label.Levels) != 4 {
		t.Fatalf("Levels = %v", label.Levels)
	}
	for i, l := range label.Levels {
		if int(l) != i {
			t.Errorf("Levels[%d] = %v, want ascending order", i, l)
		}
		if got, err := label.Parse(l.String()); err != nil || got != l {
			t.Errorf("Parse(String(%v)) = %v, %v", l, got, err)
		}
		if got, err := label.Parse(l.Chinese()); err != nil || got != l {
			t.Errorf("Parse(Chinese(%v)) = %v, %v", l, got, err)
		}
	}
}

func TestDominates(t *testing.T) {
	t.Parallel()
	all := []label.Level{-1, label.Public, label.Internal, label.Secret, label.Confidential, 4}
	// want[c][l] for c, l in all; invalid levels on either side never dominate.
	want := [6][6]bool{
		{false, false, false, false, false, false}, // -1
		{false, true, false, false, false, false},  // public
		{false, true, true, false, false, false},   // internal
		{false, true, true, true, false, false},    // secret
		{false, true, true, true, true, false},     // confidential
		{false, false, false, false, false, false}, // 4
	}
	for i, c := range all {
		for j, l := range all {
			if got := c.Dominates(l); got != want[i][j] {
				t.Errorf("clearance %v Dominates(%v) = %v, want %v", c, l, got, want[i][j])
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"public", "公开", " SECRET ", "机密", "", "level(3)", "İnternal", "\u3000内部"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := label.Parse(s)
		if err != nil {
			if l != 0 {
				t.Fatalf("Parse(%q) returned level %v with error", s, l)
			}
			return
		}
		if !l.Valid() {
			t.Fatalf("Parse(%q) = invalid level %d without error", s, int(l))
		}
		for _, form := range []string{l.String(), l.Chinese()} {
			back, err := label.Parse(form)
			if err != nil || back != l {
				t.Fatalf("round trip of %v via %q = %v, %v", l, form, back, err)
			}
		}
	})
}
