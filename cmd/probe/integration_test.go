package main

// Integration tests: the probe against a real Ollama server built from its Go
// module, with tiny random-weight models. The models' words are random, so
// these tests assert the probe's behaviour (records, counts, flags, errors,
// resumption), never what a model says. They skip only under -short.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/cli"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/record"
)

const prompts = "../../prompts/testdata"

// tinyConfig configures models under test with a window that holds the
// short test scenario and a short answer.
func tinyConfig(t *testing.T, extra string, models ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("request_timeout = \"60s\"\nretries = 1\nscenarios = [\"tiny\"]\n" + extra + "\n")
	for _, m := range models {
		fmt.Fprintf(&b, "[[model]]\nname = %q\ntag = %q\nnum_ctx = 2048\nnum_predict = 24\ntemperature = 1.0\nseed = 7\n\n", m, m)
	}
	p := filepath.Join(t.TempDir(), "models.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type out struct {
	code           int
	stdout, stderr string
}

// probe runs the command in process against srv.
func probe(t *testing.T, srv *ollamatest.Server, args ...string) out {
	t.Helper()
	var o, e bytes.Buffer
	full := append([]string{"probe"}, args...)
	if srv != nil {
		full = append(full, "--host", srv.Host)
	}
	code := cli.Main(context.Background(), full, cli.Env{Stdout: &o, Stderr: &e, Version: "itest"})
	return out{code, o.String(), e.String()}
}

func readSamples(t *testing.T, dir string) *record.Samples {
	t.Helper()
	s, err := record.ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRealRunTwoModelsAndReport(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	srv.CreateModel(t, "tiny-b", 2)
	cfg := tinyConfig(t, "", "tiny-a", "tiny-b")
	results := t.TempDir()

	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "two", "--prompts", prompts, "--limit", "3", "--samples", "2")
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", r.code, r.stderr, srv.Log())
	}
	dir := filepath.Join(results, "two")
	s := readSamples(t, dir)
	// 2 models x 3 requests x 2 tiers x 2 samples, each once.
	if s.Len() != 24 || s.Lines != 24 || s.Torn {
		t.Fatalf("%d samples in %d lines (torn %v), want 24 in 24", s.Len(), s.Lines, s.Torn)
	}
	for _, rec := range s.All() {
		if rec.Outcome == record.Error {
			t.Errorf("error sample: %+v", rec)
			continue
		}
		if rec.Run != "two" || rec.Scenario != "tiny" || rec.PromptTokens <= 0 || rec.PromptTokens >= rec.NumCtx || rec.NumCtx != 2048 ||
			rec.OutputTokens <= 0 || rec.DoneReason == "" || rec.Truncated || rec.Attempts != 1 || rec.Turns < 1 || rec.DurationMS <= 0 {
			t.Errorf("record fields: %+v", rec)
		}
	}

	meta, ok, err := record.ReadRun(dir)
	if err != nil || !ok {
		t.Fatalf("run.json: %v", err)
	}
	if meta.Ollama != "0.17.4" {
		t.Errorf("run.json Ollama version = %q, want 0.17.4", meta.Ollama)
	}
	list, err := srv.Client().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, m := range list.Models {
		digests[strings.TrimSuffix(m.Name, ":latest")] = m.Digest
	}
	if len(meta.Models) != 2 {
		t.Fatalf("run.json models = %+v", meta.Models)
	}
	for _, m := range meta.Models {
		if m.Digest == "" || m.Digest != digests[m.Name] {
			t.Errorf("run.json digest of %s = %q, server says %q", m.Name, m.Digest, digests[m.Name])
		}
		if m.Options["num_ctx"] != float64(2048) || m.Options["seed"] != float64(7) {
			t.Errorf("run.json options of %s = %v", m.Name, m.Options)
		}
	}
	if meta.Models[0].Digest == meta.Models[1].Digest {
		t.Error("the two test models have the same digest")
	}
	if len(meta.Scenarios) != 1 || len(meta.Scenarios[0].Files) != 3 || meta.Dataset.SHA256 == "" || meta.ProbeVersion != "itest" {
		t.Errorf("run.json provenance = %+v", meta)
	}

	// Every report format, parsed where it is machine-readable.
	r = probe(t, nil, "report", "--results", results, "--format", "json")
	var rep struct {
		Run    string
		Groups []struct {
			Model      string
			Free, Paid struct{ N, Complied, Refused, Unparsed, Errors int }
			Gap        struct {
				Value float64
				CI    []float64
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("report json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if rep.Run != "two" || len(rep.Groups) != 2 {
		t.Fatalf("report = %+v", rep)
	}
	for _, g := range rep.Groups {
		if g.Free.N+g.Free.Errors != 6 || g.Paid.N+g.Paid.Errors != 6 || g.Free.N != g.Free.Complied+g.Free.Refused+g.Free.Unparsed {
			t.Errorf("group %s counts = %+v", g.Model, g)
		}
	}
	r = probe(t, nil, "report", "--results", results, "--run", "two", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 5 {
		t.Errorf("csv: %v, %d rows, want header + 4", err, len(rows))
	}
	for _, f := range []string{"table", "markdown"} {
		r = probe(t, nil, "report", "--results", results, "--format", f)
		if r.code != 0 || !strings.Contains(r.stdout, "tiny-a") || !strings.Contains(r.stdout, "tiny-b") {
			t.Errorf("report %s: exit %d\n%s", f, r.code, r.stdout)
		}
	}
}

func TestRealPromptLongerThanContext(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	cfg := filepath.Join(t.TempDir(), "models.toml")
	// The tiny scenario's prompt is ~650 bytes, one token a byte here.
	os.WriteFile(cfg, []byte("scenarios = [\"tiny\"]\nretries = 0\n[[model]]\nname = \"small\"\ntag = \"tiny-a\"\nnum_ctx = 256\nnum_predict = 8\n"), 0o644)
	results := t.TempDir()
	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "ctx", "--prompts", prompts, "--limit", "3")
	if r.code != 1 || !strings.Contains(r.stderr, "raise num_ctx") {
		t.Fatalf("exit %d, want 1 naming num_ctx\n%s", r.code, r.stderr)
	}
	s := readSamples(t, filepath.Join(results, "ctx"))
	if s.Len() != 1 {
		t.Errorf("%d records, want 1 (the model is stopped after the first refusal)", s.Len())
	}
	for _, rec := range s.All() {
		if rec.Outcome != record.Error || rec.Answered() {
			t.Errorf("a sample with a cut prompt was counted: %+v", rec)
		}
	}
	r = probe(t, nil, "report", "--results", results, "--format", "json")
	if !strings.Contains(r.stdout, `"n": 0`) || !strings.Contains(r.stdout, `"errors": 1`) {
		t.Errorf("report counts the cut sample:\n%s", r.stdout)
	}

	// The full helpful-only prompt, once: check measures it and says it
	// does not fit a 2048-token window (Ollama refuses it before any
	// evaluation, so this costs no generation).
	full := filepath.Join(t.TempDir(), "full.toml")
	os.WriteFile(full, []byte("[[model]]\nname = \"small\"\ntag = \"tiny-a\"\nnum_ctx = 2048\n"), 0o644)
	r = probe(t, srv, "check", "--config", full)
	if r.code != 1 || !strings.Contains(r.stdout, "does not fit") {
		t.Errorf("check of the full prompt: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestRealThinkOnModelThatCannotThink(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	cfg := tinyConfig(t, "", "tiny-a")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("think = true\n")...), 0o644)
	results := t.TempDir()
	r := probe(t, srv, "run", "--config", cfg, "--results", results, "--run", "think", "--prompts", prompts, "--limit", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "does not support thinking") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	for _, rec := range readSamples(t, filepath.Join(results, "think")).All() {
		if rec.Outcome != record.Error {
			t.Errorf("record = %+v", rec)
		}
	}
}

// binDir holds the probe binary the tests that must kill it share; TestMain
// sets it before any test runs and removes it after.
var binDir string

// probeBinary compiles the probe once: compiling takes longer than the tests.
var probeBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "probe")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "probe-itest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildProbe(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip(ollamatest.SkipMessage)
	}
	bin, err := probeBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// waitLines waits until path has at least n lines, or the process exits.
func waitLines(t *testing.T, path string, n int, done <-chan error) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("probe exited before writing %d samples: %v", n, err)
		case <-deadline:
			t.Fatalf("no %d samples after 2 minutes", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestRealKilledProbeResumesExactly(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	bin := buildProbe(t)
	cfg := tinyConfig(t, "", "tiny-a")
	results := t.TempDir()
	dir := filepath.Join(results, "killed")
	args := []string{"run", "--config", cfg, "--results", results, "--run", "killed", "--prompts", prompts, "--limit", "6", "--samples", "2", "--host", srv.Host}

	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitLines(t, filepath.Join(dir, record.SamplesFile), 5, done)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	before := readSamples(t, dir)
	if before.Len() >= 24 {
		t.Fatalf("the run finished (%d samples) before it could be killed", before.Len())
	}

	r := exec.Command(bin, args...)
	outb, err := r.CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, outb)
	}
	if !strings.Contains(string(outb), fmt.Sprintf("%d already done", before.Len())) {
		t.Errorf("resume did not report the %d done samples:\n%s", before.Len(), outb)
	}
	after := readSamples(t, dir)
	// 1 model x 6 requests x 2 tiers x 2 samples, each exactly once.
	if after.Len() != 24 || after.Lines != 24 || after.Torn {
		t.Errorf("after resume: %d samples in %d lines (torn %v), want 24 in 24", after.Len(), after.Lines, after.Torn)
	}
	for _, rec := range before.All() {
		got, _ := after.Get(rec.Key())
		if got.Response != rec.Response || got.StartedAt != rec.StartedAt {
			t.Errorf("sample %s was redone or changed after resume", rec.Key())
		}
	}
	meta, _, _ := record.ReadRun(dir)
	if n := len(meta.Sessions); n != 2 || meta.Sessions[0].Status != "running" || meta.Sessions[1].Status != "complete" {
		t.Errorf("sessions = %+v, want the killed one still marked running and a complete one", meta.Sessions)
	}
}

func TestRealServerKilledMidRun(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	cfg := tinyConfig(t, "", "tiny-a")
	results := t.TempDir()
	dir := filepath.Join(results, "crash")
	args := []string{"run", "--config", cfg, "--results", results, "--run", "crash", "--prompts", prompts, "--limit", "8"}

	done := make(chan out, 1)
	go func() { done <- probe(t, srv, args...) }()
	waitLines(t, filepath.Join(dir, record.SamplesFile), 3, nil)
	srv.Kill()
	var r out
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("probe did not stop within a minute of the server dying")
	}
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach Ollama at "+srv.Host) || !strings.Contains(r.stderr, "rerun the same command to resume") {
		t.Fatalf("exit %d, want 1 with a clear message:\n%s", r.code, r.stderr)
	}
	mid := readSamples(t, dir)
	if mid.Len() >= 16 {
		t.Fatalf("the run finished (%d samples) before the server was killed", mid.Len())
	}

	srv.Restart(t)
	r = probe(t, srv, args...)
	if r.code != 0 {
		t.Fatalf("rerun exit %d\n%s", r.code, r.stderr)
	}
	s := readSamples(t, dir)
	if s.Len() != 16 {
		t.Errorf("%d samples after the rerun, want 16", s.Len())
	}
	for _, rec := range s.All() {
		if rec.Outcome == record.Error {
			t.Errorf("an error record was left after the rerun: %+v", rec)
		}
	}
	if s.Lines != s.Len()+mid.Lines-countDone(mid) {
		t.Errorf("%d lines for %d samples: a finished sample was written twice", s.Lines, s.Len())
	}
}

// countDone counts the samples that hold a model answer.
func countDone(s *record.Samples) int {
	n := 0
	for _, r := range s.All() {
		if r.Outcome != record.Error {
			n++
		}
	}
	return n
}

func TestRealCheck(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	cfg := tinyConfig(t, "[judge]\nmodel = \"tiny-a\"\n", "tiny-a")
	r := probe(t, srv, "check", "--config", cfg, "--prompts", prompts)
	if r.code != 0 || !strings.Contains(r.stdout, "Ollama 0.17.4") || !strings.Contains(r.stdout, "all checks passed") || !strings.Contains(r.stdout, "longest prompt is") {
		t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	missing := tinyConfig(t, "", "tiny-a", "not-pulled")
	r = probe(t, srv, "check", "--config", missing, "--prompts", prompts)
	if r.code != 1 || !strings.Contains(r.stdout, "ollama pull not-pulled") {
		t.Errorf("missing model: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	srv.Stop()
	start := time.Now()
	r = probe(t, srv, "check", "--config", cfg, "--prompts", prompts)
	// Said once, on the server's FAIL line; the error only counts it.
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  server "+srv.Host+": cannot reach Ollama at "+srv.Host) || !strings.Contains(r.stderr, "check failed: 1 problem") {
		t.Errorf("stopped server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to notice the server is down", d)
	}
}

func TestRealFailedWriteKeepsWhatWasSynced(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny-a", 1)
	bin := buildProbe(t)
	cfg := tinyConfig(t, "", "tiny-a")
	results := t.TempDir()
	dir := filepath.Join(results, "full")
	args := []string{"run", "--config", cfg, "--results", results, "--run", "full", "--prompts", prompts, "--limit", "6", "--samples", "2", "--host", srv.Host}

	// A file-size limit of 8 KiB makes samples.jsonl's writes fail part way,
	// as a full disk would (Go ignores SIGXFSZ, so write returns EFBIG).
	cmd := exec.Command("bash", append([]string{"-c", `ulimit -f 8 && exec "$0" "$@"`, bin}, args...)...)
	outb, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit %d (%v), want 1\n%s", code, err, outb)
	}
	if !strings.Contains(string(outb), "file too large") || !strings.Contains(string(outb), "rerun the same command to resume") {
		t.Errorf("message does not say what failed and what to do:\n%s", outb)
	}
	kept := readSamples(t, dir)
	if kept.Len() == 0 || kept.Len() >= 24 {
		t.Fatalf("%d samples kept, want some but not all 24", kept.Len())
	}

	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	after := readSamples(t, dir)
	if after.Len() != 24 || after.Lines != 24 || after.Torn {
		t.Errorf("after resume: %d samples in %d lines (torn %v), want 24 in 24", after.Len(), after.Lines, after.Torn)
	}
	for _, rec := range kept.All() {
		if got, _ := after.Get(rec.Key()); got.StartedAt != rec.StartedAt {
			t.Errorf("kept sample %s was lost or redone", rec.Key())
		}
	}
}
