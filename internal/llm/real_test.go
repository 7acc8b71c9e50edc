package llm_test

// Integration tests: the layer against the real Ollama server (built from its
// Go module, see internal/ollamatest) and its OpenAI-compatible /v1, with tiny
// random-weight models whose byte-level vocabulary makes every byte of a
// rendered prompt one token. They skip only under -short.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/ollamatest"
)

// openAIOf returns an OpenAI-backend client of srv's /v1.
func openAIOf(t *testing.T, srv *ollamatest.Server) *llm.OpenAI {
	t.Helper()
	u, err := llm.ParseBaseURL(srv.Host + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	return llm.NewOpenAI(u, "")
}

// rendered is the prompt the tiny model's template makes of a system and a
// user message; its tokens are its bytes plus one BOS token.
func rendered(system, user string) string {
	return "<|system|>\n" + system + "\n<|user|>\n" + user + "\n<|assistant|>\n"
}

// A chat through the OpenAI back end: the whole system prompt arrives (the
// server counts every byte of it), the options arrive (max_tokens bounds the
// answer, a seed repeats it), and the server is found to keep whole prompts.
func TestRealOpenAIChat(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := openAIOf(t, srv)

	info, err := c.Show(ctx, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "tiny:latest" || info.Backend != llm.BackendOpenAI || info.Host != srv.Host+"/v1" {
		t.Errorf("Show = %+v", info)
	}
	if _, err := c.Show(ctx, "absent"); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("absent model: err = %v, want ErrModelNotFound", err)
	}

	system := strings.Repeat("You are a model under test, and this is your system prompt. ", 10)
	user := "Say something."
	req := func(seed int) *llm.ChatRequest {
		return &llm.ChatRequest{Model: "tiny", Messages: []llm.Message{{Role: "system", Content: system}, {Role: "user", Content: user}},
			Options: map[string]any{"num_predict": 8, "temperature": 1.0, "seed": seed}}
	}
	first, err := c.Chat(ctx, req(7))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(rendered(system, user)) + 1; first.PromptTokens != want {
		t.Errorf("prompt_tokens = %d, want %d: the whole system prompt, every byte a token", first.PromptTokens, want)
	}
	if first.OutputTokens < 1 || first.OutputTokens > 8 || first.DoneReason == "" || first.Content == "" {
		t.Errorf("answer %+v: want 1 to 8 tokens (max_tokens 8) and a finish reason", first)
	}
	if first.Backend != llm.BackendOpenAI || first.Host != srv.Host+"/v1" || first.Model == "" {
		t.Errorf("provenance: backend %q host %q model %q", first.Backend, first.Host, first.Model)
	}
	again, err := c.Chat(ctx, req(7))
	if err != nil {
		t.Fatal(err)
	}
	if again.Content != first.Content {
		t.Errorf("seed 7 answered %q, then %q: the seed did not arrive", first.Content, again.Content)
	}

	fit, err := llm.CheckTruncation(ctx, c, req(7), 0)
	if err != nil || fit.PromptTokens != first.PromptTokens {
		t.Errorf("CheckTruncation = %+v, %v; want %d tokens and no error from a server with room", fit, err, first.PromptTokens)
	}
}

// The judge's structured output through response_format: the server
// constrains the answer to the schema, so even random weights begin a JSON
// object.
func TestRealOpenAIStructuredOutput(t *testing.T) {
	srv := ollamatest.Start(t)
	srv.CreateModel(t, "tiny", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resp, err := openAIOf(t, srv).Chat(ctx, &llm.ChatRequest{
		Model:    "tiny",
		Messages: []llm.Message{{Role: "user", Content: "Answer in JSON."}},
		Options:  map[string]any{"num_predict": 16, "temperature": 1.0, "seed": 3},
		Format:   []byte(`{"type":"object","properties":{"holds":{"type":"boolean"}},"required":["holds"]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(resp.Content), "{") {
		t.Errorf("answer %q does not begin a JSON object", resp.Content)
	}
}

// A server whose context is smaller than the prompt, and which cuts it
// silently (Ollama's /v1 answers with HTTP 200 and prompt_tokens equal to
// its context): CheckTruncation refuses it and says how to raise the
// context. A short prompt on the same server passes, and Ollama's native
// API, which probe sends with truncate off, refuses the long one instead.
func TestRealOpenAITruncationRefused(t *testing.T) {
	srv := ollamatest.StartWithEnv(t, "OLLAMA_CONTEXT_LENGTH=1024")
	srv.CreateModel(t, "tiny", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := openAIOf(t, srv)
	req := func(system string) *llm.ChatRequest {
		return &llm.ChatRequest{Model: "tiny", Messages: []llm.Message{{Role: "system", Content: system}, {Role: "user", Content: "Go on."}},
			Options: map[string]any{"num_predict": 8, "temperature": 0.0}}
	}
	long := req(strings.Repeat("A long system prompt, longer than the server's context. ", 50))

	_, err := llm.CheckTruncation(ctx, c, long, 0)
	if !errors.Is(err, llm.ErrTruncating) {
		t.Fatalf("err = %v, want ErrTruncating", err)
	}
	for _, want := range []string{"counted 1024 prompt tokens", "and 1024 with", "OLLAMA_CONTEXT_LENGTH=", "--max-model-len"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	short := req("Be brief.")
	if fit, err := llm.CheckTruncation(ctx, c, short, 0); err != nil || fit.PromptTokens != len(rendered("Be brief.", "Go on."))+1 {
		t.Errorf("short prompt: %+v, err %v; want it passed", fit, err)
	}
	// With room for a conversation longer than the context, the short
	// prompt passes and the context it cuts to is measured: a later turn
	// that reaches it was cut.
	fit, err := llm.CheckTruncation(ctx, c, short, 2000)
	if err != nil || fit.Window != 1024 || fit.Refuses {
		t.Errorf("short prompt with room for 2000 tokens: %+v, err %v; want the window 1024 measured", fit, err)
	}
	if err := fit.Check(1024); !errors.Is(err, llm.ErrTruncated) {
		t.Errorf("Check(1024) = %v, want ErrTruncated", err)
	}

	u, err := url.Parse(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	native := *long
	native.Options = map[string]any{"num_predict": 8, "num_ctx": 1024}
	if _, err := llm.NewOllama(u).Chat(ctx, &native); !errors.Is(err, llm.ErrContextExceeded) {
		t.Errorf("native API: err = %v, want ErrContextExceeded", err)
	}
}

// A model on two real servers, one killed in the middle: every request is
// answered once, both servers answered some, and the dead one is dropped
// with a warning.
func TestRealHostsServerKilled(t *testing.T) {
	a, b := ollamatest.Start(t), ollamatest.Start(t)
	a.CreateModel(t, "tiny", 1)
	// The same files on both, as "ollama pull" gives: a model created twice
	// gets two digests, which Hosts refuses as two models.
	if err := os.CopyFS(b.ModelsDir(), os.DirFS(a.ModelsDir())); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu    sync.Mutex
		drops []string
	)
	h, err := llm.Connect(llm.Endpoint{Hosts: []string{a.Host, b.Host}}, nil, llm.HostsOptions{Slots: 1, OnDrop: func(host string, err error) {
		mu.Lock()
		drops = append(drops, host)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Show(ctx, "tiny"); err != nil {
		t.Fatalf("Show on both hosts: %v", err)
	}
	const n = 12
	p := llm.Policy{Retries: 2, Timeout: time.Minute, Backoff: func(int) time.Duration { return 100 * time.Millisecond }}
	answered := map[string]int{}
	byHost := map[string]int{}
	err = llm.Each(ctx, h.Slots(), numbers(n), func(ctx context.Context, i int, send func([2]string)) error {
		q := fmt.Sprintf("Request %d.", i)
		res, err := p.Chat(ctx, h, llm.Call{Request: &llm.ChatRequest{Model: "tiny",
			Messages: []llm.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: q}},
			Options:  map[string]any{"num_predict": 8, "num_ctx": 1024}}})
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		send([2]string{q, res.Response.Host})
		return nil
	}, func(r [2]string) error {
		answered[r[0]]++
		byHost[r[1]]++
		if len(answered) == 4 {
			b.Kill()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if q := fmt.Sprintf("Request %d.", i); answered[q] != 1 {
			t.Errorf("%s answered %d times, want once", q, answered[q])
		}
	}
	if byHost[a.Host] == 0 || byHost[b.Host] == 0 {
		t.Errorf("answers by host %v: want both", byHost)
	}
	if len(drops) != 1 || drops[0] != b.Host {
		t.Errorf("dropped %v, want [%s]", drops, b.Host)
	}
}
