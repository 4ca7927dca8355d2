package notes

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"infowork/label"
	"infowork/submission"
)

//go:embed mapping.default.json
var defaultMapping []byte

// Fields names, per infowork field, the Notes items to take it from, first present wins.
type Fields struct {
	Title          []string `json:"title,omitempty"`
	Body           []string `json:"body,omitempty"`
	Unit           []string `json:"unit,omitempty"`
	ReportedAt     []string `json:"reported_at,omitempty"`
	Category       []string `json:"category,omitempty"`
	Writer         []string `json:"writer,omitempty"`
	Urgency        []string `json:"urgency,omitempty"`
	Classification []string `json:"classification,omitempty"`
}

// Mapping is the operator-editable file that maps Notes items onto infowork records. Items not
// mapped are kept all the same (notes_documents.items); the mapping only decides what the record
// shows, searches and filters by.
type Mapping struct {
	// DefaultUnit is the unit code of records whose unit item is missing or unknown.
	DefaultUnit string `json:"default_unit"`
	// DefaultClassification of records without a classification item (public, internal, ...).
	DefaultClassification string `json:"default_classification"`
	// Forms maps a form name to its fields; "*" applies to every form, per field.
	Forms map[string]Fields `json:"forms"`
	// Units, Categories, Urgencies, Classifications translate item values to infowork codes.
	Units           map[string]string `json:"units,omitempty"`
	Categories      map[string]string `json:"categories,omitempty"`
	Urgencies       map[string]string `json:"urgencies,omitempty"`
	Classifications map[string]string `json:"classifications,omitempty"`
	// Names maps Notes names (canonical or abbreviated user names, groups, [roles]) to infowork
	// principals: user:NAME, unit:CODE or role:ROLE. A name without a mapping becomes the
	// principal notes:NAME, which no one holds: it can only restrict, never grant.
	Names map[string]string `json:"names,omitempty"`
}

// DefaultMapping returns the built-in mapping (notes/mapping.default.json).
func DefaultMapping() *Mapping {
	m, err := parseMapping(defaultMapping)
	if err != nil {
		panic(err)
	}
	return m
}

// LoadMapping reads a mapping file; fields it leaves out keep the defaults.
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- operator-supplied mapping file
	if err != nil {
		return nil, fmt.Errorf("notes: read mapping: %w", err)
	}
	m, err := parseMapping(b)
	if err != nil {
		return nil, fmt.Errorf("notes: mapping %s: %w", path, err)
	}
	return m, nil
}

func parseMapping(b []byte) (*Mapping, error) {
	m := &Mapping{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, err
	}
	if m.DefaultUnit == "" {
		return nil, fmt.Errorf("default_unit is required")
	}
	if m.DefaultClassification == "" {
		m.DefaultClassification = "public"
	}
	if _, err := label.Parse(m.DefaultClassification); err != nil {
		return nil, fmt.Errorf("default_classification: %w", err)
	}
	for k, v := range m.Urgencies {
		if submission.UrgencyName(v) == "" {
			return nil, fmt.Errorf("urgencies[%q] = %q: want normal, urgent or very_urgent", k, v)
		}
	}
	for k, v := range m.Classifications {
		if _, err := label.Parse(v); err != nil {
			return nil, fmt.Errorf("classifications[%q] = %q: %w", k, v, err)
		}
	}
	for k, v := range m.Names {
		if !validPrincipal(v) {
			return nil, fmt.Errorf("names[%q] = %q: want user:NAME, unit:CODE or role:ROLE", k, v)
		}
	}
	return m, nil
}

func validPrincipal(p string) bool {
	kind, rest, ok := strings.Cut(p, ":")
	return ok && rest != "" && (kind == "user" || kind == "unit" || kind == "role")
}

func (m *Mapping) fields(form string) Fields {
	f := m.Forms["*"]
	if ff, ok := m.Forms[form]; ok {
		pick := func(a, b []string) []string {
			if len(a) > 0 {
				return a
			}
			return b
		}
		f = Fields{Title: pick(ff.Title, f.Title), Body: pick(ff.Body, f.Body), Unit: pick(ff.Unit, f.Unit),
			ReportedAt: pick(ff.ReportedAt, f.ReportedAt), Category: pick(ff.Category, f.Category),
			Writer: pick(ff.Writer, f.Writer), Urgency: pick(ff.Urgency, f.Urgency),
			Classification: pick(ff.Classification, f.Classification)}
	}
	return f
}

// Record is what a document maps to: the submissions columns.
type Record struct {
	Title          string
	BodyHTML       string // with picture/attachment placeholders (see richtext.go) until stored
	UnitCode       string // "" means the default unit
	CategoryCode   string
	Urgency        string
	Classification label.Level
	WriterName     string
	ReportedAt     time.Time
	Notes          []string // explanations: fields that fell back to defaults
}

func first(d *Document, names []string) (Item, bool) {
	for _, n := range names {
		if it, ok := d.Item(n); ok && (len(it.Values) > 0) {
			return it, true
		}
	}
	return Item{}, false
}

func firstText(d *Document, names []string) string {
	if it, ok := first(d, names); ok {
		for _, t := range it.Texts() {
			if t = strings.TrimSpace(t); t != "" {
				return t
			}
		}
	}
	return ""
}

// Map applies the mapping to a document.
func (m *Mapping) Map(d *Document) Record {
	f := m.fields(d.Form)
	r := Record{Urgency: submission.UrgencyNormal}
	r.Title = strings.Join(strings.Fields(firstText(d, f.Title)), " ")
	if r.Title == "" {
		r.Title = "Notes 文档 " + strings.TrimSpace(d.Form+" "+d.UNID)
		r.Notes = append(r.Notes, "no title item: title made from form and UNID")
	}
	if utf8.RuneCountInString(r.Title) > submission.MaxTitleRunes {
		r.Title = string([]rune(r.Title)[:submission.MaxTitleRunes-1]) + "…"
		r.Notes = append(r.Notes, "title shortened to 200 characters")
	}
	if d.Conflict {
		r.Title = truncRunes("【复制冲突】"+r.Title, submission.MaxTitleRunes)
	}
	if it, ok := first(d, f.Body); ok {
		r.BodyHTML = itemHTML(it)
	}
	if strings.TrimSpace(r.BodyHTML) == "" {
		r.BodyHTML = summaryHTML(d)
	}
	if u := firstText(d, f.Unit); u != "" {
		if code, ok := m.Units[u]; ok {
			r.UnitCode = code
		} else {
			r.UnitCode = u
		}
	}
	if c := firstText(d, f.Category); c != "" {
		r.CategoryCode = m.Categories[c]
	}
	if u := firstText(d, f.Urgency); u != "" {
		if v, ok := m.Urgencies[u]; ok {
			r.Urgency = v
		}
	}
	lv, _ := label.Parse(m.DefaultClassification)
	if c := firstText(d, f.Classification); c != "" {
		if v, ok := m.Classifications[c]; ok {
			c = v
		}
		if l, err := label.Parse(c); err == nil {
			lv = l
		}
	}
	r.Classification = lv
	r.WriterName = truncRunes(abbreviate(firstText(d, f.Writer)), 50)
	if r.WriterName == "" && len(d.Info.UpdatedBy) > 0 {
		r.WriterName = truncRunes(abbreviate(d.Info.UpdatedBy[0]), 50)
	}
	if t, ok := ParseTime(firstText(d, f.ReportedAt)); ok {
		r.ReportedAt = t
	} else if t, ok := ParseTime(d.Info.NoteInfo["created"]); ok {
		r.ReportedAt = t
	} else if t, ok := ParseTime(d.Info.NoteInfo["modified"]); ok {
		r.ReportedAt = t
	}
	return r
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// abbreviate turns a canonical Notes name (CN=Eric BREHAULT/O=Acme) into its abbreviated form
// (Eric BREHAULT/Acme).
func abbreviate(n string) string {
	parts := strings.Split(n, "/")
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok && len(k) <= 2 {
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}

// ParseTime reads a DXL datetime: 20090527T095547,45+02 (date, time with hundredths, zone in
// hours, optionally :mm), a date alone (20090527) or a time alone is not a point in time.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 8 {
		return time.Time{}, false
	}
	if len(s) == 8 {
		t, err := time.Parse("20060102", s)
		return t, err == nil
	}
	date, rest, ok := strings.Cut(s, "T")
	if !ok || len(date) != 8 || len(rest) < 6 {
		if t, err := time.Parse(time.RFC3339, s); err == nil { // DAS
			return t, true
		}
		return time.Time{}, false
	}
	clock := rest[:6]
	rest = rest[6:]
	frac := ""
	if strings.HasPrefix(rest, ",") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		frac, rest = rest[1:i], rest[i:]
	}
	zone := "Z"
	if rest != "" {
		sign, hm := rest[:1], rest[1:]
		h, m, _ := strings.Cut(hm, ":")
		if len(h) == 1 {
			h = "0" + h
		}
		if m == "" {
			m = "00"
		}
		zone = sign + h + ":" + m
	}
	v := date[:4] + "-" + date[4:6] + "-" + date[6:] + "T" + clock[:2] + ":" + clock[2:4] + ":" + clock[4:]
	if frac != "" {
		v += "." + frac
	}
	t, err := time.Parse(time.RFC3339Nano, v+zone)
	return t, err == nil
}

// DefaultMappingJSON returns the built-in mapping file, for the operator to copy and edit.
func DefaultMappingJSON() []byte { return append([]byte(nil), defaultMapping...) }
