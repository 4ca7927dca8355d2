package notes_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"infowork/notes"
	"infowork/submission"
)

// FuzzParse: any input either fails with an error or yields documents whose kept original
// parses again to the same canonical hash; it never panics.
func FuzzParse(f *testing.F) {
	// Small seeds: the sample export is large for mutation and minimization.
	f.Add([]byte(`<document form='A'><noteinfo unid='0123456789ABCDEF0123456789ABCDEF' sequence='1'/><item name='X'><textlist><text>a</text><text>b</text></textlist></item></document>`))
	f.Add([]byte(`<note class='document'><item name='B'><richtext><par>x<break/>y</par></richtext></item></note>`))
	f.Add([]byte(`<?xml version='1.0' encoding='gbk'?><database><acl><aclentry name='-Default-' level='reader'/></acl><form/>` +
		`<document><item name='$FILE'><object><file name='a'><filedata>QUJD</filedata></file></object></item></document></database>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var docs []*notes.Document
		err := notes.Parse(bytes.NewReader(in), notes.Handler{Document: func(d *notes.Document) error {
			docs = append(docs, d)
			return nil
		}})
		if err != nil {
			return
		}
		for _, d := range docs {
			var again *notes.Document
			if err := notes.Parse(bytes.NewReader(d.Raw), notes.Handler{Document: func(x *notes.Document) error { again = x; return nil }}); err != nil || again == nil {
				t.Fatalf("kept DXL of %s does not parse: %v\n%q", d.UNID, err, d.Raw)
			}
			if notes.CanonicalHash(again) != notes.CanonicalHash(d) && !d.Synthetic {
				t.Fatalf("kept DXL of %s parses to other content", d.UNID)
			}
		}
	})
}

var (
	tagRE  = regexp.MustCompile(`<[^>]*>`)
	badTag = regexp.MustCompile(`^<(script|iframe|object|embed|style)|\son[a-z]+\s*=|javascript:|notes-(picture|file):|src="(?:[^/]|//)`)
)

// FuzzRichTextHTML: whatever the markup, the stored body has no script, event handler or
// foreign image source.
func FuzzRichTextHTML(f *testing.F) {
	f.Add(`<par>a<urllink href='javascript:alert(1)'>x</urllink></par>`)
	f.Add(`<par><run><font style='bold'/>b</run><picture><gif>R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7</gif></picture></par>`)
	f.Add(`<table><tablerow><tablecell columnspan='2" onmouseover="x'>c</tablecell></tablerow></table>`)
	f.Fuzz(func(t *testing.T, markup string) {
		out := strings.ToLower(submission.SanitizeLegacy(notes.RichTextHTML(markup)))
		for _, tag := range tagRE.FindAllString(out, -1) {
			if badTag.MatchString(tag) {
				t.Fatalf("unsafe tag %q in %q", tag, out)
			}
		}
	})
}
