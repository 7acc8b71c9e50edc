package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// The judge's bound on the answers is a bound: max_turns turns of what
// bounds one turn, num_predict, or on Ollama num_ctx (given, or as the
// runner sizes it), which ends an answer when the window is full.
func TestJudgeBound(t *testing.T) {
	sc, err := prompt.Source{Dir: testPrompts}.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	reqs := set.Select(3, false, 0)
	sized := llm.SizeContext(runner.LongestPrompt([]*prompt.Scenario{sc}, reqs), llm.DefaultAnswerTokens, 0, 0)
	tests := []struct {
		name   string
		models string
		answer int // tokens, over the 3 turns
	}{
		{"num_predict", "num_predict = 2048\nnum_ctx = 8192\n", 3 * 2048},
		{"num_ctx below num_predict", "num_predict = 9000\nnum_ctx = 4096\n", 3 * 4096},
		{"num_ctx alone", "num_ctx = 4096\n", 3 * 4096},
		{"num_ctx sized", "", 3 * sized},
		{"openai with num_predict", "backend = \"openai\"\nhost = \"http://x/v1\"\nnum_predict = 100\n", 3 * 100},
		{"openai without", "backend = \"openai\"\nhost = \"http://x/v1\"\n", 3 * llm.DefaultAnswerTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("models.toml", []byte("max_turns = 3\n[[model]]\nname = \"m\"\ntag = \"m\"\n"+tt.models))
			if err != nil {
				t.Fatal(err)
			}
			p := &runPlan{cfg: cfg, models: cfg.Models, scenarios: []*prompt.Scenario{sc}, requests: reqs}
			want := judge.FollowLongest(runner.LongestRequest(reqs).Request, tt.answer)
			if got := p.judgeBound(); got != want {
				t.Errorf("judgeBound() = %d bytes, want %d (answers of %d tokens)", got, want, tt.answer)
			}
		})
	}
}

// probe run --pull with the server down says so once: the error it returns,
// not also a FAIL line, which is probe check's report.
func TestRunPullServerDownSaysItOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := writeConfig(t, oneModel)
	r := probe(t, "run", "--config", cfg, "--host", "http://"+addr, "--results", t.TempDir(), "--pull", "--no-judge",
		"--prompts", testPrompts, "--scenario", "tiny", "--limit", "1")
	if n := strings.Count(r.stderr, "cannot reach"); r.code != 1 || n != 1 {
		t.Errorf("exit %d, 'cannot reach' said %d times; want exit 1 and once:\n%s", r.code, n, r.stderr)
	}
}

// A model stopped because the server refuses its prompt is said once, by
// the run's error, which names it once: not also by a "stopping" line or
// the failed sample's progress line.
func TestModelStoppedIsSaidOnce(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
	}
	cfg := writeConfig(t, oneModel)
	r := probe(t, "run", "--config", cfg, "--host", f.URL, "--results", t.TempDir(), "--no-judge",
		"--prompts", testPrompts, "--scenario", "tiny", "--limit", "1")
	if n := strings.Count(r.stderr, "refused the prompt as longer than num_ctx"); r.code != 1 || n != 1 || strings.Contains(r.stderr, "a (a:1b): a (a:1b)") {
		t.Errorf("exit %d, the reason said %d times; want exit 1, the reason and the model once each:\n%s", r.code, n, r.stderr)
	}
}

// windowedServer is a server that counts 4 characters a token and, as
// Ollama does, refuses a prompt that does not fit the request's num_ctx;
// every answer it gives is a refusal.
func windowedServer(t *testing.T) *fakeollama.Server {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 131072})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		n := 0
		for _, m := range req.Messages {
			n += len(m.Content) / 4
		}
		if ctx, ok := req.Options["num_ctx"].(float64); ok && n >= int(ctx) {
			return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING><OUTPUT><rejected/></OUTPUT>"}, PromptTokens: n}
	}
	return f
}

// A run whose num_ctx probe sized keeps that window when resumed, so a
// resumption that adds a longer variant (documents) cannot take it: it is
// refused before anything is sent, with advice that works (a new run), not
// "raise num_ctx", which the resumed run would refuse as another setup.
func TestResumeWithALongerVariantIsRefusedUpFront(t *testing.T) {
	f := windowedServer(t)
	cfg := writeConfig(t, "retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\n")
	results := t.TempDir()
	run := func(id string, args ...string) result {
		return probe(t, append([]string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--run", id, "--no-judge", "-q", "--limit", "1", "--scenario", "helpful-only"}, args...)...)
	}
	if r := run("r1"); r.code != 0 {
		t.Fatalf("first session: exit %d\n%s", r.code, r.stderr)
	}
	before, err := os.ReadFile(filepath.Join(results, "r1", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	sent := len(f.Chats())

	r := run("r1", "--variant", "documents")
	if r.code != 2 {
		t.Errorf("resume with documents: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 {
		t.Errorf("want one line, got %d:\n%s", len(lines), r.stderr)
	}
	for _, want := range []string{"variant documents of scenario helpful-only", "num_ctx 13312", "tokens", "--run NEW"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("message lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "raise num_ctx") {
		t.Errorf("message advises raising num_ctx, which a resumed run refuses:\n%s", r.stderr)
	}
	if n := len(f.Chats()); n != sent {
		t.Errorf("the refused resumption sent %d requests", n-sent)
	}
	for _, s := range readSamples(t, filepath.Join(results, "r1")) {
		if s.Variant != "" {
			t.Errorf("a sample of variant %q was recorded: %+v", s.Variant, s.Key())
		}
	}
	if after, _ := os.ReadFile(filepath.Join(results, "r1", "run.json")); !bytes.Equal(before, after) {
		t.Errorf("the refused resumption changed run.json")
	}

	// What the message advises works.
	if r := run("r2", "--variant", "documents"); r.code != 0 {
		t.Errorf("the same command with a new --run: exit %d\n%s", r.code, r.stderr)
	}
}

// With num_ctx set in models.toml, a resumption whose added variant is
// longer than that window is refused by the server; the message must not
// send the user to a num_ctx the resumed run would then refuse, but to a
// new run with it, and that advice must work.
func TestResumeWithALongerVariantAndASetWindowPointsToANewRun(t *testing.T) {
	f := windowedServer(t)
	results := t.TempDir()
	run := func(numCtx int, id string, args ...string) result {
		cfg := writeConfig(t, fmt.Sprintf("retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = %d\n", numCtx))
		return probe(t, append([]string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--run", id, "--no-judge", "-q", "--limit", "1", "--scenario", "helpful-only"}, args...)...)
	}
	if r := run(12288, "r1"); r.code != 0 {
		t.Fatalf("first session: exit %d\n%s", r.code, r.stderr)
	}
	r := run(12288, "r1", "--variant", "documents")
	if r.code != 1 || !strings.Contains(r.stderr, "which this run keeps") || !strings.Contains(r.stderr, "--run NEW") {
		t.Errorf("resume with documents: exit %d, want 1 and advice to start a new run:\n%s", r.code, r.stderr)
	}
	if r := run(65536, "r2", "--variant", "documents"); r.code != 0 {
		t.Errorf("the advice, a new run with a larger num_ctx: exit %d\n%s", r.code, r.stderr)
	}
}

func readSamples(t *testing.T, dir string) []record.Sample {
	t.Helper()
	s, err := record.ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s.All()
}

// probe run --help's examples name models the shipped models.toml has, and
// --variant says what a scenario without the variant does.
func TestRunHelpMatchesTheShippedConfig(t *testing.T) {
	r := probe(t, "run", "--help")
	cfg, err := config.Load("../../models.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(r.stdout) {
		if strings.HasPrefix(f, "qwen") || strings.HasPrefix(f, "llama") {
			if _, ok := cfg.Model(f); !ok {
				t.Errorf("help names model %s, which models.toml lacks (has %s)", f, strings.Join(cfg.Names(), ", "))
			}
		}
	}
	if !strings.Contains(r.stdout, "a selected scenario lacks (as with --scenario all)") {
		t.Errorf("--variant's help does not say what a scenario without the variant does:\n%s", r.stdout)
	}
}
