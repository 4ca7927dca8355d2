package extract

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// maxReadBytes bounds a file read whole into memory (the upload limit is far below it).
const maxReadBytes = 256 << 20

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- a blob path or a temporary file chosen by the caller
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if len(b) > maxReadBytes {
		return nil, limited("文件过大")
	}
	return b, nil
}

// Decode detects the encoding of text: a UTF-8 or UTF-16 byte-order mark, valid UTF-8, else
// GB18030 (a superset of GBK and GB2312, the legacy encodings of Chinese Windows). Bytes that
// are not valid GB18030 either make the text unreadable rather than indexing mojibake.
func Decode(b []byte) (string, string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:]), "UTF-8", nil
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		s, err := decodeWith(unicode.UTF16(unicode.BigEndian, unicode.UseBOM), b)
		return s, "UTF-16", err
	case utf8.Valid(b):
		return string(b), "UTF-8", nil
	}
	s, err := decodeWith(simplifiedchinese.GB18030, b)
	if err != nil || strings.ContainsRune(s, utf8.RuneError) {
		return "", "", unreadable("无法识别文字编码（既不是 UTF-8 也不是 GBK/GB18030）")
	}
	return s, "GB18030", nil
}

func decodeWith(e encoding.Encoding, b []byte) (string, error) {
	out, _, err := transform.Bytes(e.NewDecoder(), b)
	if err != nil {
		return "", unreadable("文字编码有误")
	}
	return string(out), nil
}

func textFile(p, mime string, lim Limits) (Result, error) {
	b, err := readFile(p)
	if err != nil {
		return Result{}, err
	}
	if mime == MIMEHTML {
		if cs := metaCharset(b); cs == "gbk" || cs == "gb2312" || cs == "gb18030" {
			s, err := decodeWith(simplifiedchinese.GB18030, b)
			if err != nil {
				return Result{}, err
			}
			t := htmlText(s)
			return Result{Text: t, HTML: paragraphsHTML(t), Pages: 1, Method: MethodText, Encoding: "GB18030"}, nil
		}
	}
	s, enc, err := Decode(b)
	if err != nil {
		return Result{}, err
	}
	if mime == MIMEHTML {
		s = htmlText(s)
	}
	return Result{Text: s, HTML: paragraphsHTML(s), Pages: 1, Method: MethodText, Encoding: enc}, nil
}

// metaCharset is the charset a page declares in its first 1024 bytes, lower case.
func metaCharset(b []byte) string {
	head := strings.ToLower(string(b[:min(len(b), 1024)]))
	i := strings.Index(head, "charset=")
	if i < 0 {
		return ""
	}
	v := strings.TrimLeft(head[i+len("charset="):], `"' `)
	end := strings.IndexAny(v, `"' ;/>`)
	if end >= 0 {
		v = v[:end]
	}
	return v
}

// htmlText is the visible text of a page: scripts, styles and markup dropped, block elements
// on their own lines.
func htmlText(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return b.String()
		case xhtml.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "noscript", "template":
				skip++
			case "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table":
				b.WriteByte('\n')
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "noscript", "template":
				if skip > 0 {
					skip--
				}
			}
		case xhtml.TextToken:
			if skip == 0 {
				b.Write(z.Text()) // already unescaped
			}
		}
	}
}

// paragraphsHTML is the preview markup of plain text: one paragraph per non-empty line.
func paragraphsHTML(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString("<p>" + html.EscapeString(line) + "</p>\n")
		}
	}
	return b.String()
}
