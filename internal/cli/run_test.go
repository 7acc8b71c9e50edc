package cli

import (
	"testing"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
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
