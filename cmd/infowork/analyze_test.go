package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeBinaryRelocated builds the binary, copies it into an empty directory and runs it
// there with a fresh HOME, TMPDIR, GOMODCACHE and GOPATH: segmentation must still work, which
// proves the jieba dictionaries travel inside the binary and not in the module cache.
func TestAnalyzeBinaryRelocated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go toolchain not on PATH: %v", err)
	}
	buildDir := t.TempDir()
	built := filepath.Join(buildDir, "infowork")
	build := exec.Command(goBin, "build", "-o", built, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	runDir := t.TempDir()
	bin := filepath.Join(runDir, "infowork")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(buildDir); err != nil { // nothing of the build stays reachable
		t.Fatal(err)
	}
	home, tmp, modcache, gopath := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "GOMODCACHE=" + modcache, "GOPATH=" + gopath, "PATH=/usr/bin:/bin", "LANG=C.UTF-8"}

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = runDir
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("infowork %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	terms := func(out string) []string {
		var ts []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				t.Fatalf("line %q: want term<TAB>start<TAB>end", line)
			}
			ts = append(ts, f[0])
		}
		return ts
	}
	contains := func(ts []string, w string) bool {
		for _, x := range ts {
			if x == w {
				return true
			}
		}
		return false
	}

	q := run("analyze", "--mode", "query", "南京市长江大桥")
	if ts := terms(q); !contains(ts, "长江大桥") || contains(ts, "市长") {
		t.Errorf("query mode 南京市长江大桥 = %q; want 长江大桥 and no 市长", ts)
	}
	if !strings.Contains(q, "长江大桥\t9\t21\n") {
		t.Errorf("query mode output %q: want 长江大桥 at bytes 9–21 of the original text", q)
	}
	if ts := terms(run("analyze", "--mode", "index", "北京市委")); !contains(ts, "北京") {
		t.Errorf("index mode 北京市委 = %q; want 北京 among the search-mode sub-words", ts)
	}
	// The dictionaries were extracted under the fresh TMPDIR, not found somewhere else.
	if ents, _ := os.ReadDir(tmp); len(ents) == 0 {
		t.Errorf("TMPDIR %s is empty: the analyzer did not extract its embedded dictionaries there", tmp)
	}
}
