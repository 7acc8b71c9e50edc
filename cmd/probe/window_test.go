package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/record"
)

// TestRealRamblingModelFillsTheWindow runs, as a new user would, a model
// that reasons until its window is full: a real model (ollamatest's Says)
// that opens its scratchpad and then mutters without ever closing it. Its first
// turn fits num_ctx and runs until the window is full; the continuation
// that would follow is refused by Ollama as longer than num_ctx. The run
// must finish with exit 0, every sample an unparsed answer with stop
// "window", and the report must count them as answers.
func TestRealRamblingModelFillsTheWindow(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModelWith(t, "rambler", 11, ollamatest.TinyOptions{Says: []string{"<SCRATCHPAD_REASONING>", "<hmm/>", "<so/>"}}, "")
	cfg := filepath.Join(t.TempDir(), "models.toml")
	// No num_predict: the first turn runs until the window is full (the
	// probe sends shift: false), as a model that rambles does.
	os.WriteFile(cfg, []byte("scenarios = [\"tiny\"]\nretries = 0\nrequest_timeout = \"60s\"\nmax_turns = 4\n"+
		"[[model]]\nname = \"rambler\"\ntag = \"rambler\"\nnum_ctx = 1024\ntemperature = 1.0\nseed = 7\n"), 0o644)
	results := t.TempDir()

	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "window", "--prompts", prompts, "--limit", "2", "--no-judge")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", r.code, r.stderr, srv.Log())
	}
	if !strings.Contains(r.stderr, "4 unparsed (4 window full), 0 errors") || !strings.Contains(r.stderr, "4 unparsed (4 window full), done") {
		t.Errorf("stderr does not say why the answers are unparsed:\n%s", r.stderr)
	}
	s := readSamples(t, filepath.Join(results, "window"))
	if s.Len() != 4 {
		t.Fatalf("%d samples, want 4", s.Len())
	}
	for _, rec := range s.All() {
		if rec.Outcome != record.Unparsed || rec.Stop != record.StopWindow || rec.Error != "" || rec.Truncated || !rec.Answered() {
			t.Errorf("%s %s: outcome %s stop %q error %q truncated %v; want unparsed, window, no error", rec.QueryID, rec.Tier, rec.Outcome, rec.Stop, rec.Error, rec.Truncated)
		}
		// The first turn: the whole prompt read, then the window filled.
		if rec.Turns != 2 || rec.PromptTokens <= 0 || rec.PromptTokens >= rec.NumCtx || rec.PromptTokens+rec.OutputTokens < rec.NumCtx-1 ||
			rec.DoneReason != "length" || !strings.HasPrefix(rec.Response, "<SCRATCHPAD_REASONING><hmm/><so/><hmm/>") {
			t.Errorf("%s %s: turns %d, prompt %d + output %d tokens of num_ctx %d, done %q, response %.60q",
				rec.QueryID, rec.Tier, rec.Turns, rec.PromptTokens, rec.OutputTokens, rec.NumCtx, rec.DoneReason, rec.Response)
		}
	}

	r = probe(t, nil, "report", "--results", results, "--format", "json")
	var rep struct {
		Groups []struct {
			Free, Paid struct{ N, Unparsed, Errors int }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || len(rep.Groups) != 1 {
		t.Fatalf("report: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	for _, tier := range []struct{ N, Unparsed, Errors int }{rep.Groups[0].Free, rep.Groups[0].Paid} {
		if tier.N != 2 || tier.Unparsed != 2 || tier.Errors != 0 {
			t.Errorf("report tier counts %+v, want 2 answers, both unparsed, no errors", tier)
		}
	}
}
