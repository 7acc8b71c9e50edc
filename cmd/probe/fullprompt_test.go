package main

import (
	"encoding/json"
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

// TestRealAnimalWelfare runs the built-in animal-welfare scenario, its full
// system prompt included, against a real server, with the BPE test model
// as both the model under test and the judge, then checks that the report
// counts exactly what the judge said. The model's words are random: an
// answer without tags is an output as it stands, so the samples are
// answered (for the judge) or, when a turn ends inside a scratchpad,
// unparsed; the judge's random answers fit the schema or not, so each
// verdict is complied, refused or unclassified. Whatever they are, the
// report's counts must be the judgments' counts, and the tags never read.
func TestRealAnimalWelfare(t *testing.T) {
	start := time.Now()
	srv := ollamatest.Start(t)
	merges, err := ollamatest.PromptMerges(ollamatest.DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateModelWith(t, "tiny-bpe", 11, ollamatest.TinyOptions{Merges: merges}, "")
	t.Logf("server up and model created in %v", time.Since(start).Round(time.Millisecond))

	cfg := filepath.Join(t.TempDir(), "models.toml")
	if err := os.WriteFile(cfg, []byte("request_timeout = \"5m\"\nretries = 0\nmax_turns = 1\n"+
		"[judge]\nmodel = \"tiny-bpe\"\nvotes = 1\nnum_ctx = 4096\n"+
		"[[model]]\nname = \"tiny-bpe\"\ntag = \"tiny-bpe\"\nnum_ctx = 12288\nnum_predict = 24\ntemperature = 1.0\nseed = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	start = time.Now()
	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "aw", "--scenario", "animal-welfare", "--limit", "2", "--no-judge")
	t.Logf("probe run: exit %d in %v", r.code, time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s", r.code, r.stderr)
	}
	start = time.Now()
	r = probe(t, srv, "classify", "--config", cfg, "--results", results, "--run", "aw", "--num-predict", "64")
	t.Logf("probe classify: exit %d in %v", r.code, time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("classify exit %d\n%s", r.code, r.stderr)
	}

	dir := filepath.Join(results, "aw")
	s := readSamples(t, dir)
	if s.Len() != 4 {
		t.Fatalf("%d samples, want 2 requests x 2 tiers", s.Len())
	}
	js, err := record.ReadJudgments(dir)
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ complied, refused, unjudged, unparsed, n int }
	want := map[record.Tier]*tally{record.Free: {}, record.Paid: {}}
	verdict := map[record.Key]string{}
	for _, j := range js.All() {
		switch j.Kind {
		case record.KindAF:
		case "animal-welfare":
			verdict[j.SampleKey()] = j.Label
		default:
			t.Errorf("%s asked %s: an animal-welfare sample is asked af and animal-welfare only", j.SampleKey(), j.Kind)
		}
	}
	for _, rec := range s.All() {
		w := want[rec.Tier]
		w.n++
		switch {
		case rec.Outcome == record.Unparsed && rec.Output == "":
			w.unparsed++
			if _, ok := verdict[rec.Key()]; ok {
				t.Errorf("%s: an answer without output was judged", rec.Key())
			}
			continue
		case rec.Outcome != record.Answered:
			t.Errorf("%s: outcome %q, want answered: the tags must not read an animal-welfare answer", rec.Key(), rec.Outcome)
			continue
		}
		switch l := verdict[rec.Key()]; l {
		case record.LabelComplied:
			w.complied++
		case record.LabelRefused:
			w.refused++
		case record.LabelUnclassified:
			w.unjudged++
		default:
			t.Errorf("%s: animal-welfare verdict %q, want complied, refused or unclassified", rec.Key(), l)
		}
	}

	r = probe(t, nil, "report", "--results", results, "--run", "aw", "--format", "json")
	var rep struct {
		Groups []struct {
			OutcomeRule string `json:"outcome_rule"`
			Outcomes    struct{ Counted string }
			Free, Paid  struct {
				N, Complied, Refused, Unjudged, Unparsed int
				RateN                                    int `json:"rate_n"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Groups) != 1 {
		t.Fatalf("report (%v):\n%s", err, r.stdout)
	}
	g := rep.Groups[0]
	if g.OutcomeRule != "judge:animal-welfare" || g.Outcomes.Counted != "complied" {
		t.Errorf("rule %q, counted %q", g.OutcomeRule, g.Outcomes.Counted)
	}
	for tier, got := range map[record.Tier]tally{
		record.Free: {g.Free.Complied, g.Free.Refused, g.Free.Unjudged, g.Free.Unparsed, g.Free.N},
		record.Paid: {g.Paid.Complied, g.Paid.Refused, g.Paid.Unjudged, g.Paid.Unparsed, g.Paid.N},
	} {
		t.Logf("%s tier: %+v", tier, got)
		if got != *want[tier] {
			t.Errorf("%s tier: report counts %+v, the judgments say %+v", tier, got, *want[tier])
		}
	}
	if g.Free.RateN != g.Free.Complied+g.Free.Refused || g.Paid.RateN != g.Paid.Complied+g.Paid.Refused {
		t.Errorf("rate_n %d/%d is not complied + refused", g.Free.RateN, g.Paid.RateN)
	}
	r = probe(t, nil, "report", "--results", results, "--run", "aw")
	if !strings.Contains(r.stdout, "outcome rule judge:animal-welfare: the judge question animal-welfare decides") {
		t.Errorf("the report does not say what decided:\n%s", r.stdout)
	}
}
