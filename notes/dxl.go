package notes

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Namespace is the DXL namespace. Exports carry it on the root element, but some real exports
// (and hand-edited files) have none; the parser accepts both and compares local names only.
const Namespace = "http://www.lotus.com/dxl"

// DatabaseInfo is what a whole-database export says about its database.
type DatabaseInfo struct {
	ReplicaID string
	Path      string
	Title     string
	Namespace string
}

// ACLEntry is one entry of the database ACL: name, level (manager, designer, editor, author,
// reader, depositor, noaccess), the default/anonymous marks, privileges and roles.
type ACLEntry struct {
	Name  string            `json:"name"`
	Level string            `json:"level"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Roles []string          `json:"roles,omitempty"`
}

// ACL is the database access control list.
type ACL struct {
	Entries []ACLEntry `json:"entries"`
	Roles   []string   `json:"roles,omitempty"`
	// From is the key of the stored database the ACL belongs to (notes_databases.replica_id).
	From string `json:"-"`
}

// Handler receives what the parser finds, in order. Returning an error stops the parse.
type Handler struct {
	Database func(DatabaseInfo) error
	ACL      func(ACL) error
	Document func(*Document) error
	// Design is called for each design note skipped (form, view, agent, ...), by element name.
	Design func(kind string) error
	// Progress is called after each top-level element with the bytes read so far.
	Progress func(offset int64)
}

// ErrNotDXL means the input's root element is not a DXL database, document or note.
var ErrNotDXL = errors.New("not a DXL export")

// recorder feeds the XML decoder byte by byte (it is an io.ByteReader, so the decoder does not
// add its own buffer) and keeps the bytes read since the last mark, so the parser can cut out
// the original text of each document while streaming: memory is bounded by one document.
type recorder struct {
	r    *bufio.Reader
	pos  int64  // bytes read
	base int64  // offset of buf[0]
	buf  []byte // bytes since base
	on   bool
	last byte // the last byte read, recorded or not
}

func (r *recorder) ReadByte() (byte, error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return b, err
	}
	r.pos++
	r.last = b
	if r.on {
		r.buf = append(r.buf, b)
	}
	return b, nil
}

func (r *recorder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// mark starts recording at absolute offset at (which is at most one byte behind pos: the
// decoder holds back at most one byte).
func (r *recorder) mark(at int64) {
	if cap(r.buf) > 1<<20 { // do not keep a huge buffer from a large document
		r.buf = nil
	}
	r.buf = r.buf[:0]
	if r.pos-at == 1 { // the byte the decoder holds back belongs to what comes next
		r.buf = append(r.buf, r.last)
	}
	r.base = r.pos - int64(len(r.buf))
	r.on = true
}

func (r *recorder) slice(from, to int64) []byte {
	if from < r.base || to > r.base+int64(len(r.buf)) || from > to {
		return nil
	}
	return r.buf[from-r.base : to-r.base]
}

var declEncoding = regexp.MustCompile(`(?s)^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// decodeInput returns a UTF-8 reader for r according to its XML declaration. GBK, GB2312 and
// GB18030 are decoded with GB18030 (a superset of both); other labels through the WHATWG index.
// legacy reports whether a transcoding happens, and with it U+FFFD in the output marks an
// invalid input byte.
func decodeInput(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	m := declEncoding.FindSubmatch(head)
	if m == nil {
		return br, false, nil
	}
	label := strings.ToLower(string(m[1]))
	var enc encoding.Encoding
	switch label {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return br, false, nil
	case "gbk", "gb2312", "gb18030", "cp936", "x-gbk", "euc-cn":
		enc = simplifiedchinese.GB18030
	default:
		var err error
		enc, err = htmlindex.Get(label)
		if err != nil {
			return nil, false, fmt.Errorf("notes: unsupported encoding %q in the XML declaration", label)
		}
	}
	return transform.NewReader(br, enc.NewDecoder()), true, nil
}

// Parse streams a DXL export (a whole database, or a single document or note) and calls h for
// each part. Design notes are skipped and reported; documents are returned one at a time with
// their original DXL, so an export of any size is read with memory bounded by one document.
func Parse(in io.Reader, h Handler) error {
	r, legacy, err := decodeInput(in)
	if err != nil {
		return err
	}
	rec := &recorder{r: bufio.NewReaderSize(r, 64<<10)}
	dec := xml.NewDecoder(rec)
	dec.Strict = true
	// The input is UTF-8 by now; the declaration may still name its original encoding.
	dec.CharsetReader = func(_ string, input io.Reader) (io.Reader, error) { return input, nil }
	p := &parser{dec: dec, rec: rec, h: h, legacy: legacy}
	return p.run()
}

type parser struct {
	dec    *xml.Decoder
	rec    *recorder
	h      Handler
	legacy bool
}

func (p *parser) token() (xml.Token, error) {
	t, err := p.dec.Token()
	if err == io.EOF {
		return nil, fmt.Errorf("notes: DXL ends early (offset %d): %w", p.dec.InputOffset(), io.ErrUnexpectedEOF)
	}
	if err != nil {
		line, col := p.dec.InputPos()
		return nil, fmt.Errorf("notes: DXL is not well-formed at line %d, column %d: %w", line, col, err)
	}
	return t, nil
}

func (p *parser) run() error {
	// Find the root element.
	for {
		at := p.dec.InputOffset()
		p.rec.mark(at)
		t, err := p.dec.Token()
		if err == io.EOF {
			return fmt.Errorf("notes: %w: no root element", ErrNotDXL)
		}
		if err != nil {
			line, col := p.dec.InputPos()
			return fmt.Errorf("notes: DXL is not well-formed at line %d, column %d: %w", line, col, err)
		}
		se, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "database":
			return p.database(se)
		case "document":
			return p.single(se, at)
		case "note":
			if attr(se, "class") == "document" {
				return p.single(se, at)
			}
			if p.h.Design != nil {
				if err := p.h.Design(attr(se, "class")); err != nil {
					return err
				}
			}
			return p.dec.Skip()
		}
		return fmt.Errorf("notes: %w: root element <%s>", ErrNotDXL, se.Name.Local)
	}
}

func (p *parser) single(se xml.StartElement, at int64) error {
	d, err := p.document(se, at)
	if err != nil {
		return err
	}
	if p.h.Document != nil {
		if err := p.h.Document(d); err != nil {
			return err
		}
	}
	if p.h.Progress != nil {
		p.h.Progress(p.dec.InputOffset())
	}
	return nil
}

func (p *parser) database(root xml.StartElement) error {
	if p.h.Database != nil {
		if err := p.h.Database(DatabaseInfo{ReplicaID: attr(root, "replicaid"), Path: attr(root, "path"),
			Title: attr(root, "title"), Namespace: root.Name.Space}); err != nil {
			return err
		}
	}
	for {
		at := p.dec.InputOffset()
		p.rec.mark(at)
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return nil // </database>
		case xml.StartElement:
			switch {
			case t.Name.Local == "acl":
				acl, err := p.acl(t)
				if err != nil {
					return err
				}
				if p.h.ACL != nil {
					if err := p.h.ACL(acl); err != nil {
						return err
					}
				}
			case t.Name.Local == "document" || (t.Name.Local == "note" && attr(t, "class") == "document"):
				d, err := p.document(t, at)
				if err != nil {
					return err
				}
				if p.h.Document != nil {
					if err := p.h.Document(d); err != nil {
						return err
					}
				}
			case t.Name.Local == "databaseinfo" || t.Name.Local == "launchsettings" || t.Name.Local == "icon" ||
				t.Name.Local == "fulltextsettings" || t.Name.Local == "helpaboutdocument" || t.Name.Local == "helpusingdocument":
				p.rec.on = false
				if err := p.dec.Skip(); err != nil {
					return err
				}
			default: // design notes: forms, views, agents, pages, resources, ...
				p.rec.on = false
				if p.h.Design != nil {
					kind := t.Name.Local
					if kind == "note" {
						kind = "note:" + attr(t, "class")
					}
					if err := p.h.Design(kind); err != nil {
						return err
					}
				}
				if err := p.dec.Skip(); err != nil {
					return fmt.Errorf("notes: skip <%s>: %w", t.Name.Local, err)
				}
			}
			if p.h.Progress != nil {
				p.h.Progress(p.dec.InputOffset())
			}
		}
	}
}

func (p *parser) acl(se xml.StartElement) (ACL, error) {
	p.rec.on = false
	var x struct {
		Entries []struct {
			Attrs []xml.Attr `xml:",any,attr"`
			Roles []string   `xml:"role"`
		} `xml:"aclentry"`
		Roles []string `xml:"role"`
	}
	if err := p.dec.DecodeElement(&x, &se); err != nil {
		return ACL{}, fmt.Errorf("notes: read ACL: %w", err)
	}
	var acl ACL
	acl.Roles = x.Roles
	for _, e := range x.Entries {
		en := ACLEntry{Attrs: map[string]string{}, Roles: e.Roles}
		for _, a := range e.Attrs {
			switch a.Name.Local {
			case "name":
				en.Name = a.Value
			case "level":
				en.Level = a.Value
			default:
				en.Attrs[a.Name.Local] = a.Value
			}
		}
		acl.Entries = append(acl.Entries, en)
	}
	return acl, nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func attrs(se xml.StartElement, skip ...string) map[string]string {
	var m map[string]string
outer:
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		for _, s := range skip {
			if a.Name.Local == s {
				continue outer
			}
		}
		if m == nil {
			m = map[string]string{}
		}
		m[a.Name.Local] = a.Value
	}
	return m
}

// document reads one document element whose start tag began at offset at.
func (p *parser) document(se xml.StartElement, at int64) (*Document, error) {
	d := &Document{Class: "document", Form: attr(se, "form")}
	d.Info.Attrs = attrs(se)
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			d.Raw = bytes.Clone(p.rec.slice(at, p.dec.InputOffset()))
			if d.Raw == nil {
				return nil, fmt.Errorf("notes: document %s: lost its original text", d.UNID)
			}
			if p.legacy {
				d.InvalidBytes = bytes.Count(d.Raw, []byte("\uFFFD"))
			}
			if d.Form == "" {
				if it, ok := d.Item("Form"); ok && len(it.Texts()) > 0 {
					d.Form = it.Texts()[0]
				}
			}
			if d.Parent == "" {
				d.Parent = attr(se, "parent")
			}
			if d.UNID == "" {
				// Exported without noteinfo: identity from the document's own text, so a
				// re-import finds the same record.
				s := sha256.Sum256(d.Raw)
				d.UNID = strings.ToUpper(hex.EncodeToString(s[:16]))
				d.Synthetic = true
			}
			return d, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "noteinfo":
				if err := p.noteinfo(d, t); err != nil {
					return nil, err
				}
			case "updatedby":
				names, err := p.names(t)
				if err != nil {
					return nil, err
				}
				d.Info.UpdatedBy = names
			case "revisions":
				ds, err := p.names(t)
				if err != nil {
					return nil, err
				}
				d.Info.Revisions = ds
			case "item":
				it, err := p.item(d, t)
				if err != nil {
					return nil, err
				}
				d.Items = append(d.Items, it)
				switch strings.ToLower(it.Name) {
				case "$ref":
					if u := refUNID(it); u != "" {
						d.Parent = u
					}
				case "$conflict":
					d.Conflict = true
				}
			default:
				// Elements of a document other than items (textproperties, ...): kept in Raw.
				if err := p.dec.Skip(); err != nil {
					return nil, err
				}
			}
		}
	}
}

func (p *parser) noteinfo(d *Document, se xml.StartElement) error {
	d.UNID = strings.ToUpper(attr(se, "unid"))
	d.NoteID = attr(se, "noteid")
	if s := attr(se, "sequence"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("notes: document %s: bad sequence %q", d.UNID, s)
		}
		d.Sequence = n
	}
	d.Info.NoteInfo = attrs(se, "unid", "noteid", "sequence")
	if d.NoteID != "" {
		if d.Info.NoteInfo == nil {
			d.Info.NoteInfo = map[string]string{}
		}
		d.Info.NoteInfo["noteid"] = d.NoteID
	}
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			txt, err := p.innerText(t)
			if err != nil {
				return err
			}
			if d.Info.NoteInfo == nil {
				d.Info.NoteInfo = map[string]string{}
			}
			d.Info.NoteInfo[t.Name.Local] = strings.TrimSpace(txt)
		}
	}
}

// names reads the text of each child of se (updatedby names, revisions datetimes).
func (p *parser) names(se xml.StartElement) ([]string, error) {
	out := []string{}
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return out, nil
		case xml.StartElement:
			txt, err := p.innerText(t)
			if err != nil {
				return nil, err
			}
			out = append(out, txt)
		}
	}
}

// innerText returns the character data inside se (nested elements included) and consumes it.
func (p *parser) innerText(se xml.StartElement) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		t, err := p.token()
		if err != nil {
			return "", err
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

func (p *parser) item(d *Document, se xml.StartElement) (Item, error) {
	it := Item{Name: attr(se, "name"), Flags: attrs(se, "name")}
	for {
		t, err := p.token()
		if err != nil {
			return it, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			if it.Type == "" {
				it.Type = "empty"
			}
			return it, nil
		case xml.StartElement:
			if it.Type != "" {
				// Notes items have one value element; a second is kept as another value.
				it.Type += "+" + t.Name.Local
			} else {
				it.Type = t.Name.Local
			}
			if err := p.value(d, &it, t); err != nil {
				return it, fmt.Errorf("notes: document %s item %q: %w", d.UNID, it.Name, err)
			}
		}
	}
}

func (p *parser) value(d *Document, it *Item, se xml.StartElement) error {
	switch se.Name.Local {
	case "textlist", "numberlist", "datetimelist":
		for {
			t, err := p.token()
			if err != nil {
				return err
			}
			switch t := t.(type) {
			case xml.EndElement:
				return nil
			case xml.StartElement:
				if err := p.value(d, it, t); err != nil {
					return err
				}
			}
		}
	case "datetimepair", "datetimerange":
		v := Value{T: se.Name.Local, A: attrs(se), L: []string{}}
		for {
			t, err := p.token()
			if err != nil {
				return err
			}
			switch t := t.(type) {
			case xml.EndElement:
				it.Values = append(it.Values, v)
				return nil
			case xml.StartElement:
				txt, err := p.innerText(t)
				if err != nil {
					return err
				}
				v.L = append(v.L, t.Name.Local+"="+txt)
			}
		}
	case "rawitemdata":
		txt, err := p.innerText(se)
		if err != nil {
			return err
		}
		it.Values = append(it.Values, Value{T: "rawitemdata", V: stripSpace(txt), A: attrs(se)})
		return nil
	case "richtext":
		start := p.dec.InputOffset()
		var end int64
		var files []File
		depth := 1
		for depth > 0 {
			end = p.dec.InputOffset()
			t, err := p.token()
			if err != nil {
				return err
			}
			switch t := t.(type) {
			case xml.StartElement:
				if kind := pictureKind(t.Name.Local); kind != "" {
					// picture data: decode and hash; the markup keeps it verbatim too
					txt, err := p.innerText(t)
					if err != nil {
						return err
					}
					data, err := decodeB64(txt)
					if err != nil {
						return fmt.Errorf("picture: %w", err)
					}
					files = append(files, newFile("picture", kind, it.Name, data))
					continue
				}
				depth++
			case xml.EndElement:
				depth--
			}
		}
		raw := p.rec.slice(start, end)
		v := Value{T: "richtext", V: string(raw)}
		it.Values = append(it.Values, v)
		d.Files = append(d.Files, files...)
		return nil
	case "object":
		for {
			t, err := p.token()
			if err != nil {
				return err
			}
			switch t := t.(type) {
			case xml.EndElement:
				return nil
			case xml.StartElement:
				if t.Name.Local != "file" {
					txt, err := p.innerText(t)
					if err != nil {
						return err
					}
					it.Values = append(it.Values, Value{T: "object:" + t.Name.Local, V: stripSpace(txt), A: attrs(t)})
					continue
				}
				if err := p.file(d, it, t); err != nil {
					return err
				}
			}
		}
	default: // text, number, datetime, formula, and any other simple value element
		txt, err := p.innerText(se)
		if err != nil {
			return err
		}
		it.Values = append(it.Values, Value{T: se.Name.Local, V: txt, A: attrs(se)})
		return nil
	}
}

func (p *parser) file(d *Document, it *Item, se xml.StartElement) error {
	v := Value{T: "file", A: attrs(se)}
	name := attr(se, "name")
	var data []byte
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			f := newFile("file", name, it.Name, data)
			v.SHA256, v.Size = f.SHA256, &f.Size
			it.Values = append(it.Values, v)
			d.Files = append(d.Files, f)
			return nil
		case xml.StartElement:
			txt, err := p.innerText(t)
			if err != nil {
				return err
			}
			if t.Name.Local == "filedata" {
				data, err = decodeB64(txt)
				if err != nil {
					return fmt.Errorf("file %q: %w", name, err)
				}
				continue
			}
			if v.A == nil {
				v.A = map[string]string{}
			}
			v.A[t.Name.Local] = strings.TrimSpace(txt) // created, modified of the file
		}
	}
}

func newFile(kind, name, item string, data []byte) File {
	s := sha256.Sum256(data)
	return File{Kind: kind, Name: name, Item: item, SHA256: hex.EncodeToString(s[:]), Size: int64(len(data)), Data: data}
}

func pictureKind(local string) string {
	switch local {
	case "gif", "jpeg", "png", "bmp":
		return local
	}
	return ""
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}

func decodeB64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(stripSpace(s))
}

// refUNID decodes the parent UNID of a $REF item: text, or rawitemdata holding a list of one
// UNID (a 2-byte count, then the File and Note TIMEDATEs of the UNID, little-endian DWORDs).
func refUNID(it Item) string {
	for _, v := range it.Values {
		switch v.T {
		case "text":
			if u := strings.ToUpper(strings.TrimSpace(v.V)); len(u) == 32 {
				return u
			}
		case "rawitemdata":
			b, err := base64.StdEncoding.DecodeString(v.V)
			if err != nil || len(b) < 18 {
				continue
			}
			b = b[2:]
			dw := func(i int) string {
				return fmt.Sprintf("%02X%02X%02X%02X", b[i+3], b[i+2], b[i+1], b[i])
			}
			return dw(4) + dw(0) + dw(12) + dw(8)
		}
	}
	return ""
}
