package attachment

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("长", 150) + ".jpg"
	cases := []struct{ in, want string }{
		{"photo.jpg", "photo.jpg"},
		{`C:\fakepath\东湖街道 清理河道.JPG`, "东湖街道 清理河道.JPG"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\system32\cmd.exe`, "cmd.exe"},
		{"/", DefaultName},
		{"", DefaultName},
		{"...", DefaultName},
		{".htaccess", "htaccess"},
		{"a\x00b\nc\rd.png", "ab c d.png"},
		{"invoice\u202Egpj.exe", "invoicegpj.exe"},
		{"zero\u200Bwidth\uFEFF.gif", "zerowidth.gif"},
		{"  多个   空格\t名字 .png ", "多个 空格 名字 .png"},
		{`a<b>c:d"e|f?g*h.pdf`, "a_b_c_d_e_f_g_h.pdf"},
		{"CON.txt", "_CON.txt"},
		{"report.", "report"},
		{"bad\xff\xfeutf8.png", "bad_utf8.png"},
		{long, strings.Repeat("长", 96) + ".jpg"},
	}
	for _, c := range cases {
		if got := SafeName(c.in); got != c.want {
			t.Errorf("SafeName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	cases := []struct{ disp, name, want string }{
		{"attachment", "photo.jpg", "attachment; filename*=UTF-8''photo.jpg"},
		{"attachment", "河道 1.png", "attachment; filename*=UTF-8''%E6%B2%B3%E9%81%93%201.png"},
		{"inline", `a"b;c\d.gif`, "inline; filename*=UTF-8''d.gif"},
		{"attachment", "x'y%z.pdf", "attachment; filename*=UTF-8''x%27y%25z.pdf"},
		{"attachment", "evil\r\nSet-Cookie: a=b.png", "attachment; filename*=UTF-8''evil%20Set-Cookie_%20a%3Db.png"},
	}
	for _, c := range cases {
		if got := ContentDisposition(c.disp, c.name); got != c.want {
			t.Errorf("ContentDisposition(%q, %q) = %q, want %q", c.disp, c.name, got, c.want)
		}
	}
}

// FuzzSafeName: whatever a client sends as a file name, the display name is valid UTF-8 of at
// most MaxNameRunes runes, never empty, with no path separator, NUL, control character or
// bidirectional override, and cleaning it again changes nothing. Its RFC 5987 encoding is plain
// ASCII without anything that could end a header.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"photo.jpg", `C:\fakepath\东湖.png`, "../../etc/passwd", "a\u202Egpj.exe", "\x00", ".", "..",
		strings.Repeat("名", 200) + ".jpeg", "\xff\xfe", "CON", "a/b\\c", " . ", "x.\u2028y", "\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeName(in)
		if !utf8.ValidString(out) {
			t.Fatalf("SafeName(%q) = %q: invalid UTF-8", in, out)
		}
		if n := utf8.RuneCountInString(out); n == 0 || n > MaxNameRunes {
			t.Fatalf("SafeName(%q) = %q: %d runes", in, out, n)
		}
		if strings.ContainsAny(out, "/\\\x00\u202E") {
			t.Fatalf("SafeName(%q) = %q: contains a separator, NUL or U+202E", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SafeName(%q) = %q: contains control/format character %U", in, out, r)
			}
		}
		if strings.HasPrefix(out, ".") || strings.HasPrefix(out, " ") {
			t.Fatalf("SafeName(%q) = %q: leading dot or space", in, out)
		}
		if again := SafeName(out); again != out {
			t.Fatalf("SafeName is not idempotent: %q → %q → %q", in, out, again)
		}
		enc := EncodeRFC5987(out)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"';,\`, c) >= 0 {
				t.Fatalf("EncodeRFC5987(%q) = %q: byte %q", out, enc, c)
			}
		}
	})
}
