package notes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

// Document is one Notes document as exported: identity, version, history and every item. Its
// JSON form (Items, Info) is what the database keeps, and CanonicalHash is computed from exactly
// that form, so the hash of the source and the hash recomputed from the stored rows agree when
// nothing was lost.
type Document struct {
	UNID string
	// Synthetic is set when the export had no noteinfo; UNID is then derived from Raw.
	Synthetic bool
	NoteID    string
	Sequence  int64
	Form      string // the document's form attribute, else its Form item
	Class     string // "document"
	Parent    string // UNID of the parent ($REF), response documents only
	Conflict  bool   // replication or save conflict ($Conflict)
	Info      Info
	Items     []Item
	// Raw is the original DXL of the document element, as read (UTF-8); for a document read
	// through Domino Access Services, its JSON.
	Raw []byte
	// Source is dxl (default) or das.
	Source string
	// InvalidBytes counts bytes of a legacy encoding that could not be decoded (each became
	// U+FFFD); such a document is skipped with the reason, never imported altered.
	InvalidBytes int
	// Files are the attachments and pictures, decoded; Values of type file/picture refer to
	// them by SHA256.
	Files []File

	fileIDs []*int64 // attachments rows of Files, set while importing
	rawSHA  string   // SHA-256 of Raw once a batch stored it durably
}

// Info is the document's noteinfo, $UpdatedBy, $Revisions and element attributes.
type Info struct {
	Attrs     map[string]string `json:"attrs,omitempty"`    // attributes of the document element
	NoteInfo  map[string]string `json:"noteinfo,omitempty"` // created, modified, revised, ... (DXL datetime text)
	UpdatedBy []string          `json:"updatedby,omitempty"`
	Revisions []string          `json:"revisions,omitempty"`
}

// Item is one item: name, flags (the attributes of <item>: summary, names, readers, authors,
// protected, sign, seal, ...), type (the value element: text, textlist, number, numberlist,
// datetime, datetimelist, richtext, rawitemdata, object, ...) and values in order.
type Item struct {
	Name   string            `json:"name"`
	Flags  map[string]string `json:"flags,omitempty"`
	Type   string            `json:"type"`
	Values []Value           `json:"values,omitempty"`
}

// Value is one value of an item. T is the element (text, number, datetime, datetimepair,
// rawitemdata, richtext, file, ...), V its text (numbers and datetimes exactly as exported, with
// their zone), A its attributes (dst, rawitemdata type, file name/host/flags), L the parts of a
// pair or range. Files carry their SHA-256 and size instead of the data; rich text carries its
// DXL markup verbatim (the HTML is derived from it).
type Value struct {
	T      string            `json:"t"`
	V      string            `json:"v,omitempty"`
	A      map[string]string `json:"a,omitempty"`
	L      []string          `json:"l,omitempty"`
	SHA256 string            `json:"sha256,omitempty"`
	Size   *int64            `json:"size,omitempty"`
}

// File is the decoded data of a $FILE object or an embedded picture.
type File struct {
	Kind   string // file or picture
	Name   string
	Item   string
	SHA256 string
	Size   int64
	Data   []byte
}

// Item returns the first item named name (case-insensitive, as Notes compares item names).
func (d *Document) Item(name string) (Item, bool) {
	for _, it := range d.Items {
		if strings.EqualFold(it.Name, name) {
			return it, true
		}
	}
	return Item{}, false
}

// Flag reports whether the item has flag f set to true.
func (it Item) Flag(f string) bool { return it.Flags[f] == "true" }

// Texts returns the item's values as text (text, number, datetime values; names).
func (it Item) Texts() []string {
	var out []string
	for _, v := range it.Values {
		switch v.T {
		case "text", "number", "datetime":
			out = append(out, v.V)
		case "datetimepair":
			out = append(out, strings.Join(v.L, "/"))
		}
	}
	return out
}

// canonical is the part of a document the canonical hash covers.
type canonical struct {
	UNID     string `json:"unid"`
	Sequence int64  `json:"sequence"`
	Class    string `json:"class"`
	Form     string `json:"form"`
	Parent   string `json:"parent,omitempty"`
	Conflict bool   `json:"conflict,omitempty"`
	Info     Info   `json:"info"`
	Items    []Item `json:"items"`
}

// CanonicalHash is the SHA-256 (hex) of the document's canonical JSON: identity, version,
// history, and every item with its name, flags, type and values in order (files by SHA-256).
func CanonicalHash(d *Document) string {
	b, err := json.Marshal(canonical{UNID: d.UNID, Sequence: d.Sequence, Class: d.Class, Form: d.Form,
		Parent: d.Parent, Conflict: d.Conflict, Info: d.Info, Items: d.Items})
	if err != nil {
		panic(err) // only strings, maps and slices: cannot fail
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadersAndAuthors returns the names in Readers items and in Authors items, in document order,
// without duplicates.
func (d *Document) ReadersAndAuthors() (readers, authors []string) {
	for _, it := range d.Items {
		isR, isA := it.Flag("readers"), it.Flag("authors")
		if !isR && !isA {
			continue
		}
		for _, n := range it.Texts() {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			if isR && !slices.Contains(readers, n) {
				readers = append(readers, n)
			}
			if isA && !slices.Contains(authors, n) {
				authors = append(authors, n)
			}
		}
	}
	return readers, authors
}
