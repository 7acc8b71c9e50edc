package llm_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
)

func client(t *testing.T, f *fakeollama.Server) *llm.Ollama {
	t.Helper()
	u, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	return llm.NewOllama(u)
}

func TestChatAssemblesStream(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m:1b", Digest: "sha256:aa", ContextLength: 4096})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Thinking: "hmm", Chunks: []string{"<SCRATCH", "PAD_REASONING>x", "</SCRATCHPAD_REASONING>"}, DoneReason: "length", PromptTokens: 42, OutputTokens: 7}
	}
	c := client(t, f)
	resp, err := c.Chat(context.Background(), &llm.ChatRequest{
		Model: "m:1b", Messages: []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}},
		Options: map[string]any{"num_ctx": 2048}, Think: true, KeepAlive: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Content, "<SCRATCHPAD_REASONING>x</SCRATCHPAD_REASONING>"; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if resp.Thinking != "hmm" || resp.DoneReason != "length" || resp.PromptTokens != 42 || resp.OutputTokens != 7 {
		t.Errorf("response = %+v", resp)
	}
	req := f.Chats()[0]
	if req.Truncate == nil || *req.Truncate || req.Shift == nil || *req.Shift {
		t.Errorf("truncate/shift = %v/%v, want both sent as false", req.Truncate, req.Shift)
	}
	if req.Options["num_ctx"] != float64(2048) || req.Think != true || len(req.Messages) != 2 {
		t.Errorf("request = %+v", req)
	}
}

func TestChatErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply fakeollama.Reply
		model string
		want  error
		retry bool
	}{
		{"missing model", fakeollama.Reply{}, "nope", llm.ErrModelNotFound, false},
		{"prompt too long", fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}, "m", llm.ErrContextExceeded, false},
		{"think unsupported", fakeollama.Reply{Status: 400, Error: `"m" does not support thinking`}, "m", llm.ErrBadRequest, false},
		{"server error", fakeollama.Reply{Status: 500, Error: "llama runner process has terminated"}, "m", llm.ErrServer, true},
		{"stream cut", fakeollama.Reply{Chunks: []string{"half an"}, Cut: true}, "m", llm.ErrIncomplete, true},
		{"error inside stream", fakeollama.Reply{Chunks: []string{"a"}, StreamError: "runner crashed"}, "m", llm.ErrServer, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeollama.New(t, fakeollama.Model{Name: "m"})
			f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply { return tt.reply }
			_, err := client(t, f).Chat(context.Background(), &llm.ChatRequest{Model: tt.model, Options: map[string]any{}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if got := llm.Retryable(err); got != tt.retry {
				t.Errorf("Retryable = %v, want %v", got, tt.retry)
			}
		})
	}
}

func TestUnreachableFailsFast(t *testing.T) {
	f := fakeollama.New(t)
	c := client(t, f)
	f.Close()
	start := time.Now()
	_, err := c.Version(context.Background())
	if !errors.Is(err, llm.ErrUnreachable) {
		t.Fatalf("error = %v, want ErrUnreachable", err)
	}
	if !llm.Retryable(err) {
		t.Error("unreachable should be retryable")
	}
	if d := time.Since(start); d > llm.DialTimeout {
		t.Errorf("took %v, want under the dial timeout %v", d, llm.DialTimeout)
	}
}

func TestShowAndPull(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "llama3.2:3b", Digest: "sha256:d1", ContextLength: 131072, Thinking: true})
	c := client(t, f)
	info, err := c.Show(context.Background(), "llama3.2:3b")
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != "sha256:d1" || info.ContextLength != 131072 || !info.Thinking || info.NoChat {
		t.Errorf("info = %+v", info)
	}
	if _, err := c.Show(context.Background(), "qwen3"); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("Show missing: %v, want ErrModelNotFound", err)
	}
	var steps []llm.Progress
	if err := c.Pull(context.Background(), "qwen3", func(p llm.Progress) { steps = append(steps, p) }); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 || steps[3].Status != "success" {
		t.Errorf("pull progress = %+v", steps)
	}
	if info, err := c.Show(context.Background(), "qwen3"); err != nil || info.Digest != "sha256:pulled" {
		t.Errorf("after pull: %+v, %v", info, err)
	}
}

func TestList(t *testing.T) {
	f := fakeollama.New(t,
		fakeollama.Model{Name: "llama3.2:3b", Digest: "sha256:d1", Size: 2_000_000_000},
		fakeollama.Model{Name: "gpt-oss:120b-cloud", Digest: "sha256:d2", Size: 384, Remote: true},
	)
	got, err := client(t, f).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b llm.Local) int { return int(a.Size - b.Size) })
	want := []llm.Local{{Name: "gpt-oss:120b-cloud", Size: 384, Remote: true}, {Name: "llama3.2:3b", Size: 2_000_000_000}}
	if !slices.Equal(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
	f.AddModel(fakeollama.Model{Name: "nomic-embed-text", Embedding: true})
	if info, err := client(t, f).Show(context.Background(), "nomic-embed-text"); err != nil || !info.NoChat {
		t.Errorf("Show of an embedding model: %+v, %v; want NoChat", info, err)
	}
	u, _ := url.Parse("http://127.0.0.1:1")
	if _, err := llm.NewOllama(u).List(context.Background()); !errors.Is(err, llm.ErrUnreachable) {
		t.Errorf("List of a closed port: %v, want ErrUnreachable", err)
	}
}
