package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// testdata/*.json are recorded `govulncheck@v1.9.0 -format json` outputs (Go 1.26.8, vulndb
// v0.0.0-20261105234957-e22db6528018) for a ten-line program that reads a brotli stream
// with github.com/andybalholm/brotli v1.2.6 (module-finding.json, GO-2026-6888) and v1.2.7
// (stdlib-only.json). To keep them small, OSV entries no finding refers to were dropped and
// only the first finding of each (OSV, module, level) was kept; see testdata/README.md.

func runFile(t *testing.T, name string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run([]string{"testdata/" + name}, nil, &out, &errOut)
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return code, out.String()
}

func TestModuleFindingFails(t *testing.T) {
	code, out := runFile(t, "module-finding.json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (gate fails on a reachable module vulnerability)\n%s", code, out)
	}
	for _, want := range []string{
		"FAIL    GO-2026-6888 in github.com/andybalholm/brotli@v1.2.6",
		"go get github.com/andybalholm/brotli@v1.2.7",
		"WARNING GO-2026-6611 in the Go standard library",
		"vulngate: FAIL: 1 reachable vulnerabilities in third-party modules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestStdlibOnlyPassesWithWarnings(t *testing.T) {
	code, out := runFile(t, "stdlib-only.json")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (standard-library findings are warnings)\n%s", code, out)
	}
	for _, want := range []string{
		"WARNING GO-2026-6603 in the Go standard library (go1.26.8; fixed in go1.26.9)",
		"build releases with go1.26.9 or later",
		"vulngate: ok: no reachable vulnerabilities in third-party modules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("unexpected FAIL:\n%s", out)
	}
}

func TestClassifyModuleSample(t *testing.T) {
	r, err := Classify(strings.NewReader(mustRead(t, "testdata/module-finding.json")))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Modules) != 1 || r.Modules[0].ID != "GO-2026-6888" || r.Modules[0].Fixed != "v1.2.7" {
		t.Fatalf("modules = %+v", r.Modules)
	}
	if !strings.HasPrefix(r.Modules[0].Example, "example.com/vulnsample.main") ||
		!strings.Contains(r.Modules[0].Example, "github.com/andybalholm/brotli.Reader.Read") {
		t.Errorf("example trace = %q", r.Modules[0].Example)
	}
	for _, v := range r.Stdlib {
		if !v.Stdlib() {
			t.Errorf("%s classified as stdlib but module is %q", v.ID, v.Module)
		}
	}
	if len(r.Stdlib) == 0 {
		t.Error("no stdlib findings in the sample")
	}
}

// A vulnerability in a module we require but never call is not a failure.
func TestImportedButNotCalledPasses(t *testing.T) {
	in := `{"config":{"protocol_version":"v1.0.0","go_version":"go1.26.8","scan_level":"symbol"}}
{"osv":{"id":"GO-2026-4950","summary":"fasthttp thing"}}
{"finding":{"osv":"GO-2026-4950","fixed_version":"v1.70.0","trace":[{"module":"github.com/valyala/fasthttp","version":"v1.69.0"}]}}
{"finding":{"osv":"GO-2026-4950","fixed_version":"v1.70.0","trace":[{"module":"github.com/valyala/fasthttp","version":"v1.69.0","package":"github.com/valyala/fasthttp"}]}}
`
	r, err := Classify(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed() || r.ImportedOnly != 1 || len(r.ImportedModule) != 1 {
		t.Fatalf("report = %+v", r)
	}
}

// Anything that is not a complete govulncheck stream is an error, never a pass.
func TestBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"truncated": `{"config":{"go_version":"go1.26.8"}}{"finding":{"osv":"X","trace":[`,
		"no config": `{"finding":{"osv":"X","trace":[{"module":"m","function":"F"}]}}`,
		"not json":  "govulncheck: loading packages: exit status 1\n",
		"pkg level": `{"config":{"go_version":"go1.26.8","scan_level":"package"}}`,
	} {
		var out, errOut bytes.Buffer
		if code := run(nil, strings.NewReader(in), &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2; out %q", name, code, out.String())
		}
	}
}

func TestNeededGo(t *testing.T) {
	r := &Report{Stdlib: []Vuln{{Fixed: "v1.26.9"}, {Fixed: "v1.26.10"}, {Fixed: "v1.25.12"}}}
	if got := r.NeededGo(); got != "go1.26.10" {
		t.Errorf("NeededGo = %q, want go1.26.10", got)
	}
	r.Stdlib = append(r.Stdlib, Vuln{})
	if got := r.NeededGo(); got != "" {
		t.Errorf("NeededGo with an unfixed vuln = %q, want empty", got)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
