package workflow

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"infowork/access"
)

// DefaultName is the workflow every submission follows unless it names another.
const DefaultName = "default"

//go:embed default.json
var defaultJSON []byte

// Default returns the shipped default definition (version 1 of "default", seeded by migration
// 0007): draft → unit_approval → submitted → in_review → adopted / merged / returned / filed.
func Default() Definition {
	d, err := Parse(defaultJSON)
	if err != nil {
		panic("workflow: embedded default definition: " + err.Error()) // a broken build, caught by tests
	}
	return d
}

// Definition is one version of a workflow.
type Definition struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Initial string `json:"initial"` // the state a new draft starts in
	// Direct is the state a report created without the draft flag starts in (imports, the demo
	// loader and integrations whose sign-off happened upstream); empty means Initial. The
	// database applies it (migration 0010), so every item starts in a state its version knows.
	Direct string `json:"direct,omitempty"`
	// Reasons are the structured reasons a transition requiring "reason" accepts (退回原因).
	Reasons     []Reason     `json:"reasons,omitempty"`
	States      []State      `json:"states"`
	Transitions []Transition `json:"transitions"`
}

// Reason is one entry of the configured reasons list.
type Reason struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// State is a state of an item.
type State struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"` // zh-CN
	Terminal bool     `json:"terminal,omitempty"`
	OnEnter  []Action `json:"on_enter,omitempty"`
	OnLeave  []Action `json:"on_leave,omitempty"`
}

// Transition moves an item from one state to another. Codes are unique per from-state; the same
// code (e.g. return) may leave several states.
type Transition struct {
	Code  string   `json:"code"`
	From  string   `json:"from"`
	To    string   `json:"to"`
	Label string   `json:"label"` // zh-CN
	Roles []string `json:"roles"`
	// Require lists the input fields the transition needs: "reason" (a code from Reasons) and
	// "comment" (free text).
	Require []string `json:"require,omitempty"`
	// Guards check the item itself before the transition is taken (writer name and phone
	// present, a phone number that looks like one, a body long enough ...).
	Guards  []Guard  `json:"guards,omitempty"`
	Actions []Action `json:"actions,omitempty"`
}

// Guard checks one field of the item. Field is one of GuardFields; Check is "required", "phone"
// or "min_length" (Value runes at least). Message, when set, replaces the generated zh-CN one.
type Guard struct {
	Field   string `json:"field"`
	Check   string `json:"check"`
	Value   int    `json:"value,omitempty"`
	Message string `json:"message,omitempty"`
}

// Guard checks.
const (
	CheckRequired  = "required"
	CheckPhone     = "phone"
	CheckMinLength = "min_length"
)

// GuardFields are the item fields a guard may check, with their zh-CN names.
var GuardFields = map[string]string{
	"title":        "标题",
	"body":         "正文",
	"writer_name":  "执笔人",
	"writer_phone": "联系电话",
	"category":     "分类",
}

// Action types.
const (
	ActionNotify = "notify" // write an in-app notification to To: "unit", "author", "assignee" or "role:ROLE"
	ActionAssign = "assign" // assign the item to Role
	ActionTag    = "tag"    // add Tag to the item
	// ActionArchive archives the item (archived_at): it leaves every queue and list of active
	// work but is kept, with its history, never deleted (withdrawn reports).
	ActionArchive = "archive"
)

// Action is run when an item enters or leaves a state, or takes a transition.
type Action struct {
	Type string `json:"type"`
	To   string `json:"to,omitempty"`
	Role string `json:"role,omitempty"`
	Tag  string `json:"tag,omitempty"`
}

// Input fields a transition may require.
const (
	FieldReason  = "reason"
	FieldComment = "comment"
)

// Parse decodes a definition; unknown fields are an error, so a typo is not silently ignored.
func Parse(b []byte) (Definition, error) {
	var d Definition
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, &DefinitionError{Problems: []string{"定义不是合法的 JSON：" + err.Error()}}
	}
	return d, nil
}

// DefinitionError lists every problem of a definition (zh-CN, one per entry).
type DefinitionError struct {
	Problems []string
}

func (e *DefinitionError) Error() string {
	return "流程定义有误：" + strings.Join(e.Problems, "；")
}

var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// State returns the state with code c.
func (d Definition) State(c string) (State, bool) {
	i := slices.IndexFunc(d.States, func(s State) bool { return s.Code == c })
	if i < 0 {
		return State{}, false
	}
	return d.States[i], true
}

// StateName returns the zh-CN name of state c (the code when unknown).
func (d Definition) StateName(c string) string {
	if s, ok := d.State(c); ok {
		return s.Name
	}
	return c
}

// ReasonName returns the zh-CN name of reason c (the code when unknown).
func (d Definition) ReasonName(c string) string {
	for _, r := range d.Reasons {
		if r.Code == c {
			return r.Name
		}
	}
	return c
}

// From returns the transitions leaving state c, in definition order.
func (d Definition) From(c string) []Transition {
	var out []Transition
	for _, t := range d.Transitions {
		if t.From == c {
			out = append(out, t)
		}
	}
	return out
}

// Validate checks a definition and returns a *DefinitionError naming every problem.
func (d Definition) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !codeRE.MatchString(d.Name) {
		add("流程名称 %q 无效（小写字母开头，仅含小写字母、数字和下划线，最多 32 个字符）", d.Name)
	}
	if len(d.States) == 0 {
		add("至少需要一个状态")
	}
	states := map[string]State{}
	for i, s := range d.States {
		switch {
		case !codeRE.MatchString(s.Code):
			add("第 %d 个状态的代码 %q 无效", i+1, s.Code)
		case states[s.Code].Code != "":
			add("状态代码 %q 重复", s.Code)
		}
		if strings.TrimSpace(s.Name) == "" || utf8.RuneCountInString(s.Name) > 20 {
			add("状态 %q 的名称必须是 1–20 个字", s.Code)
		}
		states[s.Code] = s
		for _, a := range s.OnEnter {
			p = append(p, validateAction(a, fmt.Sprintf("状态「%s」的进入动作", s.Name))...)
		}
		for _, a := range s.OnLeave {
			p = append(p, validateAction(a, fmt.Sprintf("状态「%s」的离开动作", s.Name))...)
		}
	}
	if _, ok := states[d.Initial]; !ok {
		add("初始状态 %q 不是已定义的状态", d.Initial)
	}
	if d.Direct != "" {
		if st, ok := states[d.Direct]; !ok {
			add("直接报送的起始状态（direct）%q 不是已定义的状态", d.Direct)
		} else if st.Terminal {
			add("直接报送的起始状态（direct）「%s」是终态，报送后将无法办理", st.Name)
		}
	}
	reasons := map[string]bool{}
	for _, r := range d.Reasons {
		if !codeRE.MatchString(r.Code) || reasons[r.Code] {
			add("原因代码 %q 无效或重复", r.Code)
		}
		if strings.TrimSpace(r.Name) == "" {
			add("原因 %q 没有名称", r.Code)
		}
		reasons[r.Code] = true
	}
	type key struct{ from, code string }
	seen := map[key]bool{}
	out := map[string][]string{} // state → reachable states
	for i, t := range d.Transitions {
		where := fmt.Sprintf("流转 %q（第 %d 个）", t.Code, i+1)
		if !codeRE.MatchString(t.Code) {
			add("%s：代码无效", where)
		}
		from, okFrom := states[t.From]
		if !okFrom {
			add("%s：起始状态 %q 未定义", where, t.From)
		} else if from.Terminal {
			add("%s：终态「%s」不能再有流转", where, from.Name)
		}
		if _, ok := states[t.To]; !ok {
			add("%s：目标状态 %q 未定义", where, t.To)
		}
		if seen[key{t.From, t.Code}] {
			add("%s：状态 %q 已有同名流转", where, t.From)
		}
		seen[key{t.From, t.Code}] = true
		if strings.TrimSpace(t.Label) == "" {
			add("%s：缺少名称（label）", where)
		}
		if len(t.Roles) == 0 {
			add("%s：至少要允许一个角色", where)
		}
		for _, r := range t.Roles {
			switch {
			case !access.ValidRole(r):
				add("%s：未知角色 %q", where, r)
			case r == access.RoleSysAdmin || r == access.RoleSecAdmin || r == access.RoleAuditAdmin:
				add("%s：管理员角色（%s）不办理信息，不能执行流转", where, access.RoleName(r))
			}
		}
		for _, f := range t.Require {
			switch f {
			case FieldReason:
				if len(d.Reasons) == 0 {
					add("%s：要求填写原因，但流程没有配置原因列表（reasons）", where)
				}
			case FieldComment:
			default:
				add("%s：未知的必填项 %q（只能是 reason 或 comment）", where, f)
			}
		}
		for _, g := range t.Guards {
			p = append(p, validateGuard(g, where)...)
		}
		for _, a := range t.Actions {
			p = append(p, validateAction(a, where+" 的动作")...)
		}
		out[t.From] = append(out[t.From], t.To)
	}
	for _, s := range d.States {
		if !s.Terminal && len(out[s.Code]) == 0 {
			add("状态「%s」（%s）不是终态，却没有任何流转：进入它的信息将无法办结", s.Name, s.Code)
		}
	}
	if _, ok := states[d.Initial]; ok {
		reached := map[string]bool{d.Initial: true}
		queue := []string{d.Initial}
		if _, ok := states[d.Direct]; ok && !reached[d.Direct] {
			reached[d.Direct] = true
			queue = append(queue, d.Direct)
		}
		for len(queue) > 0 {
			c := queue[0]
			queue = queue[1:]
			for _, n := range out[c] {
				if !reached[n] {
					reached[n] = true
					queue = append(queue, n)
				}
			}
		}
		for _, s := range d.States {
			if !reached[s.Code] {
				add("状态「%s」（%s）从初始状态无法到达", s.Name, s.Code)
			}
		}
	}
	if !slices.ContainsFunc(d.States, func(s State) bool { return s.Terminal }) && len(d.States) > 0 {
		add("至少需要一个终态")
	}
	if len(p) > 0 {
		return &DefinitionError{Problems: p}
	}
	return nil
}

func validateGuard(g Guard, where string) []string {
	name, ok := GuardFields[g.Field]
	if !ok {
		return []string{fmt.Sprintf("%s：校验的字段 %q 未知（title、body、writer_name、writer_phone 或 category）", where, g.Field)}
	}
	switch g.Check {
	case CheckRequired:
	case CheckPhone:
		if g.Field != "writer_phone" {
			return []string{fmt.Sprintf("%s：电话格式校验只能用于联系电话（writer_phone），不能用于%s", where, name)}
		}
	case CheckMinLength:
		if g.Value < 1 || g.Value > 10000 {
			return []string{fmt.Sprintf("%s：%s的最少字数必须在 1–10000 之间", where, name)}
		}
	default:
		return []string{fmt.Sprintf("%s：未知的校验 %q（required、phone 或 min_length）", where, g.Check)}
	}
	if utf8.RuneCountInString(g.Message) > 100 {
		return []string{fmt.Sprintf("%s：校验提示最多 100 个字", where)}
	}
	return nil
}

func validateAction(a Action, where string) []string {
	switch a.Type {
	case ActionNotify:
		if a.To == "unit" || a.To == "author" || a.To == "assignee" {
			return nil
		}
		if r, ok := strings.CutPrefix(a.To, "role:"); ok && access.ValidRole(r) {
			return nil
		}
		return []string{fmt.Sprintf("%s：通知对象 %q 无效（unit、author、assignee 或 role:角色）", where, a.To)}
	case ActionAssign:
		if !access.ValidRole(a.Role) {
			return []string{fmt.Sprintf("%s：分派的角色 %q 未知", where, a.Role)}
		}
	case ActionTag:
		if n := utf8.RuneCountInString(strings.TrimSpace(a.Tag)); n == 0 || n > 20 {
			return []string{fmt.Sprintf("%s：标签必须是 1–20 个字", where)}
		}
	case ActionArchive:
	default:
		return []string{fmt.Sprintf("%s：未知动作类型 %q（notify、assign、tag 或 archive）", where, a.Type)}
	}
	return nil
}
