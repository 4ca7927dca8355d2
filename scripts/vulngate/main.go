// Command vulngate applies the CI vulnerability policy to the JSON stream of
// `govulncheck -format json` (read from the file named as the only argument, or stdin):
//
//   - a vulnerability that our code reaches (a symbol-level finding) in a third-party module
//     FAILS the gate: upgrade the module (go get module@fixed-version);
//   - a reachable vulnerability in the Go standard library (module "stdlib", or "toolchain")
//     is printed as a WARNING with the Go release that fixes it: it is fixed by building
//     releases with that Go, not by a change to this repository (CI uses the machine's Go);
//   - vulnerabilities in packages or modules we import but never call are counted only.
//
// Exit status: 0 pass (warnings allowed), 1 gate failed, 2 unreadable input. See docs/ci.md.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"os"
	"sort"
	"strings"
)

// The parts of govulncheck's JSON protocol (golang.org/x/vuln/internal/govulncheck,
// protocol v1.0.0) that the gate needs.
type message struct {
	Config  *config  `json:"config,omitempty"`
	OSV     *osv     `json:"osv,omitempty"`
	Finding *finding `json:"finding,omitempty"`
}

type config struct {
	ProtocolVersion string `json:"protocol_version"`
	ScannerVersion  string `json:"scanner_version"`
	DB              string `json:"db"`
	GoVersion       string `json:"go_version"`
	ScanLevel       string `json:"scan_level"`
}

type osv struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

// Vuln is one reachable vulnerability, merged over all of its traces.
type Vuln struct {
	ID       string
	Summary  string
	Module   string // "stdlib", "toolchain" or a module path
	Version  string // version in use
	Fixed    string // first fixed version ("" when none is known)
	Packages []string
	Example  string // one call path, entry point first
}

// Stdlib reports whether the vulnerability is in the Go distribution itself.
func (v Vuln) Stdlib() bool { return v.Module == "stdlib" || v.Module == "toolchain" }

// Report is the classified govulncheck output.
type Report struct {
	GoVersion      string
	DB             string
	Modules        []Vuln // reachable, in third-party modules: the gate fails
	Stdlib         []Vuln // reachable, in the Go distribution: warnings
	ImportedOnly   int    // OSV entries found only at package or module level (not called)
	ImportedModule []string
}

// Failed reports whether the gate fails.
func (r *Report) Failed() bool { return len(r.Modules) > 0 }

// Classify reads a govulncheck JSON stream.
func Classify(in io.Reader) (*Report, error) {
	dec := json.NewDecoder(in)
	var cfg *config
	summaries := map[string]string{}
	reach := map[string]*Vuln{}
	pkgs := map[string]map[string]bool{}
	notCalled := map[string]string{} // OSV id -> module
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("vulngate: reading govulncheck JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			cfg = m.Config
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			f := m.Finding
			if len(f.Trace) == 0 {
				return nil, fmt.Errorf("vulngate: finding %s without a trace", f.OSV)
			}
			top := f.Trace[0]
			if top.Function == "" { // package- or module-level: imported or required, not called
				if _, ok := reach[f.OSV]; !ok {
					notCalled[f.OSV] = top.Module
				}
				continue
			}
			delete(notCalled, f.OSV)
			if _, ok := reach[f.OSV]; !ok {
				reach[f.OSV] = &Vuln{ID: f.OSV, Module: top.Module, Version: top.Version, Fixed: f.FixedVersion, Example: example(f.Trace)}
				pkgs[f.OSV] = map[string]bool{}
			}
			pkgs[f.OSV][top.Package] = true
		}
	}
	if cfg == nil {
		return nil, errors.New("vulngate: no govulncheck config message in the input (did govulncheck run?)")
	}
	if cfg.ScanLevel != "" && cfg.ScanLevel != "symbol" {
		return nil, fmt.Errorf("vulngate: scan level %q cannot tell reachable findings apart; run govulncheck with -scan symbol", cfg.ScanLevel)
	}
	r := &Report{GoVersion: cfg.GoVersion, DB: cfg.DB, ImportedOnly: len(notCalled)}
	for id, v := range reach {
		v.Summary = summaries[id]
		for p := range pkgs[id] {
			v.Packages = append(v.Packages, p)
		}
		sort.Strings(v.Packages)
		if v.Stdlib() {
			r.Stdlib = append(r.Stdlib, *v)
		} else {
			r.Modules = append(r.Modules, *v)
		}
	}
	seen := map[string]bool{}
	for id, mod := range notCalled {
		if mod != "stdlib" && mod != "toolchain" && !seen[mod] {
			seen[mod] = true
			r.ImportedModule = append(r.ImportedModule, mod+" ("+id+")")
		}
	}
	sort.Strings(r.ImportedModule)
	byID := func(vs []Vuln) { sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID }) }
	byID(r.Modules)
	byID(r.Stdlib)
	return r, nil
}

// example renders a trace entry point first: main.f -> pkg.g -> vulnerable.Symbol.
func example(tr []frame) string {
	parts := make([]string, 0, len(tr))
	for i := len(tr) - 1; i >= 0; i-- {
		f := tr[i]
		name := f.Function
		if f.Receiver != "" {
			name = strings.TrimPrefix(f.Receiver, "*") + "." + name
		}
		s := f.Package + "." + name
		if i == len(tr)-1 && f.Position != nil {
			s += " (" + f.Position.Filename + ":" + fmt.Sprint(f.Position.Line) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " -> ")
}

// goRelease turns the semver govulncheck reports for stdlib ("v1.26.9") into a Go version
// ("go1.26.9").
func goRelease(v string) string {
	if v == "" {
		return ""
	}
	return "go" + strings.TrimPrefix(v, "v")
}

// NeededGo is the lowest Go release that fixes every reachable stdlib vulnerability, or ""
// when one of them has no fix yet.
func (r *Report) NeededGo() string {
	need := ""
	for _, v := range r.Stdlib {
		g := goRelease(v.Fixed)
		if g == "" {
			return ""
		}
		if need == "" || version.Compare(g, need) > 0 {
			need = g
		}
	}
	return need
}

// Print writes the human-readable report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "vulngate: govulncheck with %s, database %s\n", r.GoVersion, r.DB)
	for _, v := range r.Stdlib {
		fixed := "no fixed release yet"
		if v.Fixed != "" {
			fixed = "fixed in " + goRelease(v.Fixed)
		}
		fmt.Fprintf(w, "WARNING %s in the Go standard library (%s; %s): %s\n  packages: %s\n  example: %s\n",
			v.ID, r.GoVersion, fixed, v.Summary, strings.Join(v.Packages, ", "), v.Example)
	}
	for _, v := range r.Modules {
		fixed := "no fixed version yet: replace or remove the dependency"
		if v.Fixed != "" {
			fixed = "fix: go get " + v.Module + "@" + v.Fixed
		}
		fmt.Fprintf(w, "FAIL    %s in %s@%s (%s): %s\n  packages: %s\n  example: %s\n",
			v.ID, v.Module, v.Version, fixed, v.Summary, strings.Join(v.Packages, ", "), v.Example)
	}
	if r.ImportedOnly > 0 {
		fmt.Fprintf(w, "vulngate: %d more vulnerabilities are in packages or modules we import but do not call (not a failure)", r.ImportedOnly)
		if len(r.ImportedModule) > 0 {
			fmt.Fprintf(w, "; third-party: %s", strings.Join(r.ImportedModule, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(r.Stdlib) > 0 {
		if need := r.NeededGo(); need != "" {
			fmt.Fprintf(w, "vulngate: WARNING: %d reachable standard-library vulnerabilities in %s; build releases with %s or later (policy: docs/ci.md)\n", len(r.Stdlib), r.GoVersion, need)
		} else {
			fmt.Fprintf(w, "vulngate: WARNING: %d reachable standard-library vulnerabilities in %s, at least one without a fixed release (policy: docs/ci.md)\n", len(r.Stdlib), r.GoVersion)
		}
	}
	if r.Failed() {
		fmt.Fprintf(w, "vulngate: FAIL: %d reachable vulnerabilities in third-party modules\n", len(r.Modules))
	} else {
		fmt.Fprintln(w, "vulngate: ok: no reachable vulnerabilities in third-party modules")
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := stdin
	switch len(args) {
	case 0:
	case 1:
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(stderr, "vulngate:", err)
			return 2
		}
		defer f.Close()
		in = f
	default:
		fmt.Fprintln(stderr, "usage: vulngate [govulncheck.json]")
		return 2
	}
	r, err := Classify(in)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	r.Print(stdout)
	if r.Failed() {
		return 1
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
