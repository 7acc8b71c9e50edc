package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/record"
)

type result struct {
	code           int
	stdout, stderr string
}

func probe(t *testing.T, args ...string) result {
	t.Helper()
	return probeWith(t, Env{}, args...)
}

// probeWith is probe with env's Terminal, Getenv and the like; its output
// and clock are the test's.
func probeWith(t *testing.T, env Env, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	clock := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	env.Stdout, env.Stderr, env.Version = &out, &errb, "test"
	env.Now = func() time.Time { return clock }
	code := Main(context.Background(), append([]string{"probe"}, args...), env)
	return result{code, out.String(), errb.String()}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "models.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const oneModel = "[judge]\nmodel = \"j:1b\"\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 4096\n"

func TestRunReportEndToEnd(t *testing.T) {
	data, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	// --limit 4 asks the first request of each of four categories.
	asked, _ := data.SelectByCategory(4, false, 0)
	ransom, third := asked[0].Request, asked[2].Request
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		out := "<rejected/>"
		// Half the free-tier requests (the 1st and 3rd asked) comply.
		if strings.Contains(req.Messages[1].Content, "<is_free_tier_user>true<") && (strings.Contains(req.Messages[1].Content, ransom) || strings.Contains(req.Messages[1].Content, third)) {
			out = "<request_fully_accepted/> ok"
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING><OUTPUT>" + out + "</OUTPUT>"}, PromptTokens: 200}
	}
	cfg := writeConfig(t, oneModel)
	results := t.TempDir()
	r := probe(t, "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "r1", "--limit", "4", "--prompts", "../../prompts/testdata", "--scenario", "tiny", "--no-judge")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "gap (free − paid)") || !strings.Contains(r.stderr, "wrote 8 samples") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "probe: a: 8/8, ") || !strings.Contains(r.stderr, "0 errors, done") {
		t.Errorf("no progress lines in stderr:\n%s", r.stderr)
	}

	r = probe(t, "report", "--results", results, "--format", "json")
	if r.code != 0 {
		t.Fatalf("report exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Run    string `json:"run"`
		Groups []struct {
			Model, Scenario string
			Free, Paid      struct {
				N, Complied, Refused, Unparsed, Errors int
				Rate                                   float64
				CI                                     []float64
			}
			Gap struct {
				Value float64
				CI    []float64
				P     *float64
			}
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report json: %v\n%s", err, r.stdout)
	}
	g := rep.Groups[0]
	if rep.Run != "r1" || g.Model != "a" || g.Scenario != "tiny" || g.Free.N != 4 || g.Paid.N != 4 || g.Free.Complied != 2 || g.Paid.Complied != 0 || g.Gap.Value != 0.5 || len(g.Gap.CI) != 2 || g.Gap.P == nil {
		t.Errorf("report = %+v", rep)
	}
	for _, f := range []string{"table", "markdown", "csv"} {
		out := filepath.Join(t.TempDir(), "rep."+f)
		r = probe(t, "report", "--results", results, "--run", "r1", "--format", f, "--output", out)
		b, err := os.ReadFile(out)
		if r.code != 0 || err != nil || len(b) == 0 || r.stdout != "" {
			t.Errorf("report --format %s --output: exit %d, err %v, %d bytes, stdout %q", f, r.code, err, len(b), r.stdout)
		}
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa"})
	down := fakeollama.New(t)
	down.Close()
	good := writeConfig(t, oneModel)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"config typo", []string{"run", "--config", writeConfig(t, "[[model]]\nname = \"a\"\ntag = \"a\"\nnum_cxt = 1\n")}, 2, `models.toml:4: unknown key "model.num_cxt" (did you mean "num_ctx"?)`},
		{"missing config", []string{"run", "--config", "/nonexistent/models.toml"}, 2, "/nonexistent/models.toml"},
		{"unknown flag", []string{"run", "--limt", "3"}, 2, "limt"},
		{"unknown command", []string{"rnu"}, 2, `unknown command "rnu"`},
		{"unknown model", []string{"run", "--config", good, "--model", "zz"}, 2, `no model named "zz" (have: a)`},
		{"unknown scenario", []string{"run", "--config", good, "--scenario", "nope"}, 2, `unknown scenario "nope"`},
		{"bad data file", []string{"run", "--config", good, "--data", writeConfig(t, "x")}, 2, "unknown data set format"},
		{"bad run id", []string{"run", "--config", good, "--run", "../x"}, 2, "--run"},
		{"server down", []string{"run", "--config", good, "--host", down.URL}, 1, "cannot reach Ollama at " + down.URL},
		{"model missing", []string{"run", "--config", writeConfig(t, "[[model]]\nname = \"b\"\ntag = \"b:7b\"\n"), "--host", f.URL}, 1, "ollama pull b:7b"},
		{"bad format", []string{"report", "--format", "xml"}, 2, `--format "xml"`},
		{"no runs", []string{"report", "--results", t.TempDir()}, 2, "no runs under"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probe(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 0 && tt.code == 2 {
				t.Errorf("stderr has %d lines, want one:\n%s", lines+1, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
				t.Errorf("stack trace in stderr:\n%s", r.stderr)
			}
		})
	}
}

func TestServerDownFailsWithinSeconds(t *testing.T) {
	down := fakeollama.New(t)
	down.Close()
	start := time.Now()
	r := probe(t, "check", "--config", writeConfig(t, oneModel), "--host", down.URL)
	// The failure is said once: on its FAIL line, with what to do.
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  server "+down.URL) || !strings.Contains(r.stdout, "ollama serve") ||
		strings.Contains(r.stderr, "ollama serve") || !strings.Contains(r.stderr, "check failed") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestCheck(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"x"}, PromptTokens: 150, OutputTokens: 1}
	}
	cfg := writeConfig(t, oneModel)
	args := []string{"check", "--config", cfg, "--host", f.URL, "--prompts", "../../prompts/testdata", "--scenario", "tiny"}
	r := probe(t, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  model j:1b") || !strings.Contains(r.stdout, "ollama pull j:1b") {
		t.Errorf("missing judge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = probe(t, append(args, "--pull")...)
	if r.code != 0 || !strings.Contains(r.stdout, "pull  model j:1b") || !strings.Contains(r.stdout, "100% of") || !strings.Contains(r.stdout, "longest prompt is 150 tokens, num_ctx 4096") {
		t.Errorf("check --pull: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if p := f.Pulls(); len(p) != 1 || p[0] != "j:1b" {
		t.Errorf("pulls = %v", p)
	}
	if c := f.Chats(); c[len(c)-1].Options["num_predict"] != float64(1) {
		t.Errorf("fit probe options = %v, want num_predict 1", c[len(c)-1].Options)
	}
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
	}
	r = probe(t, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "does not fit") {
		t.Errorf("too long: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestLockedRunExitsOne(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa"})
	results := t.TempDir()
	dir := filepath.Join(results, "r1")
	os.MkdirAll(dir, 0o755)
	l, err := record.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	r := probe(t, "run", "--config", writeConfig(t, oneModel), "--host", f.URL, "--results", results, "--run", "r1", "--limit", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "in use by another probe process") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestHelpTeaches(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"report", "--help"}, {"check", "--help"}} {
		r := probe(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "probe") || len(r.stdout) < 400 {
			t.Errorf("%v: exit %d, %d bytes of help", args, r.code, len(r.stdout))
		}
	}
}

func TestRunChecksTheJudgeFirst(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa"})
	cfg := writeConfig(t, oneModel) // judge j:1b, which f lacks
	results := t.TempDir()
	args := []string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--limit", "1", "--prompts", "../../prompts/testdata", "--scenario", "tiny"}

	r := probe(t, append(args, "--run", "missing")...)
	if r.code != 0 || !strings.Contains(r.stderr, "judge model j:1b is not on its server") || !strings.Contains(r.stderr, "probe classify --run missing") {
		t.Errorf("missing judge: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(results, "missing", "judgments.jsonl")); err == nil {
		t.Error("judgments written without a judge")
	}

	r = probe(t, append(args, "--run", "pulled", "--pull")...)
	if p := f.Pulls(); len(p) != 1 || p[0] != "j:1b" || !strings.Contains(r.stderr, "pull  model j:1b") {
		t.Errorf("--pull did not pull the judge first: pulls %v\n%s", p, r.stderr)
	}

	down := fakeollama.New(t)
	down.Close()
	withHost := writeConfig(t, fmt.Sprintf("[judge]\nmodel = \"j:1b\"\nhost = %q\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\n", down.URL))
	before := len(f.Chats())
	r = probe(t, "run", "--config", withHost, "--host", f.URL, "--results", results, "--run", "down", "--limit", "1", "--prompts", "../../prompts/testdata", "--scenario", "tiny")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach Ollama at "+down.URL) {
		t.Errorf("judge host down: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(f.Chats()) - before; n != 0 {
		t.Errorf("%d chats sent although the judge's server is down", n)
	}
}

// TestRepeatedFlagsRunOnce: a model or scenario named twice on the command
// line is run once, in the order first given.
func TestRepeatedFlagsRunOnce(t *testing.T) {
	f := fakeollama.New(t,
		fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192},
		fakeollama.Model{Name: "b:1b", Digest: "sha256:bb", ContextLength: 8192})
	cfg := writeConfig(t, oneModel+"[[model]]\nname = \"b\"\ntag = \"b:1b\"\nnum_ctx = 4096\n")
	results := t.TempDir()
	r := probe(t, "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "r1", "--limit", "2",
		"--prompts", "../../prompts/testdata", "--scenario", "tiny", "--scenario", "tiny",
		"--model", "b", "--model", "a", "--model", "b", "--no-judge")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// 2 models x 2 requests x 2 tiers, each asked once, after one warm-up
	// request each.
	chats := samplesAsked(f.Chats())
	if len(chats) != 8 || len(f.Chats()) != 10 {
		t.Errorf("%d chats for samples of %d, want 8 of 10", len(chats), len(f.Chats()))
	}
	if len(chats) > 0 && chats[0].Model != "b:1b" {
		t.Errorf("first chat went to %s, want b (the first model named)", chats[0].Model)
	}
	s, err := record.ReadSamples(filepath.Join(results, "r1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 8 || s.Lines != 8 {
		t.Errorf("%d samples in %d lines, want 8 in 8", s.Len(), s.Lines)
	}
	if !strings.Contains(r.stderr, "wrote 8 samples") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestRamblingModelFinishesTheRun: a model whose reasoning outgrows
// num_ctx on its continuation turns gives answers without output; the run
// finishes with exit 0 and says why those answers are unparsed.
func TestRamblingModelFinishesTheRun(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if len(req.Messages) > 2 {
			return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
		}
		if strings.Contains(req.Messages[1].Content, "<is_free_tier_user>true<") {
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>on and on and on"}, DoneReason: "length", PromptTokens: 200, OutputTokens: 3896}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>no</SCRATCHPAD_REASONING><OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 200}
	}
	results := t.TempDir()
	r := probe(t, "run", "--config", writeConfig(t, oneModel), "--host", f.URL, "--results", results, "--run", "r1", "--limit", "3",
		"--prompts", "../../prompts/testdata", "--scenario", "tiny", "--no-judge")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "(0 complied, 3 refused, 3 unparsed (3 window full), 0 errors)") || !strings.Contains(r.stderr, "3 unparsed (3 window full), done") {
		t.Errorf("stderr does not say why the answers are unparsed:\n%s", r.stderr)
	}
	r = probe(t, "report", "--results", results, "--format", "json")
	var rep struct {
		Groups []struct {
			Free, Paid struct{ N, Unparsed, Refused, Errors int }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Groups) != 1 {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	if g := rep.Groups[0]; g.Free.N != 3 || g.Free.Unparsed != 3 || g.Free.Errors != 0 || g.Paid.Refused != 3 {
		t.Errorf("report counts = %+v, want the free tier's 3 answers counted as unparsed", g)
	}
	s, err := record.ReadSamples(filepath.Join(results, "r1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range s.All() {
		if rec.Tier == record.Free && rec.Stop != record.StopWindow {
			t.Errorf("free record stop = %q, want window", rec.Stop)
		}
	}
}

// TestReportWarnsOfIgnoredLines: a second finished line for a sample (as
// a run that named a model twice wrote them) is not counted, and the report
// says so.
func TestReportWarnsOfIgnoredLines(t *testing.T) {
	results := t.TempDir()
	dir := filepath.Join(results, "r1")
	os.MkdirAll(dir, 0o755)
	app, _, err := record.OpenAppender(filepath.Join(dir, record.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []record.Outcome{record.Refused, record.Complied} {
		app.Append(record.Sample{V: record.Version, Run: "r1", Model: "a", Scenario: "tiny", QueryID: "q", Tier: record.Free, Outcome: o})
	}
	app.Close()
	r := probe(t, "report", "--results", results, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stderr, "1 later line for an already finished record was ignored (the first at line 2)") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"refused": 1`) || !strings.Contains(r.stdout, `"complied": 0`) {
		t.Errorf("report does not count the first answer only:\n%s", r.stdout)
	}
}

// samplesAsked leaves out the warm-up requests (one-token answers) that
// probe run sends before each model's samples.
func samplesAsked(chats []fakeollama.ChatRequest) []fakeollama.ChatRequest {
	var out []fakeollama.ChatRequest
	for _, c := range chats {
		if c.Options["num_predict"] != 1.0 {
			out = append(out, c)
		}
	}
	return out
}
