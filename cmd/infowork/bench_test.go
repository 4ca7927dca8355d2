package main

import (
	"errors"
	"strings"
	"testing"
)

// Bad flags are usage errors, and an unreachable OpenSearch stops the run before anything is
// created, saying how to start the test node.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{{"--clients", "8,x"}, {"--clients", "0"}, {"--no-such-flag"}} {
		err := run(t.Context(), append([]string{"bench"}, args...))
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("bench %v: %v, want a usage error", args, err)
		}
	}
	err := run(t.Context(), []string{"bench", "--opensearch", "http://127.0.0.1:1", "--data", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "run.sh start --port 9209") {
		t.Fatalf("unreachable OpenSearch: %v", err)
	}
}
