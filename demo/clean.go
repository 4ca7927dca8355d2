package demo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// shanghai is Asia/Shanghai; when the system has no time zone database it
// falls back to a fixed UTC+8 zone, which is the same for every date the
// corpus can hold (China has not used daylight saving time since 1991).
var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// Location returns the time zone of every Message.Time (Asia/Shanghai).
func Location() *time.Location { return shanghai }

// Clean normalizes one cell of scraped text: it removes the HTML indentation
// ("\n\t\t\t") the scraper left in cells, turns U+3000 (ideographic space),
// no-break spaces and the other Unicode spaces into normal spaces, collapses
// runs of spaces and tabs into one space, drops zero-width spaces, BOMs and
// control characters, keeps paragraph breaks as a single "\n" (CRLF, CR,
// U+2028 and U+2029 count as breaks; blank lines are dropped) and trims every
// line and the whole text.
func Clean(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s))
	var (
		pendingSpace   bool // a space is due before the next visible rune
		pendingNewline bool // a paragraph break is due before the next visible rune
		lineHasContent bool
	)
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || r == '\v' || r == '\f':
			if lineHasContent {
				pendingNewline = true
			}
			pendingSpace = false
			lineHasContent = false
		case r == ' ' || r == '\t' || r == '\u3000' || r == '\u00a0' || r == '\u1680' ||
			(r >= '\u2000' && r <= '\u200a') || r == '\u202f' || r == '\u205f':
			if lineHasContent {
				pendingSpace = true
			}
		case r == '\u200b' || r == '\ufeff' || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// zero-width space, BOM, other C0/C1 controls: drop
		default:
			if pendingNewline {
				b.WriteByte('\n')
			} else if pendingSpace {
				b.WriteByte(' ')
			}
			pendingNewline, pendingSpace = false, false
			b.WriteRune(r)
			lineHasContent = true
		}
	}
	return b.String()
}

// timeLayouts are tried in order by ParseTime. Go's non-padded month, day and
// hour fields also accept two digits, and fractional seconds after the
// seconds field are accepted without being in the layout.
var timeLayouts = []string{
	"2006/1/2 15:04:05",
	"2006-1-2 15:04:05",
	"2006/1/2 15:04",
	"2006-1-2 15:04",
	"2006/1/2",
	"2006-1-2",
	"2006-1-2T15:04:05",
	"2006.1.2 15:04:05",
	"2006.1.2",
	"2006年1月2日 15:04:05",
	"2006年1月2日 15:04",
	"2006年1月2日",
}

// Excel serial day numbers (1900 date system) that ParseTime accepts:
// 1 = 1900-01-01 … 2958465 = 9999-12-31.
const (
	minSerial = 1
	maxSerial = 2958466
)

// ParseTime parses a 留言时间 cell in Asia/Shanghai. It accepts
// "2019/2/28 11:25:05", "2019-02-28 11:25:05", the same without seconds or
// without a time (midnight), "2019年2月28日", and Excel serial numbers such as
// "43563.359259259261" (1900 date system, rounded to the nearest second;
// that one is 2019-04-08 08:37:20). Excel counts the nonexistent 1900-02-29
// as serial 60, so serials ≥ 61 are days since 1899-12-30 and serials ≤ 60
// days since 1899-12-31 (60 itself, Excel's phantom leap day, becomes
// 1900-03-01).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(strings.Join(strings.Fields(Clean(s)), " "))
	if s == "" {
		return time.Time{}, errors.New("demo: empty time")
	}
	if isNumber(s) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("demo: time %q: %w", s, err)
		}
		return excelSerial(v)
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, shanghai); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("demo: unrecognised time %q", s)
}

// isNumber reports whether s looks like a plain decimal number (digits with
// at most one dot, optional exponent), i.e. an Excel serial.
func isNumber(s string) bool {
	dot, digits := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' && !dot:
			dot = true
		case (c == 'e' || c == 'E') && digits && i+1 < len(s):
			_, err := strconv.ParseFloat(s, 64)
			return err == nil
		default:
			return false
		}
	}
	return digits
}

func excelSerial(v float64) (time.Time, error) {
	if math.IsNaN(v) || v < minSerial || v >= maxSerial {
		return time.Time{}, fmt.Errorf("demo: Excel serial %v out of range", v)
	}
	secs := int64(math.Round(v * 86400))
	days := secs / 86400
	base := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	if days <= 60 { // before Excel's phantom 1900-02-29
		base = base.AddDate(0, 0, 1)
	}
	// Compute the wall clock in UTC (no historic offsets), then read it as
	// Asia/Shanghai wall-clock time: Excel stores local times without a zone.
	w := base.Add(time.Duration(secs) * time.Second)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, shanghai), nil
}
