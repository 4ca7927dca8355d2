package workflow_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"infowork/access"
	"infowork/workflow"
)

// genDefinition draws small definitions, valid and invalid: states among a few codes, random
// transitions between them (sometimes to unknown states), roles from a pool with bad ones.
func genDefinition(t *rapid.T) workflow.Definition {
	codes := []string{"draft", "review", "done", "hold", "gone"}
	n := rapid.IntRange(1, len(codes)).Draw(t, "states")
	d := workflow.Definition{Name: "prop", Reasons: []workflow.Reason{{Code: "other", Name: "其他"}}}
	for i := 0; i < n; i++ {
		d.States = append(d.States, workflow.State{Code: codes[i], Name: "状态" + codes[i], Terminal: rapid.Bool().Draw(t, "terminal")})
	}
	d.Initial = rapid.SampledFrom(append(codes[:n:n], "nowhere")).Draw(t, "initial")
	if rapid.Bool().Draw(t, "hasDirect") {
		d.Direct = rapid.SampledFrom(codes).Draw(t, "direct")
	}
	roles := []string{access.RoleReporter, access.RoleEditor, access.RoleSigner, access.RoleSysAdmin, "janitor"}
	if rapid.Bool().Draw(t, "chain") {
		// A runnable skeleton (a chain from the first state to a terminal last one) that the
		// random additions below may or may not break.
		d.Initial, d.Direct = codes[0], ""
		for i := range d.States {
			d.States[i].Terminal = i == n-1
			if i > 0 {
				d.Transitions = append(d.Transitions, workflow.Transition{Code: "step", From: codes[i-1], To: codes[i], Label: "下一步",
					Roles: []string{rapid.SampledFrom(roles[:3]).Draw(t, "chainRole")}})
			}
		}
	}
	extra := rapid.IntRange(0, 4).Draw(t, "transitions")
	if len(d.Transitions) > 0 {
		extra = rapid.IntRange(0, 1).Draw(t, "extra")
	}
	for i := 0; i < extra; i++ {
		tr := workflow.Transition{
			Code:  rapid.SampledFrom([]string{"go", "back", "finish", "Bad Code"}).Draw(t, "code"),
			From:  rapid.SampledFrom(codes).Draw(t, "from"),
			To:    rapid.SampledFrom(codes).Draw(t, "to"),
			Label: rapid.SampledFrom([]string{"办理", ""}).Draw(t, "label"),
			Roles: rapid.SliceOfNDistinct(rapid.SampledFrom(roles), 0, 2, rapid.ID[string]).Draw(t, "roles"),
		}
		if rapid.Bool().Draw(t, "guard") {
			tr.Guards = []workflow.Guard{{Field: rapid.SampledFrom([]string{"writer_name", "writer_phone", "salary"}).Draw(t, "field"),
				Check: rapid.SampledFrom([]string{"required", "phone", "min_length", "odd"}).Draw(t, "check"), Value: rapid.IntRange(0, 3).Draw(t, "value")}}
		}
		d.Transitions = append(d.Transitions, tr)
	}
	return d
}

// TestValidateProperties: a definition Validate accepts can be run: every state is reachable from
// a start state, every state that is not terminal has a way out, every transition connects known
// states and names office roles only, and it survives a JSON round trip unchanged; a refused one
// names at least one problem. Validate never panics.
func TestValidateProperties(t *testing.T) {
	t.Parallel()
	accepted, refused := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		d := genDefinition(t)
		err := d.Validate()
		if err != nil {
			refused++
			var de *workflow.DefinitionError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("refusal without problems: %v", err)
			}
			return
		}
		known := map[string]workflow.State{}
		for _, s := range d.States {
			known[s.Code] = s
		}
		out := map[string][]string{}
		for _, tr := range d.Transitions {
			if _, ok := known[tr.From]; !ok {
				t.Fatalf("accepted a transition from unknown %q", tr.From)
			}
			if _, ok := known[tr.To]; !ok {
				t.Fatalf("accepted a transition to unknown %q", tr.To)
			}
			if len(tr.Roles) == 0 {
				t.Fatalf("accepted a transition without roles")
			}
			for _, r := range tr.Roles {
				if !access.ValidRole(r) || r == access.RoleSysAdmin {
					t.Fatalf("accepted role %q", r)
				}
			}
			out[tr.From] = append(out[tr.From], tr.To)
		}
		reached := map[string]bool{d.Initial: true}
		queue := []string{d.Initial}
		if d.Direct != "" {
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
				t.Fatalf("accepted unreachable state %q", s.Code)
			}
			if !s.Terminal && len(out[s.Code]) == 0 {
				t.Fatalf("accepted dead end %q", s.Code)
			}
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := workflow.Parse(raw)
		if err != nil || !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, back, d)
		}
		if ch := workflow.Diff(d, back); len(ch) != 0 {
			t.Fatalf("a definition differs from its round trip: %+v", ch)
		}
		accepted++
	})
	// Both branches must have been exercised, or the properties above proved nothing.
	if accepted < 10 || refused < 10 {
		t.Errorf("generator drew %d accepted and %d refused definitions; want at least 10 of each", accepted, refused)
	}
}
