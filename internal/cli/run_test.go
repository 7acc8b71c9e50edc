package cli

import (
	"net"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
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
