package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Archive opens an Office Open XML file with the archive limits applied to its directory:
// too many entries, a part whose declared inflated size is over MaxPart, a total over
// MaxUnpacked or a declared ratio over MaxRatio (above 1 MiB) is a zip bomb and refused before
// anything is inflated. Reads through Part are limited again, as declared sizes can lie.
type Archive struct {
	zr    *zip.Reader
	lim   Limits
	read  int64
	files map[string]*zip.File
}

// OpenArchive checks the archive directory of r (size bytes).
func OpenArchive(r io.ReaderAt, size int64, lim Limits) (*Archive, error) {
	lim.defaults()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, unreadable("文件不是完整的 Office 文档（压缩包已损坏或不完整）")
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, unreadable("压缩包内文件过多（%d 个，上限 %d）", len(zr.File), lim.MaxEntries)
	}
	a := &Archive{zr: zr, lim: lim, files: make(map[string]*zip.File, len(zr.File))}
	var total uint64
	for _, f := range zr.File {
		if f.Flags&0x1 != 0 {
			return nil, unreadable("文件受密码保护（压缩包已加密），请去除密码后再上传")
		}
		u, c := f.UncompressedSize64, f.CompressedSize64
		total += u
		if u > uint64(lim.MaxPart) || total > uint64(lim.MaxUnpacked) { // #nosec G115 -- limits are positive
			return nil, unreadable("疑似压缩炸弹：解压后大小超过上限（%d MB）", lim.MaxUnpacked>>20)
		}
		if u > 1<<20 && (c == 0 || u/c > uint64(lim.MaxRatio)) { // #nosec G115 -- limits are positive
			return nil, unreadable("疑似压缩炸弹：压缩比异常（%s 约 %d 倍）", path.Base(f.Name), u/max(c, 1))
		}
		a.files[f.Name] = f
	}
	return a, nil
}

// Has reports whether the archive holds the part name.
func (a *Archive) Has(name string) bool { _, ok := a.files[name]; return ok }

// Names lists the parts under prefix, sorted by the number in their name (slide2 before slide10).
func (a *Archive) Names(prefix, suffix string) []string {
	var out []string
	for n := range a.files {
		if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) && !strings.Contains(n[len(prefix):], "/") {
			out = append(out, n)
		}
	}
	num := func(s string) int {
		d := strings.TrimSuffix(strings.TrimPrefix(s, prefix), suffix)
		d = strings.TrimLeft(d, "abcdefghijklmnopqrstuvwxyz")
		n, _ := strconv.Atoi(d)
		return n
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := num(out[i]), num(out[j]); a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// Part returns the inflated bytes of a part, within the limits.
func (a *Archive) Part(name string) ([]byte, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, unreadable("文档缺少 %s", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, unreadable("文档已损坏（%s 无法解压）", name)
	}
	defer rc.Close()
	room := min(a.lim.MaxPart, a.lim.MaxUnpacked-a.read)
	b, err := io.ReadAll(io.LimitReader(rc, room+1))
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, unreadable("文档已损坏或不完整（%s）", name)
		}
		return nil, unreadable("文档已损坏（%s：%v）", name, err)
	}
	if int64(len(b)) > room {
		return nil, unreadable("疑似压缩炸弹：%s 解压后超过上限", name)
	}
	a.read += int64(len(b))
	return b, nil
}

func officeFile(p, mime string, lim Limits) (Result, error) {
	data, err := readFile(p)
	if err != nil {
		return Result{}, err
	}
	a, err := OpenArchive(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return Result{}, err
	}
	switch mime {
	case MIMEDOCX:
		return docx(a)
	case MIMEPPTX:
		return pptx(a)
	default:
		return xlsx(a, lim)
	}
}

// paragraphs walks WordprocessingML or DrawingML: text runs (w:t, a:t), tabs and breaks,
// one paragraph per w:p or a:p.
func paragraphs(b []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var (
		paras []string
		cur   strings.Builder
		inT   bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, unreadable("文档内容已损坏（XML 无法解析）")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inT = true
			case "tab":
				cur.WriteByte('\t')
			case "br", "cr":
				cur.WriteByte('\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "p":
				paras = append(paras, cur.String())
				cur.Reset()
			}
		case xml.CharData:
			if inT {
				cur.Write(t)
			}
		}
	}
	if cur.Len() > 0 {
		paras = append(paras, cur.String())
	}
	return paras, nil
}

func docx(a *Archive) (Result, error) {
	if !a.Has("word/document.xml") {
		return Result{}, unreadable("不是有效的 Word 文档（缺少 word/document.xml）")
	}
	var text, htm strings.Builder
	for _, part := range append([]string{"word/document.xml"}, append(a.Names("word/header", ".xml"), append(a.Names("word/footnotes", ".xml"), a.Names("word/footer", ".xml")...)...)...) {
		b, err := a.Part(part)
		if err != nil {
			return Result{}, err
		}
		ps, err := paragraphs(b)
		if err != nil {
			return Result{}, err
		}
		for _, p := range ps {
			if strings.TrimSpace(p) == "" {
				continue
			}
			text.WriteString(p)
			text.WriteByte('\n')
			if part == "word/document.xml" {
				htm.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
			}
		}
	}
	return Result{Text: text.String(), HTML: htm.String(), Pages: 1, Method: MethodText}, nil
}

func pptx(a *Archive) (Result, error) {
	if !a.Has("ppt/presentation.xml") {
		return Result{}, unreadable("不是有效的 PowerPoint 演示文稿（缺少 ppt/presentation.xml）")
	}
	slides := a.Names("ppt/slides/slide", ".xml")
	var text, htm strings.Builder
	for i, s := range slides {
		b, err := a.Part(s)
		if err != nil {
			return Result{}, err
		}
		ps, err := paragraphs(b)
		if err != nil {
			return Result{}, err
		}
		fmt.Fprintf(&htm, "<section><h3>第 %d 页</h3>\n", i+1)
		for _, p := range ps {
			if strings.TrimSpace(p) == "" {
				continue
			}
			text.WriteString(p)
			text.WriteByte('\n')
			htm.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
		}
		htm.WriteString("</section>\n")
	}
	return Result{Text: text.String(), HTML: htm.String(), Pages: len(slides), Method: MethodText}, nil
}

// xlsx reads the shared strings, the sheet names and each sheet's cells (shared, inline and
// literal values), row by row.
func xlsx(a *Archive, lim Limits) (Result, error) {
	if !a.Has("xl/workbook.xml") {
		return Result{}, unreadable("不是有效的 Excel 工作簿（缺少 xl/workbook.xml）")
	}
	var shared []string
	if a.Has("xl/sharedStrings.xml") {
		b, err := a.Part("xl/sharedStrings.xml")
		if err != nil {
			return Result{}, err
		}
		shared, err = sharedStrings(b)
		if err != nil {
			return Result{}, err
		}
	}
	wb, err := a.Part("xl/workbook.xml")
	if err != nil {
		return Result{}, err
	}
	var names []string
	d := xml.NewDecoder(bytes.NewReader(wb))
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sheet" {
			for _, at := range se.Attr {
				if at.Name.Local == "name" {
					names = append(names, at.Value)
				}
			}
		}
	}
	sheets := a.Names("xl/worksheets/sheet", ".xml")
	var text, htm strings.Builder
	cells := 0
	for i, s := range sheets {
		b, err := a.Part(s)
		if err != nil {
			return Result{}, err
		}
		rows, err := sheetRows(b, shared)
		if err != nil {
			return Result{}, err
		}
		name := fmt.Sprintf("工作表 %d", i+1)
		if i < len(names) {
			name = names[i]
		}
		text.WriteString(name + "\n")
		fmt.Fprintf(&htm, "<h3>%s</h3>\n<table>\n", html.EscapeString(name))
		for _, r := range rows {
			text.WriteString(strings.Join(r, "\t") + "\n")
			if cells < lim.MaxPreviewCells {
				htm.WriteString("<tr>")
				for _, c := range r {
					htm.WriteString("<td>" + html.EscapeString(c) + "</td>")
				}
				htm.WriteString("</tr>\n")
				cells += len(r)
			}
		}
		htm.WriteString("</table>\n")
	}
	return Result{Text: text.String(), HTML: htm.String(), Pages: len(sheets), Method: MethodText}, nil
}

func sharedStrings(b []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var (
		out []string
		cur strings.Builder
		inT bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, unreadable("工作簿已损坏（共享字符串无法解析）")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "t" {
				inT = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "si":
				out = append(out, cur.String())
				cur.Reset()
			}
		case xml.CharData:
			if inT {
				cur.Write(t)
			}
		}
	}
}

func sheetRows(b []byte, shared []string) ([][]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var (
		rows    [][]string
		row     []string
		typ     string
		val     strings.Builder
		inV, in bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, unreadable("工作簿已损坏（工作表无法解析）")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row = nil
			case "c":
				typ, in = "", true
				val.Reset()
				for _, at := range t.Attr {
					if at.Name.Local == "t" {
						typ = at.Value
					}
				}
			case "v", "t":
				inV = in
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v", "t":
				inV = false
			case "c":
				v := val.String()
				if typ == "s" {
					if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 && n < len(shared) {
						v = shared[n]
					}
				}
				if strings.TrimSpace(v) != "" {
					row = append(row, v)
				}
				in = false
			case "row":
				if len(row) > 0 {
					rows = append(rows, row)
				}
			}
		case xml.CharData:
			if inV {
				val.Write(t)
			}
		}
	}
}
