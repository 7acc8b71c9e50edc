package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --data file no selected scenario would ask is refused, not ignored.
func TestDataNoScenarioAsksIsRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d.jsonl")
	if err := os.WriteFile(data, []byte(`{"id":"x1","request":"hello"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, oneModel)
	for _, args := range [][]string{
		{"prompt", "--scenario", "anti-lab", "--data", data},
		{"run", "--config", cfg, "--scenario", "anti-lab", "--data", data, "--results", t.TempDir(), "--no-judge"},
	} {
		r := probe(t, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--data "+data+": the scenarios selected (anti-lab) ask requests of their own") {
			t.Errorf("probe %s: exit %d, want %d and a line saying --data is not used:\n%s", args[0], r.code, ExitUsage, r.stderr)
		}
	}
	// With a scenario that asks the data set beside it, the file is used.
	if r := probe(t, "prompt", "--scenario", "helpful-only", "--data", data); r.code != 0 || !strings.Contains(r.stdout, "hello") {
		t.Errorf("probe prompt with helpful-only and --data: exit %d\n%s", r.code, r.stderr)
	}
}
