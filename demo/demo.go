package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Unit is a reporting unit: a district (区县), a city bureau (委办局) or a
// direct reporting point (信息直报点).
type Unit struct {
	Code     string // e.g. "D01" districts, "B001" bureaus, "Z001" direct reporting points
	Name     string // e.g. "A1区", "市住房和城乡建设局", "A1区桂花坪街道信息直报点"
	Kind     string // "district" | "bureau" | "direct"
	Parent   string // parent unit code ("" for top level); direct points belong to a district
	District string // district name the unit belongs to ("" for city-wide bureaus)
}

// Category is one node of the three-level category tree.
type Category struct {
	Code   string // stable code, e.g. "C01", "C01.03", "C01.03.002"
	Name   string
	Parent string // parent code, "" for top level
	Level  int    // 1..3
}

// Message is one citizen message with everything the demo assigns to it.
type Message struct {
	SourceID       string // "sheet3:1234" etc. (file + 留言编号), unique
	Title          string
	Body           string    // cleaned plain text, paragraphs separated by "\n"
	Reply          string    // official reply if any (cleaned), may be ""
	Time           time.Time // message time in Asia/Shanghai
	UnitCode       string    // assigned reporting unit
	CategoryCode   string    // assigned category (a level-2 or level-3 code)
	District       string    // district name, e.g. "A3区" ("" if city-wide)
	Classification string    // "public" | "internal" | "secret" | "confidential"
	Urgency        string    // "normal" | "urgent" | "very_urgent"
}

// Dataset is the whole demo data set.
type Dataset struct {
	Source     string // "corpus:<dir>" or "sample"
	Units      []Unit
	Categories []Category
	Messages   []Message
	Warnings   []string // e.g. rows skipped and why (counted, not one per row)
}

// corpusRel is the corpus folder relative to the repository root.
const corpusRel = "../shared/corpus/civic-messages"

// The files of the corpus, relative to the corpus folder.
const categoryFile = "Rollbear-bot/full_dataset_sheet_1.xlsx"

var messageFiles = []struct{ prefix, path string }{
	{"sheet3", "Rollbear-bot/full_dataset_sheet_3.xlsx"},
	{"sheet4", "Rollbear-bot/full_dataset_sheet_4.xlsx"},
	{"sheet2", "694035434/附件2.xlsx"},
}

// DefaultCorpusDir returns "../shared/corpus/civic-messages" resolved against
// the repository root if that can be found: the nearest directory at or
// above the working directory (then the executable's directory) whose go.mod
// declares module infowork. Otherwise it returns the relative path as is,
// which resolves against the working directory.
func DefaultCorpusDir() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		if root := findRepoRoot(start); root != "" {
			return filepath.Clean(filepath.Join(root, filepath.FromSlash(corpusRel)))
		}
	}
	return filepath.FromSlash(corpusRel)
}

func findRepoRoot(dir string) string {
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil { // #nosec G304 -- walks up from the working directory looking for go.mod
			for _, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == "infowork" {
					return dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Load reads the corpus in dir (if dir == "" it uses DefaultCorpusDir). If
// the folder does not exist it returns the shipped sample with Source
// "sample" and a warning saying the corpus folder was not found (this is not
// an error). limit > 0 keeps only the first limit messages (newest first,
// ties by SourceID). The same inputs always give the same Dataset.
//
// Errors: the folder exists but cannot be read, a spreadsheet is corrupt or
// lacks a required column, or no message at all could be read.
func Load(dir string, limit int) (*Dataset, error) {
	if dir == "" {
		dir = DefaultCorpusDir()
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		abs, aerr := filepath.Abs(dir)
		if aerr != nil {
			abs = dir
		}
		ds, err := loadSample(limit)
		if err != nil {
			return nil, err
		}
		ds.Warnings = append([]string{fmt.Sprintf(
			"corpus folder not found at %s; using the sample shipped with the project (%d messages)", abs, len(ds.Messages))},
			ds.Warnings...)
		return ds, nil
	}
	if err != nil {
		return nil, fmt.Errorf("demo: corpus folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("demo: corpus path %s is not a folder", dir)
	}
	return loadCorpus(dir, limit)
}

// rawMessage is one row as read, before cleaning and assignment.
type rawMessage struct {
	id      string // SourceID
	title   string
	body    string
	reply   string
	label   string // 一级分类, "" if none
	timeRaw string
}

// fileResult is what reading one message file gives.
type fileResult struct {
	rows     []rawMessage
	warnings []string
	err      error
}

func loadCorpus(dir string, limit int) (*Dataset, error) {
	ds := &Dataset{Source: "corpus:" + dir}

	// The four files are independent: read them concurrently, merge in a
	// fixed order.
	results := make([]fileResult, len(messageFiles))
	done := make(chan struct{}, len(messageFiles))
	for i, mf := range messageFiles {
		go func() {
			defer func() { done <- struct{}{} }()
			p := filepath.Join(dir, filepath.FromSlash(mf.path))
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				results[i].warnings = []string{fmt.Sprintf("%s: file %s not found, skipped", mf.prefix, mf.path)}
				return
			}
			rows, warns, err := readMessageFile(p, mf.prefix)
			results[i] = fileResult{rows: rows, warnings: warns, err: err}
		}()
	}
	var tree []categoryRow
	var treeWarn string
	treeErr := func() error {
		p := filepath.Join(dir, filepath.FromSlash(categoryFile))
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			s, err := sampleData()
			if err != nil {
				return err
			}
			tree = s.categoryRows()
			treeWarn = fmt.Sprintf("category tree %s not found; using the sample's category tree", categoryFile)
			return nil
		}
		var err error
		tree, err = readCategoryFile(p)
		return err
	}()
	for range messageFiles {
		<-done
	}
	if treeErr != nil {
		return nil, treeErr
	}
	if treeWarn != "" {
		ds.Warnings = append(ds.Warnings, treeWarn)
	}
	var raw []rawMessage
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		raw = append(raw, r.rows...)
		ds.Warnings = append(ds.Warnings, r.warnings...)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("demo: no messages could be read from %s", dir)
	}
	build(ds, tree, raw, limit, 3)
	return ds, nil
}

// build turns raw rows into the Dataset: cleaning, time parsing, dedupe,
// district detection, units, categories and assignment. minDistrict is how
// many messages must name a district for it to become a unit.
func build(ds *Dataset, tree []categoryRow, raw []rawMessage, limit, minDistrict int) {
	ds.Categories = buildCategories(tree)

	msgs, warns := normalize(raw)
	ds.Warnings = append(ds.Warnings, warns...)

	districts := detectDistricts(msgs, minDistrict)
	ds.Units = buildUnits(districts)

	a := newAssigner(ds.Categories, ds.Units, districts)
	for i := range msgs {
		a.assign(&msgs[i].Message, msgs[i].label)
	}
	out := make([]Message, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].Message
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].SourceID < out[j].SourceID
	})
	if limit > 0 && limit < len(out) {
		out = out[:limit:limit]
	}
	ds.Messages = out
}

// labelled is a Message during building, with its 一级分类 label.
type labelled struct {
	Message
	label string
}

// normalize cleans every row, parses its time, skips unusable rows and
// merges duplicates by (title, time). Warnings are counted per reason and
// file.
func normalize(raw []rawMessage) ([]labelled, []string) {
	type key struct {
		title string
		unix  int64
	}
	seen := make(map[key]int, len(raw))
	ids := make(map[string]bool, len(raw))
	out := make([]labelled, 0, len(raw))
	type counts struct{ noTitle, noBody, badTime, dupID, dup, serial int }
	var order []string
	per := map[string]*counts{}
	count := func(id string) *counts {
		file, _, _ := strings.Cut(id, ":")
		c := per[file]
		if c == nil {
			c = &counts{}
			per[file] = c
			order = append(order, file)
		}
		return c
	}
	var badExamples = map[string]string{}
	for _, r := range raw {
		c := count(r.id)
		title := Clean(r.title)
		body := Clean(r.body)
		if title == "" {
			c.noTitle++
			continue
		}
		if body == "" {
			c.noBody++
			continue
		}
		t, err := ParseTime(r.timeRaw)
		if err != nil {
			c.badTime++
			file, _, _ := strings.Cut(r.id, ":")
			if _, ok := badExamples[file]; !ok {
				badExamples[file] = fmt.Sprintf("%q", r.timeRaw)
			}
			continue
		}
		if isNumber(strings.TrimSpace(r.timeRaw)) {
			c.serial++
		}
		if ids[r.id] {
			c.dupID++
			continue
		}
		ids[r.id] = true
		k := key{title, t.Unix()}
		if j, ok := seen[k]; ok {
			c.dup++
			if out[j].Reply == "" {
				out[j].Reply = Clean(r.reply)
			}
			if out[j].label == "" {
				out[j].label = Clean(r.label)
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, labelled{
			Message: Message{SourceID: r.id, Title: title, Body: body, Reply: Clean(r.reply), Time: t},
			label:   Clean(r.label),
		})
	}
	var warns []string
	for _, file := range order {
		c := per[file]
		if c.noTitle > 0 {
			warns = append(warns, fmt.Sprintf("%s: skipped %d rows without a title (留言主题)", file, c.noTitle))
		}
		if c.noBody > 0 {
			warns = append(warns, fmt.Sprintf("%s: skipped %d rows without a body (留言详情)", file, c.noBody))
		}
		if c.badTime > 0 {
			warns = append(warns, fmt.Sprintf("%s: skipped %d rows with an unparseable time (留言时间), e.g. %s", file, c.badTime, badExamples[file]))
		}
		if c.dupID > 0 {
			warns = append(warns, fmt.Sprintf("%s: skipped %d rows repeating a 留言编号", file, c.dupID))
		}
		if c.dup > 0 {
			warns = append(warns, fmt.Sprintf("%s: merged %d duplicates of earlier messages (same title and time)", file, c.dup))
		}
		if c.serial > 0 {
			warns = append(warns, fmt.Sprintf("%s: %d times were stored as Excel serial numbers (converted)", file, c.serial))
		}
	}
	return out, warns
}
