package workflow

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Change is one difference between two versions of a definition, for the administrator's
// version list: what changed (状态, 流转, 原因, 设置), its key and a zh-CN description.
type Change struct {
	Kind   string // "added", "removed" or "changed"
	What   string // 状态 / 流转 / 原因 / 设置
	Key    string // state code, "from/code" of a transition, reason code or setting name
	Detail string
}

// Diff lists what changed from a to b: states, transitions (keyed by from-state and code),
// reasons and the top-level settings, in a stable order.
func Diff(a, b Definition) []Change {
	var out []Change
	setting := func(key, x, y string) {
		if x != y {
			out = append(out, Change{Kind: "changed", What: "设置", Key: key, Detail: fmt.Sprintf("%q → %q", x, y)})
		}
	}
	setting("title", a.Title, b.Title)
	setting("initial", a.Initial, b.Initial)
	setting("direct", a.Direct, b.Direct)

	out = append(out, diffKeyed("状态", a.States, b.States, func(s State) string { return s.Code }, func(s State) string {
		return s.Name
	})...)
	out = append(out, diffKeyed("流转", a.Transitions, b.Transitions, func(t Transition) string { return t.From + "/" + t.Code },
		func(t Transition) string { return fmt.Sprintf("%s：%s → %s", t.Label, t.From, t.To) })...)
	out = append(out, diffKeyed("原因", a.Reasons, b.Reasons, func(r Reason) string { return r.Code }, func(r Reason) string { return r.Name })...)
	return out
}

func diffKeyed[T any](what string, as, bs []T, key func(T) string, name func(T) string) []Change {
	var out []Change
	am := map[string]T{}
	for _, x := range as {
		am[key(x)] = x
	}
	bm := map[string]T{}
	for _, y := range bs {
		bm[key(y)] = y
	}
	for _, x := range as {
		if _, ok := bm[key(x)]; !ok {
			out = append(out, Change{Kind: "removed", What: what, Key: key(x), Detail: "删除「" + name(x) + "」"})
		}
	}
	for _, y := range bs {
		x, ok := am[key(y)]
		if !ok {
			out = append(out, Change{Kind: "added", What: what, Key: key(y), Detail: "新增「" + name(y) + "」"})
			continue
		}
		if d := fieldDiff(x, y); d != "" {
			out = append(out, Change{Kind: "changed", What: what, Key: key(y), Detail: "「" + name(y) + "」" + d})
		}
	}
	return out
}

// fieldDiff names the JSON fields that differ between x and y ("" when equal).
func fieldDiff(x, y any) string {
	var mx, my map[string]json.RawMessage
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	_ = json.Unmarshal(bx, &mx)
	_ = json.Unmarshal(by, &my)
	var keys []string
	for k := range mx {
		keys = append(keys, k)
	}
	for k := range my {
		if _, ok := mx[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		if string(mx[k]) != string(my[k]) {
			parts = append(parts, fmt.Sprintf("%s：%s → %s", k, orNone(mx[k]), orNone(my[k])))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "修改 " + strings.Join(parts, "；")
}

func orNone(r json.RawMessage) string {
	if len(r) == 0 {
		return "（无）"
	}
	return string(r)
}
