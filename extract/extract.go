package extract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MIME types this package reads (the attachment allow-list detects them from content).
const (
	MIMEDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	MIMEXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	MIMEPPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	MIMEPDF  = "application/pdf"
	MIMEText = "text/plain"
	MIMEHTML = "text/html"
	MIMEJPEG = "image/jpeg"
	MIMEPNG  = "image/png"
	MIMEGIF  = "image/gif"
)

// Methods of extraction.
const (
	MethodText = "text" // a text layer or markup
	MethodOCR  = "ocr"  // Tesseract over page images
)

// Limits bound the work on one file. Zero fields take the defaults.
type Limits struct {
	MaxTextBytes    int   // extracted text kept (UTF-8 bytes); default 2 MiB
	MaxUnpacked     int64 // total inflated bytes read from an archive; default 256 MiB
	MaxPart         int64 // inflated bytes of one archive part; default 64 MiB
	MaxEntries      int   // entries of an archive; default 10,000
	MaxRatio        int64 // declared inflated/compressed ratio of one part; default 200
	MaxOCRPages     int   // pages of an image-only PDF sent to OCR; default 30
	OCRLanguages    string
	OCRResolution   int // dpi of PDF pages rendered for OCR; default 200 (scans are made at 200–300 dpi)
	MaxPreviewCells int // spreadsheet cells in the HTML preview; default 5,000
}

func (l *Limits) defaults() {
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = 2 << 20
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = 256 << 20
	}
	if l.MaxPart <= 0 {
		l.MaxPart = 64 << 20
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 10000
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 200
	}
	if l.MaxOCRPages <= 0 {
		l.MaxOCRPages = 30
	}
	if l.OCRLanguages == "" {
		l.OCRLanguages = "chi_sim+eng"
	}
	if l.OCRResolution <= 0 {
		l.OCRResolution = 200
	}
	if l.MaxPreviewCells <= 0 {
		l.MaxPreviewCells = 5000
	}
}

// Result is what extraction found.
type Result struct {
	Text      string `json:"text"`               // plain text, paragraphs separated by newlines
	HTML      string `json:"html,omitempty"`     // preview markup of office and text documents (sanitized by the caller)
	Pages     int    `json:"pages"`              // pages, slides or sheets; 1 for text and images
	Method    string `json:"method"`             // MethodText or MethodOCR
	Encoding  string `json:"encoding,omitempty"` // detected encoding of plain text and HTML
	Truncated bool   `json:"truncated,omitempty"`
	OCRPages  int    `json:"ocr_pages,omitempty"` // pages that went through OCR
}

// ErrUnreadable is wrapped by refusals that retrying cannot fix: the file is encrypted,
// malformed, a zip bomb, or of a type this package does not read. Reason gives the zh-CN text.
var ErrUnreadable = errors.New("unreadable file")

// ErrLimit is wrapped when a resource limit ended the work (time, memory, output size).
var ErrLimit = errors.New("resource limit reached")

type reasonError struct {
	kind   error
	reason string
}

func (e *reasonError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

func unreadable(format string, args ...any) error {
	return &reasonError{kind: ErrUnreadable, reason: fmt.Sprintf(format, args...)}
}

func limited(format string, args ...any) error {
	return &reasonError{kind: ErrLimit, reason: fmt.Sprintf(format, args...)}
}

// Reason is the zh-CN reason of an error of this package, or a generic one.
func Reason(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	if err == nil {
		return ""
	}
	return "提取失败（内部错误）"
}

// File extracts the text of the file at path, whose type was detected as mime. It runs in the
// current process: servers call it only through Runner (a child process with limits).
func File(ctx context.Context, path, mime string, lim Limits) (Result, error) {
	lim.defaults()
	var (
		r   Result
		err error
	)
	switch mime {
	case MIMEDOCX, MIMEXLSX, MIMEPPTX:
		r, err = officeFile(path, mime, lim)
	case MIMEPDF:
		r, err = pdfFile(ctx, path, lim)
	case MIMEJPEG, MIMEPNG, MIMEGIF:
		r, err = imageFile(ctx, path, lim)
	case MIMEText, MIMEHTML:
		r, err = textFile(path, mime, lim)
	default:
		return Result{}, unreadable("不支持提取 %s 类型的文字", mime)
	}
	if err != nil {
		return Result{}, err
	}
	r.Text, r.Truncated = clip(strings.TrimSpace(r.Text), lim.MaxTextBytes, r.Truncated)
	return r, nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int, already bool) (string, bool) {
	if len(s) <= n {
		return s, already
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// cjkSpaces removes the spaces OCR puts between Chinese characters ("东 湖 街 道" → "东湖街道")
// and keeps those between Latin words.
func cjkSpaces(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		if r == ' ' || r == '\u3000' {
			prev, next := prevNonSpace(rs, i), nextNonSpace(rs, i)
			if prev != 0 && next != 0 && (isCJK(prev) || isCJK(next)) {
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func prevNonSpace(rs []rune, i int) rune {
	for j := i - 1; j >= 0; j-- {
		if rs[j] == '\n' {
			return 0
		}
		if rs[j] != ' ' && rs[j] != '\u3000' {
			return rs[j]
		}
	}
	return 0
}

func nextNonSpace(rs []rune, i int) rune {
	for j := i + 1; j < len(rs); j++ {
		if rs[j] == '\n' {
			return 0
		}
		if rs[j] != ' ' && rs[j] != '\u3000' {
			return rs[j]
		}
	}
	return 0
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.In(r, unicode.Hiragana, unicode.Katakana) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}
