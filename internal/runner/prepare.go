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

// Model is a model under test, resolved against its server: its settings,
// what the server says of it, and the options every request will carry.
type Model struct {
	config.Model
	// Server is where its requests go: one host or several.
	Server *llm.Hosts
	Info   *llm.ModelInfo
	// Version is the server's version ("" when the API has none).
	Version string
	// NumCtx is the context window sent on every request for this model;
	// it never changes during a run, since changing it reloads the model.
	// It is 0 on an OpenAI-compatible server, which sets its own.
	NumCtx int
	// NumCtxSized is set when NumCtx was sized by the probe rather than
	// taken from the configuration.
	NumCtxSized bool
	// Options are the exact options sent, num_ctx included.
	Options map[string]any
	// Fit is what llm.CheckTruncation saw of an OpenAI-compatible server:
	// the context it cuts prompts to, when it does not report one.
	Fit llm.Fit
}

// Backend is the model's back end, llm.BackendOllama or llm.BackendOpenAI.
func (m *Model) Backend() string { return m.Info.Backend }

// window is the context a turn's prompt must stay below: num_ctx on
// Ollama, the server's own context on an OpenAI-compatible server when it
// says, else the context it was seen to cut prompts to (0 when none was
// seen).
func (m *Model) window() int {
	switch {
	case m.NumCtx > 0:
		return m.NumCtx
	case m.Info.ContextLength > 0:
		return m.Info.ContextLength
	}
	return m.Fit.Window
}

// Prepare resolves models against their servers: each server must answer
// and have the model, and each model gets the num_ctx its requests will
// use. A missing model is an error that names the pull command. A model on
// an OpenAI-compatible server, which sets its context where it starts, is
// first sent the plan's longest prompt (llm.CheckTruncation): a server
// that would cut it silently is refused, with how to raise its context.
// When such a server does not report its context, the check also sends a
// prompt as long as turns turns (max_turns) of answers can make the
// conversation, and a server that cuts that one has the context it cut to
// recorded (Model.Fit), so that a later turn that reaches it counts as a
// full window rather than an answer; turns of 1 checks the first prompt
// only. A resumed run then keeps the window an earlier session sized (see
// keepSized).
func Prepare(ctx context.Context, servers *Servers, models []config.Model, scenarios []*prompt.Scenario, reqs []dataset.Request, turns int) ([]*Model, error) {
	longest := LongestPrompt(scenarios, reqs)
	versions := map[*llm.Hosts]string{}
	var out []*Model
	for _, m := range models {
		srv, err := servers.For(m)
		if err != nil {
			return nil, err
		}
		if _, ok := versions[srv]; !ok {
			// Ask each server once, and first: a run that cannot start
			// should say the server is down, not that a model is missing.
			if versions[srv], err = srv.Version(ctx); err != nil {
				return nil, err
			}
		}
		info, err := srv.Show(ctx, m.Tag)
		if err != nil {
			return nil, err
		}
		pm := &Model{Model: m, Server: srv, Info: info, Version: versions[srv], NumCtx: m.NumCtx, Options: m.Options()}
		answer := llm.DefaultAnswerTokens
		if m.NumPredict != nil && *m.NumPredict > 0 {
			answer = *m.NumPredict
		}
		if info.Backend == llm.BackendOpenAI {
			if err := llm.CheckOptions(info.Backend, pm.Options); err != nil {
				return nil, fmt.Errorf("model %s: %w", m.Name, err)
			}
			if msgs := LongestMessages(scenarios, reqs); len(msgs) > 0 {
				room := 0
				if info.ContextLength == 0 && turns > 1 {
					// Every turn's answer, and the user turns between them,
					// which are short beside an answer.
					room = answer * turns
				}
				if pm.Fit, err = llm.CheckTruncation(ctx, srv, pm.request(msgs, 0), room); err != nil {
					return nil, fmt.Errorf("model %s: %w", m.Name, err)
				}
			}
		} else {
			if pm.NumCtx == 0 {
				pm.NumCtx, pm.NumCtxSized = llm.SizeContext(longest, answer, 0, info.ContextLength), true
			}
			pm.Options["num_ctx"] = pm.NumCtx
		}
		out = append(out, pm)
	}
	return out, nil
}

// request is a chat request of the model's for msgs, with the options of
// sample k (its seed moved by k).
func (m *Model) request(msgs []llm.Message, k int) *llm.ChatRequest {
	req := &llm.ChatRequest{Model: m.Tag, Messages: msgs, Options: llm.OffsetSeed(m.Options, k), Think: m.Think, CacheKey: m.Tag}
	if len(msgs) > 0 {
		// The model and system prompt are the prefix a host's cache holds.
		req.CacheKey += "\x00" + msgs[0].Content
	}
	return req
}

// LongestPrompt is the length in bytes of the longest system prompt plus
// user turn the plan will send, over every scenario and variant, each with
// its own requests or else reqs.
func LongestPrompt(scenarios []*prompt.Scenario, reqs []dataset.Request) int {
	n := 0
	for _, m := range LongestMessages(scenarios, reqs) {
		n += len(m.Content)
	}
	return n
}

// LongestMessages are the system prompt and user turn of the longest first
// prompt the plan will send.
func LongestMessages(scenarios []*prompt.Scenario, reqs []dataset.Request) []llm.Message {
	var best []llm.Message
	n := -1
	for _, sc := range scenarios {
		u, err := sc.User(false, LongestRequest(requestsOf(sc, reqs)).Request)
		if err != nil {
			continue // Bind already proved the template renders
		}
		if len(sc.System)+len(u) > n {
			n = len(sc.System) + len(u)
			best = []llm.Message{{Role: "system", Content: sc.System}, {Role: "user", Content: u}}
		}
	}
	return best
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

// describe names a model for messages.
func (m *Model) describe() string {
	if m.Name == m.Tag {
		return m.Name
	}
	return fmt.Sprintf("%s (%s)", m.Name, m.Tag)
}

// ErrDoesNotFit means the longest prompt does not fit a model's context.
var ErrDoesNotFit = errors.New("the prompt does not fit num_ctx")

// MeasurePrompt sends the scenario's longest prompt (with its own requests,
// or else reqs) with a one-token answer and returns its exact length in the
// model's tokens. It fails with ErrDoesNotFit when the server refuses it or
// it fills the window. On an OpenAI-compatible server it also checks that
// the server keeps the prompt whole (llm.CheckTruncation).
func MeasurePrompt(ctx context.Context, m *Model, sc *prompt.Scenario, reqs []dataset.Request, keepAlive time.Duration) (int, error) {
	user, err := sc.User(true, LongestRequest(requestsOf(sc, reqs)).Request)
	if err != nil {
		return 0, err
	}
	req := m.request([]llm.Message{{Role: "system", Content: sc.System}, {Role: "user", Content: user}}, 0)
	req.KeepAlive = keepAlive
	if m.Backend() == llm.BackendOpenAI {
		fit, err := llm.CheckTruncation(ctx, m.Server, req, 0)
		if errors.Is(err, llm.ErrContextExceeded) || errors.Is(err, llm.ErrTruncating) {
			return fit.PromptTokens, fmt.Errorf("%w: %w", ErrDoesNotFit, err)
		}
		return fit.PromptTokens, err
	}
	req.Options = maps.Clone(req.Options)
	req.Options["num_predict"] = 1
	resp, err := m.Server.Chat(ctx, req)
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
