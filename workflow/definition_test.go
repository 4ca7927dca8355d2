package workflow_test

import (
	"errors"
	"strings"
	"testing"

	"infowork/workflow"
)

func TestDefaultDefinitionIsValid(t *testing.T) {
	t.Parallel()
	d := workflow.Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// The path the issue describes is in the definition.
	for _, p := range [][3]string{{"draft", "submit", "unit_approval"}, {"unit_approval", "approve", "submitted"},
		{"submitted", "review", "in_review"}, {"in_review", "adopt", "adopted"}, {"in_review", "merge", "merged"},
		{"in_review", "return", "returned"}, {"in_review", "file", "filed"}, {"returned", "resubmit", "unit_approval"}} {
		found := false
		for _, tr := range d.From(p[0]) {
			found = found || (tr.Code == p[1] && tr.To == p[2])
		}
		if !found {
			t.Errorf("default definition lacks %s --%s--> %s", p[0], p[1], p[2])
		}
	}
}

func TestValidateDefinitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(d *workflow.Definition)
		want   []string // substrings of the problems
	}{
		{"unknown target state", func(d *workflow.Definition) { d.Transitions[0].To = "nowhere" }, []string{`目标状态 "nowhere" 未定义`}},
		{"unknown from state", func(d *workflow.Definition) { d.Transitions[0].From = "limbo" }, []string{`起始状态 "limbo" 未定义`}},
		{"unknown initial state", func(d *workflow.Definition) { d.Initial = "start" }, []string{`初始状态 "start"`}},
		{"unreachable state", func(d *workflow.Definition) {
			d.States = append(d.States, workflow.State{Code: "orphan", Name: "孤立", Terminal: true})
		}, []string{"「孤立」（orphan）从初始状态无法到达"}},
		{"transition from a terminal state", func(d *workflow.Definition) {
			d.Transitions = append(d.Transitions, workflow.Transition{Code: "reopen", From: "adopted", To: "in_review", Label: "重开", Roles: []string{"editor"}})
		}, []string{"终态「采用」不能再有流转"}},
		{"unknown role", func(d *workflow.Definition) { d.Transitions[0].Roles = []string{"janitor"} }, []string{`未知角色 "janitor"`}},
		{"administrator role", func(d *workflow.Definition) { d.Transitions[0].Roles = []string{"sysadmin"} }, []string{"管理员角色"}},
		{"no role", func(d *workflow.Definition) { d.Transitions[0].Roles = nil }, []string{"至少要允许一个角色"}},
		{"reason without a reasons list", func(d *workflow.Definition) { d.Reasons = nil }, []string{"没有配置原因列表"}},
		{"unknown required field", func(d *workflow.Definition) { d.Transitions[0].Require = []string{"signature"} }, []string{`未知的必填项 "signature"`}},
		{"dead end", func(d *workflow.Definition) {
			var keep []workflow.Transition
			for _, tr := range d.Transitions {
				if tr.From != "returned" {
					keep = append(keep, tr)
				}
			}
			d.Transitions = keep
		}, []string{"「退回」（returned）不是终态，却没有任何流转"}},
		{"duplicate state", func(d *workflow.Definition) { d.States = append(d.States, d.States[0]) }, []string{`状态代码 "draft" 重复`}},
		{"duplicate transition", func(d *workflow.Definition) { d.Transitions = append(d.Transitions, d.Transitions[0]) }, []string{"已有同名流转"}},
		{"unknown action", func(d *workflow.Definition) { d.States[1].OnEnter = []workflow.Action{{Type: "email"}} }, []string{`未知动作类型 "email"`}},
		{"bad notify target", func(d *workflow.Definition) {
			d.States[1].OnEnter = []workflow.Action{{Type: "notify", To: "role:boss"}}
		}, []string{`通知对象 "role:boss" 无效`}},
		{"bad name", func(d *workflow.Definition) { d.Name = "Default Flow" }, []string{"流程名称"}},
		{"two problems at once", func(d *workflow.Definition) {
			d.Transitions[0].To = "nowhere"
			d.Transitions[1].Roles = []string{"janitor"}
		}, []string{`目标状态 "nowhere" 未定义`, `未知角色 "janitor"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := workflow.Default()
			tc.change(&d)
			err := d.Validate()
			var de *workflow.DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Validate: %v, want a *DefinitionError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems %q do not mention %q", de.Problems, w)
				}
			}
		})
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	_, err := workflow.Parse([]byte(`{"name":"x","statez":[]}`))
	var de *workflow.DefinitionError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "statez") {
		t.Fatalf("Parse: %v", err)
	}
}
