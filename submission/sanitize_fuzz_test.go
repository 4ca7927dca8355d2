package submission_test

import (
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"infowork/submission"
)

var allowedTags = map[string]bool{"p": true, "br": true, "strong": true, "b": true, "em": true, "i": true, "u": true,
	"ul": true, "ol": true, "li": true, "blockquote": true, "h1": true, "img": true, "h2": true, "h3": true, "h4": true, "table": true,
	"thead": true, "tbody": true, "tr": true, "th": true, "td": true, "sub": true, "sup": true, "a": true}

// FuzzSanitize checks the body policy: whatever comes in, what comes out holds only allowed
// elements, no event handlers or styles, and links only to safe schemes.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		`<p onclick="x()">a</p>`,
		`<script>alert(1)</script>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href=" JaVaScRiPt:alert(1)">x</a>`,
		`<a href="java&#x09;script:alert(1)">x</a>`,
		`<img src=x onerror=alert(1)>`,
		`<iframe src="https://x/"></iframe>`,
		`<p style="background:url(javascript:x)">s</p>`,
		`<svg><script>alert(1)</script></svg>`,
		`<scr<script>ipt>alert(1)</script>`,
		`<td colspan="2" rowspan="999">x</td>`,
		`<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>`,
		`<p>第一段　内容</p>`,
		"<!--<script>--><p>x</p>",
		`<math><mi xlink:href="javascript:alert(1)">x</mi></math>`,
	} {
		f.Add(s)
	}
	svc := submission.New(nil)
	f.Fuzz(func(t *testing.T, in string) {
		out := svc.Sanitize(in)
		low := strings.ToLower(out)
		if strings.Contains(low, "<script") || strings.Contains(low, "<iframe") || strings.Contains(low, "<style") {
			t.Fatalf("Sanitize(%q) = %q keeps a dangerous element", in, out)
		}
		z := html.NewTokenizer(strings.NewReader(out))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt == html.CommentToken || tt == html.DoctypeToken {
				t.Fatalf("Sanitize(%q) = %q keeps a comment or doctype", in, out)
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			if !allowedTags[tok.Data] {
				t.Fatalf("Sanitize(%q) = %q keeps element <%s>", in, out, tok.Data)
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case strings.HasPrefix(key, "on"):
					t.Fatalf("Sanitize(%q) = %q keeps handler %s", in, out, a.Key)
				case key == "href":
					v := strings.ToLower(strings.Map(func(r rune) rune {
						if r <= ' ' {
							return -1
						}
						return r
					}, a.Val))
					if i := strings.Index(v, ":"); i >= 0 && !strings.HasPrefix(v, "http:") && !strings.HasPrefix(v, "https:") &&
						!strings.HasPrefix(v, "mailto:") && !strings.ContainsAny(v[:i], "/?#") {
						t.Fatalf("Sanitize(%q) = %q keeps link %q", in, out, a.Val)
					}
				case key == "src":
					if tok.Data != "img" || !regexp.MustCompile(`^/attachments/[0-9]+/preview$`).MatchString(a.Val) {
						t.Fatalf("Sanitize(%q) = %q keeps src %q", in, out, a.Val)
					}
				case key == "rel" || key == "colspan" || key == "rowspan" || (key == "alt" && tok.Data == "img"):
				default:
					t.Fatalf("Sanitize(%q) = %q keeps attribute %s", in, out, a.Key)
				}
			}
		}
	})
}
