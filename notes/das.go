package notes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Domino Access Services (DAS) data API, as documented for Domino 8.5.3 UP1 – 9.0.1 (IBM
// "Document collection GET", "Document GET"; see docs/notes-migration.md for the sources):
//
//	GET /{database}/api/data/documents[?since=ISO8601][&ps=N&page=P]
//	  → 200 [{"@href": "...", "@unid": "...", "@modified": "..."}, ...]
//	    Content-Range: items 0-9/42 when paging
//	GET /{database}/api/data/documents/unid/{unid}
//	  → 200 {"@unid", "@noteid", "@created", "@modified", "@form", "@parentid"?, field: value, ...}
//
// The next since is the server's time of the previous answer (its Date header), never the local
// clock, so a skewed or paused poller cannot skip changes.

// ErrAuth means DAS refused the credentials (401 or 403).
var ErrAuth = errors.New("notes: DAS refused the credentials")

// DASOptions configure the DAS client.
type DASOptions struct {
	BaseURL  string // https://domino.example.gov.cn
	Database string // path of the database, e.g. xxgl/info.nsf
	Username string
	Password string
	PageSize int // default 100
	Client   *http.Client
	// AllowPlainHTTP permits credentials over http (tests, loopback); otherwise https is required.
	AllowPlainHTTP bool
}

// DASClient reads a database through DAS.
type DASClient struct {
	o DASOptions
}

// NewDASClient checks the options.
func NewDASClient(o DASOptions) (*DASClient, error) {
	if o.BaseURL == "" || o.Database == "" {
		return nil, errors.New("notes: DAS base URL and database are required")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("notes: DAS base URL %q: want http(s)://host", o.BaseURL)
	}
	if u.Scheme == "http" && o.Username != "" && !o.AllowPlainHTTP {
		return nil, errors.New("notes: DAS credentials over plain http are refused; use https (or AllowPlainHTTP for a test or loopback stand-in)")
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: time.Minute}
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	o.Database = strings.Trim(o.Database, "/")
	return &DASClient{o: o}, nil
}

// DASEntry is one entry of the document collection.
type DASEntry struct {
	Href     string `json:"@href"`
	UNID     string `json:"@unid"`
	Modified string `json:"@modified"`
}

func (c *DASClient) get(ctx context.Context, path string, q url.Values) (*http.Response, []byte, error) {
	u := c.o.BaseURL + "/" + c.o.Database + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.o.Username != "" {
		req.SetBasicAuth(c.o.Username, c.o.Password)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("notes: DAS %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, nil, fmt.Errorf("notes: DAS %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return resp, nil, fmt.Errorf("notes: DAS %s: %d: %w", path, resp.StatusCode, ErrAuth)
	case resp.StatusCode != http.StatusOK:
		return resp, nil, fmt.Errorf("notes: DAS %s: HTTP %d: %s", path, resp.StatusCode, truncRunes(string(body), 200))
	}
	return resp, body, nil
}

// Changes lists the documents modified since (all documents when since is ""), following the
// pages, and returns the server time of the first answer: the next since.
func (c *DASClient) Changes(ctx context.Context, since string) ([]DASEntry, time.Time, error) {
	var out []DASEntry
	var server time.Time
	seen := map[string]bool{}
	for page := 0; ; page++ {
		q := url.Values{"ps": {strconv.Itoa(c.o.PageSize)}, "page": {strconv.Itoa(page)}}
		if since != "" {
			q.Set("since", since)
		}
		resp, body, err := c.get(ctx, "/api/data/documents", q)
		if err != nil {
			return nil, time.Time{}, err
		}
		if page == 0 {
			server, err = http.ParseTime(resp.Header.Get("Date"))
			if err != nil {
				return nil, time.Time{}, fmt.Errorf("notes: DAS answer without a usable Date header: %w", err)
			}
		}
		var entries []DASEntry
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &entries); err != nil {
				return nil, time.Time{}, fmt.Errorf("notes: DAS document collection: %w", err)
			}
		}
		fresh := 0
		for _, e := range entries {
			if !seen[e.UNID] {
				seen[e.UNID] = true
				out = append(out, e)
				fresh++
			}
		}
		// A short page ends the list; so does a page with nothing new (a server that ignores
		// ps/page answers the whole list every time).
		if len(entries) < c.o.PageSize || fresh == 0 {
			break
		}
		if _, last, total, ok := contentRange(resp.Header.Get("Content-Range")); ok && last+1 >= total {
			break
		}
	}
	return out, server.UTC(), nil
}

// contentRange parses "items 0-9/42".
func contentRange(h string) (first, last, total int, ok bool) {
	h = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "items"))
	r, t, ok1 := strings.Cut(h, "/")
	a, b, ok2 := strings.Cut(r, "-")
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.Atoi(strings.TrimSpace(a))
	last, err2 = strconv.Atoi(strings.TrimSpace(b))
	total, err3 = strconv.Atoi(strings.TrimSpace(t))
	return first, last, total, err1 == nil && err2 == nil && err3 == nil
}

// Document reads one document and converts it (DocumentFromDAS).
func (c *DASClient) Document(ctx context.Context, unid string) (*Document, error) {
	_, body, err := c.get(ctx, "/api/data/documents/unid/"+url.PathEscape(unid), url.Values{"hidden": {"true"}})
	if err != nil {
		return nil, err
	}
	return DocumentFromDAS(body)
}

// DocumentFromDAS converts a DAS document (JSON) into the item model. DAS gives values, not DXL:
// strings become text, arrays textlist/numberlist, numbers number, ISO 8601 strings datetime,
// rich text ({"type": "multipart", "content": [...]}) richtext holding its HTML part. Item flags
// (Readers, Authors, Names) are not in DAS answers; the importer keeps those of the stored
// version (see keepFlags). There is no sequence number: updates from DAS are ordered by
// @modified. The JSON is kept as the document's original for audit.
func DocumentFromDAS(body []byte) (*Document, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("notes: DAS document: %w", err)
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	d := &Document{Class: "document", UNID: strings.ToUpper(str("@unid")), NoteID: str("@noteid"), Form: str("@form"),
		Parent: strings.ToUpper(str("@parentid")), Raw: bytes.Clone(body), Source: "das"}
	if len(d.UNID) != 32 {
		return nil, fmt.Errorf("notes: DAS document without a valid @unid")
	}
	d.Info.NoteInfo = map[string]string{}
	for _, k := range []string{"created", "modified", "lastaccessed"} {
		if v := str("@" + k); v != "" {
			d.Info.NoteInfo[k] = v
		}
	}
	if v := str("@lastmodified"); v != "" && d.Info.NoteInfo["modified"] == "" {
		d.Info.NoteInfo["modified"] = v
	}
	if d.NoteID != "" {
		d.Info.NoteInfo["noteid"] = d.NoteID
	}
	names := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			names = append(names, k)
		}
	}
	sort.Strings(names) // DAS objects have no item order; name order keeps the hash stable
	for _, k := range names {
		it, err := dasItem(k, m[k])
		if err != nil {
			return nil, fmt.Errorf("notes: DAS document %s item %q: %w", d.UNID, k, err)
		}
		d.Items = append(d.Items, it)
		if strings.EqualFold(k, "$Conflict") {
			d.Conflict = true
		}
	}
	if d.Form == "" {
		if it, ok := d.Item("Form"); ok && len(it.Texts()) > 0 {
			d.Form = it.Texts()[0]
		}
	}
	return d, nil
}

func dasScalar(raw json.RawMessage) (Value, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return Value{}, err
	}
	switch v := v.(type) {
	case string:
		if _, err := time.Parse(time.RFC3339, v); err == nil {
			return Value{T: "datetime", V: v}, nil
		}
		return Value{T: "text", V: v}, nil
	case json.Number:
		return Value{T: "number", V: v.String()}, nil
	case bool:
		return Value{T: "text", V: strconv.FormatBool(v)}, nil
	case nil:
		return Value{T: "text"}, nil
	}
	return Value{T: "json", V: string(raw)}, nil
}

func dasItem(name string, raw json.RawMessage) (Item, error) {
	it := Item{Name: name}
	trimmed := bytes.TrimSpace(raw)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(trimmed, &parts); err != nil {
			return it, err
		}
		for _, p := range parts {
			v, err := dasScalar(p)
			if err != nil {
				return it, err
			}
			it.Values = append(it.Values, v)
		}
		it.Type = "textlist"
		if len(it.Values) > 0 {
			it.Type = it.Values[0].T + "list"
		}
	case len(trimmed) > 0 && trimmed[0] == '{':
		var rt struct {
			Type    string `json:"type"`
			Content []struct {
				ContentType string `json:"contentType"`
				Data        string `json:"data"`
			} `json:"content"`
		}
		if err := json.Unmarshal(trimmed, &rt); err != nil {
			return it, err
		}
		it.Type = "richtext"
		for _, c := range rt.Content {
			it.Values = append(it.Values, Value{T: "mime", V: c.Data, A: map[string]string{"contentType": c.ContentType}})
		}
	default:
		v, err := dasScalar(trimmed)
		if err != nil {
			return it, err
		}
		it.Type = v.T
		it.Values = []Value{v}
	}
	return it, nil
}
