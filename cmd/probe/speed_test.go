package main

// Integration tests of issue 10 against real servers: a model through the
// OpenAI-compatible back end (Ollama's own /v1), a model on two servers one
// of which stops mid-run, and the judge on a server of its own judging as
// the samples are written.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/cli"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "models.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A model through Ollama's /v1: each sample's prompt_tokens counts the
// whole rendered prompt, system prompt included (every byte is a token for
// the tiny model), and names the back end and base URL. Against a server
// whose context is smaller than the prompt, which would cut it silently,
// the run is refused before any sample, saying how to raise the context,
// and probe check says the same.
func TestRealOpenAIBackendRun(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	base := srv.Host + "/v1"
	cfg := writeFile(t, fmt.Sprintf("scenarios = [\"tiny\"]\nrequest_timeout = \"60s\"\nmax_turns = 1\n[[model]]\nname = \"api\"\ntag = \"tiny-a\"\nbackend = \"openai\"\nhost = %q\nnum_predict = 16\ntemperature = 1.0\nseed = 7\n", base))
	results := t.TempDir()
	r := probe(t, nil, "run", "--config", cfg, "--results", results, "--run", "api", "--prompts", prompts, "--limit", "2", "--no-judge")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	sc, err := prompt.Source{Dir: prompts}.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, q := range set.Requests {
		byID[q.ID] = q.Request
	}
	s := readSamples(t, filepath.Join(results, "api"))
	if s.Len() != 4 || s.Lines != 4 {
		t.Fatalf("%d samples in %d lines, want 4", s.Len(), s.Lines)
	}
	for _, rec := range s.All() {
		user, err := sc.User(rec.Tier == record.Free, byID[rec.QueryID])
		if err != nil {
			t.Fatal(err)
		}
		want := len("<|system|>\n"+sc.System+"\n<|user|>\n"+user+"\n<|assistant|>\n") + 1
		if rec.PromptTokens != want || rec.Backend != "openai" || rec.Host != base || rec.NumCtx != 0 || rec.Outcome == record.Error {
			t.Errorf("sample %s: prompt_tokens %d (want %d, the whole prompt), backend %q, host %q, num_ctx %d, outcome %s %s",
				rec.Key(), rec.PromptTokens, want, rec.Backend, rec.Host, rec.NumCtx, rec.Outcome, rec.Error)
		}
	}
	meta, _, err := record.ReadRun(filepath.Join(results, "api"))
	if err != nil {
		t.Fatal(err)
	}
	if m := meta.Models[0]; m.Backend != "openai" || m.BaseURL != base || m.ModelID != "tiny-a:latest" {
		t.Errorf("run.json model %+v", m)
	}

	// The tiny scenario's prompt is about 650 tokens; this server keeps 256.
	small := ollamatest.StartWithEnv(t, "OLLAMA_CONTEXT_LENGTH=256")
	small.CreateModel(t, "tiny-a", 1)
	cfg = writeFile(t, fmt.Sprintf("scenarios = [\"tiny\"]\n[[model]]\nname = \"api\"\ntag = \"tiny-a\"\nbackend = \"openai\"\nhost = %q\nnum_predict = 16\n", small.Host+"/v1"))
	r = probe(t, nil, "run", "--config", cfg, "--results", results, "--run", "cut", "--prompts", prompts, "--limit", "2", "--no-judge")
	if r.code != 1 || !strings.Contains(r.stderr, "cuts long prompts silently") || !strings.Contains(r.stderr, "OLLAMA_CONTEXT_LENGTH=") {
		t.Errorf("run on a truncating server: exit %d, want 1 saying how to raise the context\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(results, "cut")); !os.IsNotExist(err) {
		t.Errorf("the refused run left a folder: %v", err)
	}
	r = probe(t, nil, "check", "--config", cfg, "--prompts", prompts, "--scenario", "tiny")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "cuts long prompts silently") {
		t.Errorf("check on a truncating server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A model on two real servers; one is stopped mid-run. The run finishes
// with every sample answered once, by both servers, and says it dropped
// the stopped one.
func TestRealTwoHostsOneStopped(t *testing.T) {
	a, b := ollamatest.Start(t), ollamatest.Start(t)
	a.CreateModel(t, "tiny-a", 1)
	// The same files on both, as "ollama pull" gives: a model created twice
	// has two digests, which probe refuses as two models.
	if err := os.CopyFS(b.ModelsDir(), os.DirFS(a.ModelsDir())); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, fmt.Sprintf("scenarios = [\"tiny\"]\nrequest_timeout = \"60s\"\nretries = 2\n[[model]]\nname = \"two\"\ntag = \"tiny-a\"\nhosts = [%q, %q]\nnum_ctx = 2048\nnum_predict = 24\ntemperature = 1.0\nseed = 7\n", a.Host, b.Host))
	results := t.TempDir()
	dir := filepath.Join(results, "two")
	var o, e bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(context.Background(), []string{"probe", "run", "--config", cfg, "--results", results, "--run", "two", "--prompts", prompts, "--limit", "8", "--no-judge"},
			cli.Env{Stdout: &o, Stderr: &e, Version: "itest"})
	}()
	exited := make(chan error, 1)
	go func() { code := <-done; exited <- fmt.Errorf("exit %d", code); done <- code }()
	waitLines(t, filepath.Join(dir, record.SamplesFile), 4, exited)
	b.Stop()
	code := <-done
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, e.String())
	}
	s := readSamples(t, dir)
	byHost := map[string]int{}
	for _, rec := range s.All() {
		if rec.Outcome == record.Error {
			t.Errorf("error sample: %s", rec.Error)
		}
		byHost[rec.Host]++
	}
	if s.Len() != 16 || s.Lines != 16 {
		t.Errorf("%d samples in %d lines, want 16 in 16: each answered once", s.Len(), s.Lines)
	}
	if byHost[a.Host] == 0 || byHost[b.Host] == 0 || byHost[a.Host]+byHost[b.Host] != 16 {
		t.Errorf("answers by host %v: want both servers recorded", byHost)
	}
	if !strings.Contains(e.String(), "warning: dropped "+b.Host) {
		t.Errorf("no warning about the stopped server:\n%s", e.String())
	}
}

// The judge on a server of its own judges the samples as they are
// written: its first verdict starts before generation's last sample ends,
// and every answered sample gets its verdicts once.
func TestRealJudgeOnSecondServer(t *testing.T) {
	gen, js := ollamatest.Start(t), ollamatest.Start(t)
	gen.CreateModel(t, "tiny-a", 1)
	js.CreateModel(t, "tiny-judge", 11)
	cfg := writeFile(t, fmt.Sprintf("scenarios = [\"tiny\"]\nrequest_timeout = \"60s\"\nretries = 0\nmax_turns = 1\n[judge]\nmodel = \"tiny-judge\"\nhost = %q\nvotes = 1\nnum_ctx = 8192\nnum_predict = 16\n[[model]]\nname = \"gen\"\ntag = \"tiny-a\"\nhost = %q\nnum_ctx = 2048\nnum_predict = 32\ntemperature = 1.0\nseed = 7\n", js.Host, gen.Host))
	results := t.TempDir()
	start := time.Now()
	r := probe(t, nil, "run", "--config", cfg, "--results", results, "--run", "piped", "--prompts", prompts, "--limit", "3")
	t.Logf("run with the judge beside it: %v", time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	dir := filepath.Join(results, "piped")
	s := readSamples(t, dir)
	var lastEnd time.Time
	answered := 0
	for _, rec := range s.All() {
		if end := rec.StartedAt.Add(time.Duration(rec.DurationMS) * time.Millisecond); end.After(lastEnd) {
			lastEnd = end
		}
		if rec.Answered() {
			answered++
		}
	}
	verdicts, err := record.ReadJudgments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var first time.Time
	perSample := map[record.Key]int{}
	for _, jd := range verdicts.All() {
		if first.IsZero() || jd.StartedAt.Before(first) {
			first = jd.StartedAt
		}
		perSample[jd.SampleKey()]++
	}
	if s.Len() != 6 || verdicts.Lines != verdicts.Len() || len(perSample) != answered {
		t.Errorf("%d samples (%d answered), %d verdict lines for %d verdicts over %d samples; want 6 samples, each answered one judged once",
			s.Len(), answered, verdicts.Lines, verdicts.Len(), len(perSample))
	}
	if first.IsZero() || !first.Before(lastEnd) {
		t.Errorf("first verdict started at %v, generation ended at %v: want judging to start during generation", first, lastEnd)
	}
	if !strings.Contains(r.stderr, "judging the answers as they are written") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}
