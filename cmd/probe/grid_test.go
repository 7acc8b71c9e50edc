package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// TestRealGridOfVariants runs a scenario's base and two of its variants in
// one run against the real server: one without the user turn's suffix, one
// with another condition cue and training section. The server counts the
// tokens of what it was sent, so the counts show that each variant's own
// prompt arrived, and the samples, run.json and probe prompt agree on it.
func TestRealGridOfVariants(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	cfg := tinyConfig(t, "", "tiny-a")
	results := t.TempDir()
	variants := []string{"", "no-suffix", "cue-region"}

	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "grid", "--prompts", prompts,
		"--scenario", "tiny-grid", "--variant", "no-suffix,cue-region", "--set", "developer=Meta", "--limit", "2")
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", r.code, r.stderr, srv.Log())
	}
	// no-suffix sends the base's system prompt; cue-region its own.
	if !strings.Contains(r.stderr, "2 system prompts per model") {
		t.Errorf("the opening line does not count 2 system prompts:\n%s", r.stderr)
	}
	dir := filepath.Join(results, "grid")
	s := readSamples(t, dir)
	if s.Len() != 12 || s.Lines != 12 {
		t.Fatalf("%d samples in %d lines, want 12 (3 variants x 2 requests x 2 tiers)", s.Len(), s.Lines)
	}
	// The server counts what it was sent. The test model reads a byte a
	// token, so a one-turn sample's count is the length of its variant's
	// rendered chat plus the BOS token: each variant's own prompt arrived.
	d, err := prompt.Source{Dir: prompts}.Definition("tiny-grid")
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	for _, rec := range s.All() {
		if rec.Outcome == record.Error || rec.Scenario != "tiny-grid" || rec.PromptTokens <= 0 || rec.Vars["developer"] != "Meta" {
			t.Errorf("sample %s: %+v", rec.Key(), rec)
		}
		if rec.Turns != 1 {
			continue // later turns add the model's own text
		}
		sc, err := d.Bind(rec.Variant, map[string]string{"developer": "Meta"})
		if err != nil {
			t.Fatal(err)
		}
		user, err := sc.User(rec.Tier == record.Free, rec.Request)
		if err != nil {
			t.Fatal(err)
		}
		rendered := "<|system|>\n" + sc.System + "\n<|user|>\n" + user + "\n<|assistant|>\n"
		if want := 1 + len(rendered); rec.PromptTokens != want {
			t.Errorf("%s: the server counted %d prompt tokens, the variant's rendered prompt makes %d", rec.Key(), rec.PromptTokens, want)
		}
		counted[rec.Variant]++
	}
	if len(counted) != 3 {
		t.Errorf("one-turn samples by variant = %v; each variant needs at least one to check", counted)
	}

	meta, ok, err := record.ReadRun(dir)
	if err != nil || !ok {
		t.Fatalf("run.json: %v", err)
	}
	if len(meta.Scenarios) != 3 {
		t.Fatalf("run.json scenarios = %+v", meta.Scenarios)
	}
	for i, a := range meta.Scenarios {
		if a.Name != "tiny-grid" || a.Variant != variants[i] || a.Vars["developer"] != "Meta" || len(a.SystemSHA256) != 64 || len(a.PromptSHA256) != 64 {
			t.Errorf("run.json scenario %d = %+v", i, a)
		}
	}

	// What probe prompt prints is what the run sent: the same hash.
	for i, v := range variants {
		args := []string{"prompt", "--prompts", prompts, "--scenario", "tiny-grid", "--set", "developer=Meta", "--format", "json"}
		if v != "" {
			args = append(args, "--variant", v)
		}
		r = probe(t, nil, args...)
		var p struct{ System string }
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != 0 {
			t.Fatalf("probe prompt: exit %d, %v\n%s", r.code, err, r.stderr)
		}
		if sum := sha256Hex(p.System); sum != meta.Scenarios[i].SystemSHA256 {
			t.Errorf("variant %q: probe prompt's system prompt hashes to %s, run.json says %s", v, sum, meta.Scenarios[i].SystemSHA256)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
