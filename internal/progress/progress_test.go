package progress

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// clock is a clock a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func sample(model string, q int, o record.Outcome, prompt int, evalMS int64) record.Sample {
	return record.Sample{Model: model, Scenario: "s", QueryID: string(rune('a' + q)), Tier: record.Free, Outcome: o,
		PromptTokens: prompt, PromptEvalMS: evalMS, OutputTokens: 30, Backend: llm.BackendOllama}
}

// The cache share from Ollama's prompt reading times: a warm-up reads 6,000
// tokens cold in 6 s (1 token/ms); a sample that read its 6,100 tokens in
// 100 ms had 6,000 from the cache.
func TestStatsCacheFromPromptEval(t *testing.T) {
	s := &Stats{Name: "m", Todo: 4}
	s.warmed(&llm.ChatResponse{PromptTokens: 6000, PromptEval: 6 * time.Second})
	start := time.Unix(0, 0)
	s.Started = start
	s.add(sample("m", 0, record.Refused, 6100, 100), start.Add(30*time.Second))
	s.add(sample("m", 1, record.Complied, 6100, 100), start.Add(60*time.Second))
	c, ok := s.Cache()
	if !ok || c < 0.98 || c > 0.99 {
		t.Errorf("cache share %.3f (known %v), want 12000/12200 = 0.984", c, ok)
	}
	perMin, tps, eta := s.Rates(start.Add(60 * time.Second))
	if perMin != 2 || tps != 1 || eta != time.Minute {
		t.Errorf("rates %v/min %v tok/s eta %v, want 2, 1 (60 tokens in 60 s), 1m", perMin, tps, eta)
	}
	got := s.Summary(start.Add(60 * time.Second))
	for _, want := range []string{"2.0 answers/min", "1 tokens/s", "98% of prompt tokens cached", "0 errors", "eta 1m0s"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}

// Without a warm-up, the slowest reading sets the rate, and the estimates
// of earlier samples follow it when a colder one comes.
func TestStatsCacheWithoutWarmUp(t *testing.T) {
	s := &Stats{Name: "m", Todo: 3}
	s.add(sample("m", 0, record.Refused, 1000, 500), time.Unix(1, 0))  // 2 tokens/ms
	s.add(sample("m", 1, record.Refused, 1000, 10), time.Unix(2, 0))   // 980 cached at 2/ms
	s.add(sample("m", 2, record.Refused, 1000, 1000), time.Unix(3, 0)) // colder: 1/ms
	// At 1 token/ms, the slowest: 500 + 990 + 0 cached of 3000.
	if c, ok := s.Cache(); !ok || c < 0.496 || c > 0.497 {
		t.Errorf("cache share %.3f, want 1490/3000", c)
	}
}

// A server that reports cached tokens is taken at its word.
func TestStatsCacheReported(t *testing.T) {
	s := &Stats{Name: "m", Todo: 2}
	r := sample("m", 0, record.Refused, 1000, 0)
	r.Backend, r.CachedTokens = llm.BackendOpenAI, 750
	s.add(r, time.Unix(1, 0))
	if c, ok := s.Cache(); !ok || c != 0.75 {
		t.Errorf("cache share %v (known %v), want 0.75", c, ok)
	}
	if _, ok := (&Stats{}).Cache(); ok {
		t.Error("no samples: the share cannot be known")
	}
}

// Plain mode: a line per model when it finishes or the interval passed, a
// line per error, nothing at all when quiet.
func TestDisplayPlain(t *testing.T) {
	for _, mode := range []Mode{Plain, Quiet} {
		var out strings.Builder
		c := &clock{t: time.Unix(100, 0)}
		d := New(&out, mode, c.now, 10*time.Second)
		d.Observe(runner.PlanEvent{Models: []runner.ModelPlan{{Name: "a", Planned: 4, Done: 1}, {Name: "b", Planned: 2}}})
		d.Observe(runner.ModelStarted{Model: "a"})
		c.t = c.t.Add(time.Second)
		d.Observe(runner.SampleFinished{Sample: sample("a", 0, record.Refused, 100, 0)}) // first: interval passed since zero
		c.t = c.t.Add(time.Second)
		bad := sample("a", 1, record.Error, 0, 0)
		bad.Error = "server error\nmore"
		d.Observe(runner.SampleFinished{Sample: bad})
		c.t = c.t.Add(time.Second)
		d.Observe(runner.SampleFinished{Sample: sample("a", 2, record.Unparsed, 100, 0)}) // the last of a
		fmt.Fprintln(d, "probe: a message")
		d.Close()
		got := out.String()
		if mode == Quiet {
			if got != "" {
				t.Errorf("quiet wrote %q", got)
			}
			continue
		}
		want := []string{
			"probe: a: 1/3, 60.0 answers/min",
			"probe: a a/s/b/free#0: error: server error\n",
			"probe: a: 3/3, 60.0 answers/min, 30 tokens/s, 1 error, 1 unparsed, done\n",
			"probe: a message\n",
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("plain output lacks %q:\n%s", w, got)
			}
		}
		if strings.Contains(got, "probe: b:") || strings.Count(got, "probe: a: ") != 2 {
			t.Errorf("lines for a model not started, or too many lines:\n%s", got)
		}
	}
}

// The judge's line counts each question's verdicts apart: an unclassified
// compliance verdict is not an unclassified af verdict.
func TestDisplayJudgeCountsEachQuestion(t *testing.T) {
	var out strings.Builder
	c := &clock{t: time.Unix(100, 0)}
	d := New(&out, Plain, c.now, 10*time.Second)
	for _, v := range []struct {
		kind  record.Kind
		label string
	}{
		{record.KindAF, record.LabelAF}, {record.KindAF, record.LabelNo}, {record.KindAF, record.LabelUnclassified},
		{record.KindCompliance, record.LabelUnclassified}, {record.KindCompliance, record.LabelComplied},
	} {
		d.Judged(record.Judgment{Kind: v.kind, Label: v.label})
	}
	c.t = c.t.Add(time.Minute)
	d.Judged(record.Judgment{Kind: record.KindCompliance, Label: record.LabelRefused})
	d.Close()
	want := "probe: judge: verdicts af 3 (1 af, 1 unclassified), compliance 3 (1 unclassified)\n"
	if got := out.String(); !strings.HasSuffix(got, want) {
		t.Errorf("judge lines:\n%s\nwant the last to be %q", got, want)
	}
}

// brokenTerminal fails every write, as a terminal that went away does.
type brokenTerminal struct{}

func (brokenTerminal) Write([]byte) (int, error) { return 0, errors.New("input/output error") }

// A display whose terminal went away (a redraw failed, so mpb stopped)
// still closes, rather than wait for ever to draw one last time.
func TestDisplayCloseAfterTheTerminalWentAway(t *testing.T) {
	d := New(brokenTerminal{}, Live, time.Now, 0)
	d.Observe(runner.PlanEvent{Models: []runner.ModelPlan{{Name: "a", Planned: 4}}})
	d.Observe(runner.ModelStarted{Model: "a"})
	time.Sleep(3 * refreshEvery) // a redraw, which fails
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the display's writes failed")
	}
}
