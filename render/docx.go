package render

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// docxTime is the timestamp of every zip entry: fixed, so the same Issue gives the same bytes.
var docxTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// DOCX renders the issue as a Word document (OOXML): the marking in the page header, the page
// number field in the footer, the masthead, the sections and items, and 版记.
func DOCX(is Issue) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := []struct{ name, body string }{
		{"[Content_Types].xml", contentTypes},
		{"_rels/.rels", rootRels},
		{"word/_rels/document.xml.rels", documentRels},
		{"word/styles.xml", styles()},
		{"word/header1.xml", header(is)},
		{"word/footer1.xml", footer},
		{"word/document.xml", document(is)},
	}
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: docxTime})
		if err != nil {
			return nil, fmt.Errorf("render: docx: %w", err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, fmt.Errorf("render: docx: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("render: docx: %w", err)
	}
	return buf.Bytes(), nil
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
const wNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`

const contentTypes = xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
	`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
	`<Default Extension="xml" ContentType="application/xml"/>` +
	`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
	`<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
	`<Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>` +
	`<Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/>` +
	`</Types>`

const rootRels = xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
	`</Relationships>`

const documentRels = xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
	`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>` +
	`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/>` +
	`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>` +
	`</Relationships>`

func styles() string {
	return xmlHead + `<w:styles ` + wNS + `><w:docDefaults><w:rPrDefault><w:rPr>` +
		`<w:rFonts w:ascii="` + Font + `" w:hAnsi="` + Font + `" w:eastAsia="` + Font + `" w:cs="` + Font + `"/>` +
		`<w:sz w:val="32"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault>` +
		`<w:pPrDefault><w:pPr><w:spacing w:line="560" w:lineRule="exact"/></w:pPr></w:pPrDefault></w:docDefaults>` +
		`<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>` +
		`</w:styles>`
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// para writes one paragraph: jc is the alignment (left, center, right, both), rpr extra run
// properties, indent a first-line indent of two characters.
func para(text, jc, rpr string, indent bool) string {
	var b strings.Builder
	b.WriteString(`<w:p><w:pPr>`)
	if indent {
		b.WriteString(`<w:ind w:firstLineChars="200" w:firstLine="640"/>`)
	}
	if jc != "" {
		b.WriteString(`<w:jc w:val="` + jc + `"/>`)
	}
	b.WriteString(`</w:pPr><w:r>`)
	if rpr != "" {
		b.WriteString(`<w:rPr>` + rpr + `</w:rPr>`)
	}
	b.WriteString(`<w:t xml:space="preserve">` + esc(text) + `</w:t></w:r></w:p>`)
	return b.String()
}

const (
	bold   = `<w:b/>`
	red    = `<w:color w:val="CC0000"/>`
	redBot = `<w:pBdr><w:bottom w:val="single" w:sz="18" w:space="4" w:color="CC0000"/></w:pBdr>`
)

func size(halfPoints int) string {
	return fmt.Sprintf(`<w:sz w:val="%d"/><w:szCs w:val="%d"/>`, halfPoints, halfPoints)
}

func header(is Issue) string {
	return xmlHead + `<w:hdr ` + wNS + `>` + para(is.Marking, "left", bold+size(24), false) + `</w:hdr>`
}

const footer = xmlHead + `<w:ftr ` + wNS + `><w:p><w:pPr><w:jc w:val="center"/></w:pPr>` +
	`<w:r><w:t xml:space="preserve">— </w:t></w:r>` +
	`<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>` +
	`<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>` +
	`<w:r><w:t xml:space="preserve"> —</w:t></w:r></w:p></w:ftr>`

func document(is Issue) string {
	var b strings.Builder
	b.WriteString(xmlHead + `<w:document ` + wNS + `><w:body>`)
	b.WriteString(para(is.FullTitle(), "center", bold+red+size(80), false))
	if is.Title != "" {
		b.WriteString(para(is.Title, "center", size(30), false))
	}
	b.WriteString(para(is.NumberText(), "center", size(30), false))
	// Issuing organ left, date right, over the red rule.
	b.WriteString(`<w:p><w:pPr>` + redBot + `<w:tabs><w:tab w:val="right" w:pos="8840"/></w:tabs></w:pPr>` +
		`<w:r><w:rPr>` + size(28) + `</w:rPr><w:t xml:space="preserve">` + esc(is.MastheadOrg) + `</w:t></w:r>` +
		`<w:r><w:rPr>` + size(28) + `</w:rPr><w:tab/><w:t xml:space="preserve">` + esc(is.DateText()) + `</w:t></w:r></w:p>`)
	if is.CorrectionNote != "" {
		b.WriteString(para(fmt.Sprintf("更正说明（第%d版）：%s", is.Revision, is.CorrectionNote), "left", size(24), false))
	}
	for _, s := range is.Sections {
		if s.Name != "" {
			b.WriteString(para("【"+s.Name+"】", "left", bold, false))
		}
		for _, it := range s.Items {
			b.WriteString(para(it.Title, "center", bold+size(36), false))
			if it.EditorNote != "" {
				b.WriteString(para("编者按："+it.EditorNote, "both", size(28), true))
			}
			for _, p := range it.Paragraphs {
				b.WriteString(para(p, "both", "", true))
			}
			if len(it.Units) > 0 {
				b.WriteString(para("（"+strings.Join(it.Units, "、")+"供稿）", "right", size(28), false))
			}
		}
	}
	// 版记: distribution list and the printed line between rules.
	b.WriteString(`<w:p><w:pPr><w:pBdr><w:top w:val="single" w:sz="8" w:space="4" w:color="000000"/></w:pBdr></w:pPr><w:r><w:rPr>` + size(28) +
		`</w:rPr><w:t xml:space="preserve">` + esc("报："+strings.Join(is.Distribution, "，")) + `</w:t></w:r></w:p>`)
	org := is.FooterNote
	if org == "" {
		org = is.MastheadOrg
	}
	b.WriteString(`<w:p><w:pPr><w:pBdr><w:top w:val="single" w:sz="4" w:space="4" w:color="000000"/><w:bottom w:val="single" w:sz="8" w:space="4" w:color="000000"/></w:pBdr>` +
		`<w:tabs><w:tab w:val="right" w:pos="8840"/></w:tabs></w:pPr><w:r><w:rPr>` + size(28) + `</w:rPr><w:t xml:space="preserve">` + esc(org) +
		`</w:t></w:r><w:r><w:rPr>` + size(28) + `</w:rPr><w:tab/><w:t xml:space="preserve">` + esc(is.DateText()+"印发") + `</w:t></w:r></w:p>`)
	// A4, official margins (top 37 mm, bottom 35 mm, left 28 mm, right 26 mm), header and footer.
	b.WriteString(`<w:sectPr><w:headerReference w:type="default" r:id="rId2"/><w:footerReference w:type="default" r:id="rId3"/>` +
		`<w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="992" w:gutter="0"/>` +
		`</w:sectPr></w:body></w:document>`)
	return b.String()
}
