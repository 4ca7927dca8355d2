// Package mappings holds the versioned index definitions (settings and mappings) of the
// Elasticsearch and OpenSearch engines as JSON data, embedded in the binary.
//
// Each file is <name>/v<N>.json. An engine creates the index <prefix><name>.v<N> from the
// newest version and serves it through the alias <prefix><name>; a change to a field or an
// analysis setting is a new file (v<N+1>), never an edit of an existing one, so a reindex can
// build the next version beside the live one and swap the alias. Elasticsearch 8 and
// OpenSearch 2 read the same files: they use only settings and field types both accept.
//
// # submissions
//
// Text is analyzed in Go by the analyzers package (jieba), so the engine needs no Chinese
// plugin. title_terms and body_terms receive the analyzer's search-mode tokens, one
// whitespace-separated group per word position; inside a group the word and its sub-words
// are joined by U+0001 (a control character, so never part of a normalized term and not
// whitespace to Java). The index analyzer splits on whitespace and then on U+0001 with a
// pattern_capture filter, which gives every token of a group the same position. That is the
// position model of analyzers.Token (sub-words share their word's position), so a phrase of
// precise-mode query words matches consecutive positions exactly as in the embedded engine,
// and a single query word matches a sub-word (北京 in 北京市委) without breaking phrases.
// The query analyzer only splits on whitespace. The terms fields are left out of _source
// (they are derived and about three times the text); title and body keep the original text
// for hits and for highlighting in Go (analyzers.Highlight), identical in every engine.
//
// Keyword fields (unit, category, district, month, classification, …) serve filters and
// facets, level (integer) and readers/labelcats (keyword) the access scope, date sorting and
// ranges, id the sort tie-break (sorting on _id is disabled in Elasticsearch 8).
//
// Deletes are written as tombstone documents ({"id", "deleted": true}) with the delete's
// external version, never as engine deletes: an engine forgets a deleted document's version
// after index.gc_deletes (60 s by default) and would then accept a late, lower-versioned
// write. index.gc_deletes is still raised to 1h for anyone deleting by hand. Replicas default
// to 0-1 by auto_expand_replicas: a single node stays green and a cluster keeps one copy.
package mappings

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed submissions/*.json
var files embed.FS

// Mapping is one version of an index definition.
type Mapping struct {
	Name    string // index base name, e.g. "submissions"
	Version int    // N of v<N>.json
	JSON    []byte // {"settings": …, "mappings": …}
}

// IndexName is the name of the versioned index for an index-name prefix.
func (m Mapping) IndexName(prefix string) string {
	return prefix + m.Name + ".v" + strconv.Itoa(m.Version)
}

// ErrNotFound is returned for a name or version without a file.
var ErrNotFound = errors.New("mappings: not found")

// All returns every embedded mapping, by name and then version.
func All() ([]Mapping, error) {
	var out []Mapping
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, file := path.Split(p)
		name = strings.TrimSuffix(name, "/")
		v, ok := strings.CutPrefix(strings.TrimSuffix(file, ".json"), "v")
		n, convErr := strconv.Atoi(v)
		if !ok || convErr != nil || n < 1 || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("mappings: %s: want <name>/v<N>.json", p)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("mappings: read %s: %w", p, err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("mappings: %s is not valid JSON", p)
		}
		out = append(out, Mapping{Name: name, Version: n, JSON: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// Get returns one version of a mapping.
func Get(name string, version int) (Mapping, error) {
	all, err := All()
	if err != nil {
		return Mapping{}, err
	}
	for _, m := range all {
		if m.Name == name && m.Version == version {
			return m, nil
		}
	}
	return Mapping{}, fmt.Errorf("%w: %s v%d", ErrNotFound, name, version)
}

// Latest returns the newest version of a mapping.
func Latest(name string) (Mapping, error) {
	all, err := All()
	if err != nil {
		return Mapping{}, err
	}
	var latest Mapping
	for _, m := range all {
		if m.Name == name {
			latest = m
		}
	}
	if latest.Name == "" {
		return Mapping{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return latest, nil
}
