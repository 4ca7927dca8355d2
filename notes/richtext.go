package notes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"html"
	"io"
	"net/url"
	"strings"

	"infowork/submission"
)

// Placeholders in converted HTML, replaced by attachment URLs once the files are stored
// (Importer) and removed by sanitizing otherwise.
const (
	picturePrefix = "notes-picture:" // + SHA-256 of the picture
	filePrefix    = "notes-file:"    // + query-escaped file name of an attachmentref
)

// itemHTML converts an item to HTML: rich text by RichTextHTML, other values as paragraphs.
func itemHTML(it Item) string {
	var b strings.Builder
	for _, v := range it.Values {
		if v.T == "richtext" {
			b.WriteString(RichTextHTML(v.V))
			continue
		}
		if v.T == "mime" && strings.HasPrefix(v.A["contentType"], "text/html") {
			b.WriteString(v.V) // DAS rich text: HTML, sanitized when stored
			continue
		}
		if v.T == "mime" && strings.HasPrefix(v.A["contentType"], "text/plain") {
			b.WriteString(submission.TextToHTML(v.V))
			continue
		}
		if v.T == "text" || v.T == "number" || v.T == "datetime" {
			b.WriteString(submission.TextToHTML(v.V))
		}
	}
	return b.String()
}

// summaryHTML lists the visible items of a document that has no body item, so the record shows
// and finds its content: one paragraph "name：values" per text, number or datetime item.
func summaryHTML(d *Document) string {
	var b strings.Builder
	for _, it := range d.Items {
		if strings.HasPrefix(it.Name, "$") || strings.EqualFold(it.Name, "Form") {
			continue
		}
		if it.Type == "richtext" {
			b.WriteString(itemHTML(it))
			continue
		}
		ts := it.Texts()
		if len(ts) == 0 {
			continue
		}
		val := strings.TrimSpace(strings.Join(ts, "；"))
		if val == "" {
			continue
		}
		b.WriteString("<p>" + html.EscapeString(it.Name) + "：" + html.EscapeString(val) + "</p>\n")
	}
	return b.String()
}

// RichTextHTML converts DXL rich text markup (the content of <richtext>) to HTML keeping
// paragraphs, line breaks, bold/italic/underline runs, tables, links, pictures and attachment
// references. Design-time markup (pardef, fields, formulas, code) adds no text. The result still
// needs sanitizing (the importer does it when it stores the record).
func RichTextHTML(markup string) string {
	dec := xml.NewDecoder(strings.NewReader("<rt>" + markup + "</rt>"))
	dec.Strict = false
	var b strings.Builder
	var closers []string // per open element, what to write at its end
	var open []string    // names of the open elements
	skip := 0            // depth inside an element whose text is not content
	inPar := false
	for {
		t, err := dec.Token()
		if err == io.EOF || err != nil {
			break
		}
		switch t := t.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				closers = append(closers, "")
				open = append(open, t.Name.Local)
				continue
			}
			cl := ""
			switch t.Name.Local {
			case "par":
				b.WriteString("<p>")
				cl = "</p>\n"
				inPar = true
			case "break":
				b.WriteString("<br>")
			case "font":
				style := attr(t, "style")
				if strings.Contains(style, "bold") {
					b.WriteString("<strong>")
					cl = "</strong>" + cl
				}
				if strings.Contains(style, "italic") {
					b.WriteString("<em>")
					cl = "</em>" + cl
				}
				if strings.Contains(style, "underline") {
					b.WriteString("<u>")
					cl = "</u>" + cl
				}
				// <font> is an empty element that styles the rest of its run: the run closes the tags
				if len(open) > 0 && open[len(open)-1] == "run" {
					closers[len(closers)-1] = cl + closers[len(closers)-1]
				} else {
					b.WriteString(cl)
				}
				cl = ""
			case "table":
				b.WriteString("<table>")
				cl = "</table>\n"
			case "tablerow":
				b.WriteString("<tr>")
				cl = "</tr>"
			case "tablecell":
				b.WriteString("<td")
				if v := attr(t, "columnspan"); v != "" {
					b.WriteString(` colspan="` + html.EscapeString(v) + `"`)
				}
				if v := attr(t, "rowspan"); v != "" {
					b.WriteString(` rowspan="` + html.EscapeString(v) + `"`)
				}
				b.WriteString(">")
				cl = "</td>"
			case "urllink":
				b.WriteString(`<a href="` + html.EscapeString(attr(t, "href")) + `">`)
				cl = "</a>"
			case "attachmentref":
				name := attr(t, "name")
				disp := attr(t, "displayname")
				if disp == "" {
					disp = name
				}
				b.WriteString(`<a href="` + filePrefix + url.QueryEscape(name) + `">` + html.EscapeString(disp) + `</a>`)
				skip = 1 // its icon picture is not content
			case "gif", "jpeg", "png", "bmp":
				data, _ := readText(dec)
				raw, err := decodeB64(data)
				if err == nil {
					s := sha256.Sum256(raw)
					b.WriteString(`<img src="` + picturePrefix + hex.EncodeToString(s[:]) + `" alt="">`)
				}
				continue // readText consumed the end element
			case "notesbitmap":
				b.WriteString("[图片]")
				skip = 1
			case "pardef", "code", "formula", "field", "computedtext", "popup", "sectiontitle", "actionhotspot",
				"button", "objectref", "embeddedcontrol", "region", "horizrule", "doclink", "viewlink", "databaselink":
				if t.Name.Local == "horizrule" {
					b.WriteString("<hr>")
				}
				if t.Name.Local == "doclink" || t.Name.Local == "viewlink" || t.Name.Local == "databaselink" {
					d := attr(t, "description")
					if d == "" {
						d = "Notes 链接"
					}
					b.WriteString("[" + html.EscapeString(d) + "]")
				}
				skip = 1
			}
			closers = append(closers, cl)
			open = append(open, t.Name.Local)
		case xml.EndElement:
			if len(closers) == 0 {
				continue
			}
			cl := closers[len(closers)-1]
			closers = closers[:len(closers)-1]
			open = open[:len(open)-1]
			if skip > 0 {
				skip--
			}
			if t.Name.Local == "par" {
				inPar = false
			}
			b.WriteString(cl)
		case xml.CharData:
			if skip > 0 {
				continue
			}
			s := string(t)
			if !inPar && strings.TrimSpace(s) == "" {
				continue // indentation between block elements
			}
			b.WriteString(html.EscapeString(s))
		}
	}
	return b.String()
}

func readText(dec *xml.Decoder) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return b.String(), err
		}
		switch t := t.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return b.String(), nil
}
