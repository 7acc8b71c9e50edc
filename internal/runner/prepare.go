package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
)

// Model is a model under test, resolved against the server: its settings,
// what the server says of it, and the options every request will carry.
type Model struct {
	config.Model
	Info *llm.ModelInfo
	// NumCtx is the context window sent on every request for this model;
	// it never changes during a run, since changing it reloads the model.
	NumCtx int
	// NumCtxSized is set when NumCtx was sized by the probe rather than
	// taken from the configuration.
	NumCtxSized bool
	// Options are the exact options sent, num_ctx included.
	Options map[string]any
}

// OutputReserve is the room left for the answer when the probe sizes
// num_ctx itself and the configuration sets no num_predict.
const OutputReserve = 4096

// charsPerToken is a deliberately low estimate of characters per token
// (real tokenizers average about 4 on English), so that a sized window errs
// on the large side.
const charsPerToken = 3

// Prepare resolves models against the server: each must be present, and
// gets the num_ctx its requests will use. A missing model is an error that
// names the pull command. A resumed run then keeps the window an earlier
// session sized (see keepSized).
func Prepare(ctx context.Context, c llm.Client, models []config.Model, scenarios []*prompt.Scenario, reqs []dataset.Request) ([]*Model, error) {
	longest := LongestPrompt(scenarios, reqs)
	var out []*Model
	for _, m := range models {
		info, err := c.Show(ctx, m.Tag)
		if err != nil {
			return nil, err
		}
		pm := &Model{Model: m, Info: info, NumCtx: m.NumCtx}
		if pm.NumCtx == 0 {
			pm.NumCtx, pm.NumCtxSized = SizeContext(longest, m.NumPredict, info.ContextLength), true
		}
		pm.Options = m.Options()
		pm.Options["num_ctx"] = pm.NumCtx
		out = append(out, pm)
	}
	return out, nil
}

// LongestPrompt is the length in bytes of the longest system prompt plus
// user turn the plan will send, over every scenario and variant, each with
// its own requests or else reqs.
func LongestPrompt(scenarios []*prompt.Scenario, reqs []dataset.Request) int {
	n := 0
	for _, sc := range scenarios {
		u, err := sc.User(false, LongestRequest(requestsOf(sc, reqs)).Request)
		if err != nil {
			continue // Bind already proved the template renders
		}
		n = max(n, len(sc.System)+len(u))
	}
	return n
}

// LongestRequest is the longest of reqs, the one that makes a scenario's
// longest prompt.
func LongestRequest(reqs []dataset.Request) dataset.Request {
	longest := dataset.Request{}
	for _, r := range reqs {
		if len(r.Request) > len(longest.Request) {
			longest = r
		}
	}
	return longest
}

// SizeContext picks num_ctx for a prompt of promptBytes: an estimate of its
// tokens plus room for the answer, rounded up to a multiple of 1024, and no
// more than the model's trained context when that is known.
func SizeContext(promptBytes int, numPredict *int, modelCtx int) int {
	reserve := OutputReserve
	if numPredict != nil && *numPredict > 0 {
		reserve = *numPredict
	}
	n := promptBytes/charsPerToken + reserve
	n = (n + 1023) / 1024 * 1024
	if modelCtx > 0 && n > modelCtx {
		n = modelCtx
	}
	return n
}

// describe names a model for messages.
func (m *Model) describe() string {
	if m.Name == m.Tag {
		return m.Name
	}
	return fmt.Sprintf("%s (%s)", m.Name, m.Tag)
}

// ErrDoesNotFit means the longest prompt does not fit a model's num_ctx.
var ErrDoesNotFit = errors.New("the prompt does not fit num_ctx")

// MeasurePrompt sends the scenario's longest prompt (with its own requests,
// or else reqs) with a one-token answer and returns its exact length in the
// model's tokens. It fails with ErrDoesNotFit when the server refuses it or
// it fills the window.
func MeasurePrompt(ctx context.Context, c llm.Client, m *Model, sc *prompt.Scenario, reqs []dataset.Request, keepAlive time.Duration) (int, error) {
	user, err := sc.User(true, LongestRequest(requestsOf(sc, reqs)).Request)
	if err != nil {
		return 0, err
	}
	opts := maps.Clone(m.Options)
	opts["num_predict"] = 1
	resp, err := c.Chat(ctx, &llm.ChatRequest{
		Model:     m.Tag,
		Messages:  []llm.Message{{Role: "system", Content: sc.System}, {Role: "user", Content: user}},
		Options:   opts,
		Think:     m.Think,
		KeepAlive: keepAlive,
	})
	switch {
	case errors.Is(err, llm.ErrContextExceeded):
		return 0, fmt.Errorf("%w: Ollama refused it as longer than num_ctx %d; raise num_ctx for %s", ErrDoesNotFit, m.NumCtx, m.Name)
	case err != nil:
		return 0, err
	case resp.PromptTokens >= m.NumCtx:
		return resp.PromptTokens, fmt.Errorf("%w: it is %d tokens, num_ctx is %d; raise num_ctx for %s", ErrDoesNotFit, resp.PromptTokens, m.NumCtx, m.Name)
	}
	return resp.PromptTokens, nil
}
