// Package estest holds test helpers for the engines built on esengine: the address of the
// test cluster and per-test indices that are removed at cleanup.
package estest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"infowork/analyzers"
)

// EnvURL names the variable holding the test OpenSearch node's URLs (comma-separated), as
// printed by deploy/opensearch-dev/run.sh start.
const EnvURL = "INFOWORK_TEST_OPENSEARCH_URL"

// URLs returns the test cluster's URLs. Without EnvURL the test fails in CI (CI=true), where
// the node must run, and is skipped elsewhere.
func URLs(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvURL))
	if v == "" {
		msg := EnvURL + " is not set: start a node with `deploy/opensearch-dev/run.sh start --port 9250 --data .data/opensearch-test` and export the OPENSEARCH_URL it prints as " + EnvURL
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var out []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimRight(u, "/"))
		}
	}
	return out
}

// Prefix returns a fresh index-name prefix and deletes every index starting with it when the
// test ends.
func Prefix(t testing.TB, urls []string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b) + "_"
	t.Cleanup(func() {
		if err := DeleteIndices(context.Background(), urls[0], prefix); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return prefix
}

// DeleteIndices deletes the indices whose names start with prefix, by name (Elasticsearch 8
// refuses wildcard deletes by default).
func DeleteIndices(ctx context.Context, baseURL, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := call(ctx, http.MethodGet, baseURL+"/_cat/indices/"+prefix+"*?format=json&h=index&expand_wildcards=all")
	if err != nil {
		return err
	}
	var rows []struct {
		Index string `json:"index"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		return fmt.Errorf("list indices: %w", err)
	}
	for _, r := range rows {
		if _, err := call(ctx, http.MethodDelete, baseURL+"/"+r.Index); err != nil {
			return err
		}
	}
	return nil
}

func call(ctx context.Context, method, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, u, res.StatusCode, b)
	}
	return b, nil
}

var shared struct {
	once sync.Once
	an   *analyzers.Analyzer
	err  error
}

// Analyzer returns one analyzer shared by the tests of a package.
func Analyzer(t testing.TB) *analyzers.Analyzer {
	t.Helper()
	shared.once.Do(func() { shared.an, shared.err = analyzers.New(analyzers.Options{}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.an
}
