package attachment

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameRunes is the longest display name SafeName returns.
const MaxNameRunes = 100

// DefaultName replaces a client file name that has nothing left after cleaning.
const DefaultName = "附件"

// windowsReserved are device names Windows will not save a file under.
var windowsReserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true}

// SafeName turns any client-supplied file name into a name that is safe to show and to offer in
// Content-Disposition. It is for display only: storage never uses it (blobs are named by their
// SHA-256). It
//   - keeps only the last path element, whether the separator is '/' or '\' (browsers send
//     "C:\fakepath\photo.jpg");
//   - replaces invalid UTF-8, drops control and format characters (NUL, newlines, the
//     bidirectional overrides such as U+202E that make "gpj.exe" read as "exe.jpg", zero-width
//     characters) and turns the characters Windows forbids in names into '_';
//   - collapses white space, trims spaces and dots at both ends (no hidden ".htaccess", no
//     trailing dot that Windows strips), avoids Windows device names;
//   - keeps Chinese and every other letter, and cuts the result to MaxNameRunes runes, keeping
//     the extension.
//
// The result is never empty (DefaultName).
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case r == utf8.RuneError:
			r = '_'
		case unicode.IsSpace(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			space = true
			continue
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Co, unicode.Cs) || r == '\uFEFF':
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
		case !unicode.IsGraphic(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.Trim(b.String(), " .")
	if out == "" {
		return DefaultName
	}
	stem, ext := splitExt(out)
	if windowsReserved[strings.ToUpper(stem)] {
		out = "_" + out
		stem = "_" + stem
	}
	if utf8.RuneCountInString(out) > MaxNameRunes {
		if n := utf8.RuneCountInString(ext); n > 0 && n <= 10 {
			out = strings.TrimRight(truncateRunes(stem, MaxNameRunes-n), " .") + ext
		} else {
			out = strings.TrimRight(truncateRunes(out, MaxNameRunes), " .")
		}
		if out == "" || out == ext {
			out = DefaultName + ext
		}
	}
	return out
}

func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// splitExt splits "报告.final.JPG" into "报告.final" and ".JPG"; a name without a dot (or only a
// leading one) has no extension.
func splitExt(name string) (stem, ext string) {
	ext = path.Ext(name)
	if ext == name || ext == "." {
		return name, ""
	}
	return strings.TrimSuffix(name, ext), ext
}

// attrChar reports whether c may appear unencoded in an RFC 5987 ext-value (attr-char).
func attrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// EncodeRFC5987 percent-encodes s (UTF-8) as the value of an RFC 5987 / RFC 8187 extended
// parameter, such as the filename* parameter of Content-Disposition.
func EncodeRFC5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if attrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// ContentDisposition returns the Content-Disposition header value for a download ("attachment")
// or an image preview ("inline") of a file shown as name. Only the RFC 5987 form is sent: every
// browser the project supports reads it, and there is no ASCII fallback to get wrong.
func ContentDisposition(disposition, name string) string {
	return disposition + "; filename*=UTF-8''" + EncodeRFC5987(SafeName(name))
}
