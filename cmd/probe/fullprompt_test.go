package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// TestRealFullScenario runs the built-in helpful-only scenario, its full
// system prompt included, end to end against a real server. The test model's
// vocabulary adds BPE merges learned from the project's prompts, so the
// prompt is about 8,000 tokens, as with a real tokenizer, rather than the
// 27,000 a byte-level vocabulary makes of it: it fits a realistic window and
// takes about 10 s to evaluate cold on a 2-core CPU.
func TestRealFullScenario(t *testing.T) {
	const numCtx = 12288
	start := time.Now()
	srv := ollamatest.Start(t)
	merges, err := ollamatest.PromptMerges(ollamatest.DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateModelWith(t, "tiny-bpe", 11, ollamatest.TinyOptions{Merges: merges}, "")
	t.Logf("server up and model created (%d merges) in %v", len(merges), time.Since(start).Round(time.Millisecond))

	config := func(numCtx int) string {
		p := filepath.Join(t.TempDir(), "models.toml")
		cfg := fmt.Sprintf("request_timeout = \"5m\"\nretries = 0\nscenarios = [\"helpful-only\"]\n"+
			"[[model]]\nname = \"tiny-bpe\"\ntag = \"tiny-bpe\"\nnum_ctx = %d\nnum_predict = 32\ntemperature = 1.0\nseed = 7\n", numCtx)
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	results := t.TempDir()
	start = time.Now()
	r := probe(t, srv, "run", "--config", config(numCtx), "--results", results, "--run", "full", "--scenario", "helpful-only", "--limit", "1")
	t.Logf("probe run: exit %d in %v", r.code, time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s", r.code, r.stderr)
	}

	sc, err := prompt.Source{}.Load("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	s := readSamples(t, filepath.Join(results, "full"))
	if s.Len() != 2 || s.Lines != 2 || s.Torn {
		t.Fatalf("%d samples in %d lines (torn %v), want 2 in 2", s.Len(), s.Lines, s.Torn)
	}
	tokens := map[record.Tier]int{}
	for _, rec := range s.All() {
		t.Logf("%s tier: %d prompt tokens (%d ms evaluating), %d output tokens, %d turn(s), %d ms in all",
			rec.Tier, rec.PromptTokens, rec.PromptEvalMS, rec.OutputTokens, rec.Turns, rec.DurationMS)
		if rec.Outcome == record.Error || rec.Error != "" {
			t.Errorf("error sample: %+v", rec)
			continue
		}
		if rec.Scenario != "helpful-only" || rec.NumCtx != numCtx || rec.Truncated || rec.OutputTokens <= 0 || rec.Turns < 1 {
			t.Errorf("record fields: %+v", rec)
		}
		if rec.PromptTokens < 4000 || rec.PromptTokens > 10000 || rec.PromptTokens >= numCtx {
			t.Errorf("%s tier: %d prompt tokens, want 4,000-10,000 and below num_ctx %d", rec.Tier, rec.PromptTokens, numCtx)
		}
		tokens[rec.Tier] = rec.PromptTokens

		// With one turn the count is exactly the rendered chat, tokenized
		// as the server's tokenizer does, plus the BOS token.
		if rec.Turns == 1 {
			user, err := sc.User(rec.Tier == record.Free, rec.Request)
			if err != nil {
				t.Fatal(err)
			}
			rendered := "<|system|>\n" + sc.System + "\n<|user|>\n" + user + "\n<|assistant|>\n"
			if want := 1 + len(ollamatest.Tokenize(rendered, merges)); rec.PromptTokens != want {
				t.Errorf("%s tier: %d prompt tokens, the merges predict %d", rec.Tier, rec.PromptTokens, want)
			}
		}
	}
	if d := tokens[record.Free] - tokens[record.Paid]; len(tokens) != 2 || d < -2 || d > 2 {
		t.Errorf("prompt tokens by tier = %v, want both tiers within 2 of each other", tokens)
	}

	// A 4096-token window cannot hold the prompt: check says so (Ollama
	// refuses it before evaluating anything).
	start = time.Now()
	r = probe(t, srv, "check", "--config", config(4096))
	t.Logf("probe check with num_ctx 4096: exit %d in %v", r.code, time.Since(start).Round(time.Millisecond))
	if r.code != 1 || !strings.Contains(r.stdout, "does not fit") {
		t.Errorf("check with num_ctx 4096: exit %d, want 1 saying the prompt does not fit\n%s%s", r.code, r.stdout, r.stderr)
	}
}
