package demo

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

// sampleJSON is the fallback data set: invented messages written for this
// project (no corpus text) and a small category tree of its own.
//
//go:embed sample/sample.json
var sampleJSON []byte

type sampleFile struct {
	Categories [][]string      `json:"categories"` // [一级, 二级, 三级?]
	Messages   []sampleMessage `json:"messages"`
}

type sampleMessage struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Time  string `json:"time"`
	Body  string `json:"body"`
	Reply string `json:"reply,omitempty"`
	Label string `json:"label,omitempty"` // top-level category, like 附件2's 一级分类
}

var sampleOnce = sync.OnceValues(func() (*sampleFile, error) {
	var s sampleFile
	if err := json.Unmarshal(sampleJSON, &s); err != nil {
		return nil, fmt.Errorf("demo: shipped sample is invalid: %w", err)
	}
	return &s, nil
})

func sampleData() (*sampleFile, error) { return sampleOnce() }

func (s *sampleFile) categoryRows() []categoryRow {
	out := make([]categoryRow, 0, len(s.Categories))
	for _, c := range s.Categories {
		var r categoryRow
		copy(r[:], c)
		for i := range r {
			r[i] = Clean(r[i])
		}
		out = append(out, r)
	}
	return out
}

// loadSample builds the Dataset from the shipped sample.
func loadSample(limit int) (*Dataset, error) {
	s, err := sampleData()
	if err != nil {
		return nil, err
	}
	raw := make([]rawMessage, 0, len(s.Messages))
	for _, m := range s.Messages {
		raw = append(raw, rawMessage{id: "sample:" + m.ID, title: m.Title, body: m.Body, reply: m.Reply, label: m.Label, timeRaw: m.Time})
	}
	ds := &Dataset{Source: "sample"}
	build(ds, s.categoryRows(), raw, limit, 1)
	return ds, nil
}
