package draft

import (
	"github.com/sergi/go-diff/diffmatchpatch"
)

// Diff operations.
const (
	OpEqual  = "equal"
	OpInsert = "insert"
	OpDelete = "delete"
)

// DiffOp is one piece of a diff.
type DiffOp struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// Diff compares two texts per character and then regroups the edits on word and sentence
// boundaries (diff-match-patch's semantic clean-up), which is what makes a Chinese diff
// readable: "防汛" replaced by "抗旱" shows as one deletion and one insertion, not as four
// interleaved characters. Per-character comparison needs no segmenter, and Chinese has no
// spaces for a word diff to split on.
func Diff(from, to string) []DiffOp {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0
	ds := dmp.DiffMainRunes([]rune(from), []rune(to), false)
	ds = dmp.DiffCleanupSemantic(ds)
	out := make([]DiffOp, 0, len(ds))
	for _, d := range ds {
		op := OpEqual
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op = OpInsert
		case diffmatchpatch.DiffDelete:
			op = OpDelete
		}
		out = append(out, DiffOp{Op: op, Text: d.Text})
	}
	return out
}

// Changed reports whether a diff has any insertion or deletion.
func Changed(ops []DiffOp) bool {
	for _, o := range ops {
		if o.Op != OpEqual {
			return true
		}
	}
	return false
}
