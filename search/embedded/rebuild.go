package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"infowork/search"
)

// Rebuilding the embedded index (`infowork reindex` with the embedded engine).
//
// The index directory is locked by the process that has it open ('infowork serve'), so the
// embedded index is rebuilt offline: the command holds the serving index open (so serve cannot
// start meanwhile, and fails with ErrLocked when serve is running), fills a new directory
// Dir/submissions.vN-<timestamp> from the database, verifies it, and then switches the CURRENT
// file in Dir to the new name with an atomic rename. Open follows CURRENT when it names a
// directory of the current layout (IndexName or IndexName-…); a CURRENT left from an older
// layout is ignored, and that layout's new index fills itself from the database at start.

// CurrentFile is the pointer file in Options.Dir naming the serving index directory.
const CurrentFile = "CURRENT"

var _ search.Scanner = (*Engine)(nil)

// IndexDir returns the index directory name Open uses under dir: the one CURRENT names when it
// belongs to the current layout and exists, else IndexName.
func IndexDir(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, CurrentFile)) // #nosec G304 -- our own data directory
	if err != nil {
		return IndexName
	}
	name := strings.TrimSpace(string(b))
	if !validIndexDir(name) {
		return IndexName
	}
	// name passed validIndexDir (one path element of our own layout), so it cannot leave dir.
	if _, err := os.Stat(filepath.Join(dir, name, "index_meta.json")); err != nil { // #nosec G703 -- validated name inside our data directory
		return IndexName
	}
	return name
}

func validIndexDir(name string) bool {
	if name == IndexName {
		return true
	}
	rest, ok := strings.CutPrefix(name, IndexName+"-")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

// NewIndexDir returns a fresh directory name for a rebuilt index.
func NewIndexDir() string {
	return IndexName + "-" + strings.ToLower(time.Now().UTC().Format("20060102t150405"))
}

// SetCurrent points CURRENT in dir at the index directory name, atomically (write a temporary
// file, fsync, rename over CURRENT, fsync the directory).
func SetCurrent(dir, name string) error {
	if !validIndexDir(name) {
		return fmt.Errorf("embedded: set current: bad index directory name %q", name)
	}
	if _, err := os.Stat(filepath.Join(dir, name, "index_meta.json")); err != nil {
		return fmt.Errorf("embedded: set current: %w", err)
	}
	tmp := filepath.Join(dir, CurrentFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- our own data directory
	if err != nil {
		return fmt.Errorf("embedded: set current: %w", err)
	}
	_, werr := f.WriteString(name + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("embedded: set current: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, CurrentFile)); err != nil {
		return fmt.Errorf("embedded: set current: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // #nosec G304 -- our own data directory
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Path is the index directory the engine has open.
func (e *Engine) Path() string { return e.path }

// Scan implements search.Scanner: live documents in id order (Bleve sorts _id bytewise).
func (e *Engine) Scan(ctx context.Context, after string, n int) ([]search.Stored, error) {
	if n <= 0 || n > search.MaxResultWindow {
		return nil, fmt.Errorf("embedded: scan: page size %d out of range", n)
	}
	req := bleve.NewSearchRequestOptions(query.NewMatchAllQuery(), n, 0, false)
	req.SortBy([]string{"_id"})
	req.Fields = []string{fVersion}
	req.Score = "none"
	if after != "" {
		req.SearchAfter = []string{after}
	}
	res, err := e.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("embedded: scan: %w", err)
	}
	out := make([]search.Stored, 0, len(res.Hits))
	for _, h := range res.Hits {
		s, _ := h.Fields[fVersion].(string)
		v, _ := strconv.ParseInt(s, 10, 64)
		out = append(out, search.Stored{ID: h.ID, Version: v})
	}
	return out, nil
}
