package llm_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
)

// Both back ends hand every piece of thinking and content to Stream as it
// arrives, and the pieces add up to the answer Chat returns. Through
// Policy.Chat each piece names its attempt, so that a watcher sees a retried
// answer start again.
func TestStreamBothBackends(t *testing.T) {
	for _, backend := range []string{llm.BackendOllama, llm.BackendOpenAI} {
		t.Run(backend, func(t *testing.T) {
			f := fakeollama.New(t, fakeollama.Model{Name: "m:1b"})
			f.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
				r := fakeollama.Reply{Thinking: "hmm", Chunks: []string{"<OUTPUT>", "hi", "</OUTPUT>"}, PromptTokens: 9, OutputTokens: 3}
				if n == 0 {
					r.Chunks, r.Cut = []string{"half"}, true // the first attempt is cut off
				}
				return r
			}
			var (
				mu     sync.Mutex
				chunks []llm.Chunk
			)
			req := &llm.ChatRequest{Model: "m:1b", Messages: []llm.Message{{Role: "user", Content: "u"}},
				Stream: func(c llm.Chunk) { mu.Lock(); chunks = append(chunks, c); mu.Unlock() }}
			if backend == llm.BackendOllama {
				req.Options = map[string]any{"num_ctx": 2048}
			}
			res, err := llm.Policy{Retries: 1, Backoff: func(int) time.Duration { return 0 }}.Chat(context.Background(), clientFor(t, backend, f.URL), llm.Call{Request: req})
			if err != nil || res.Attempts != 2 {
				t.Fatalf("%d attempts, err %v; want an answer on the second", res.Attempts, err)
			}
			var content, thinking strings.Builder
			first := 0
			for _, c := range chunks {
				switch c.Attempt {
				case 1:
					first++
				case 2:
					content.WriteString(c.Content)
					thinking.WriteString(c.Thinking)
				default:
					t.Errorf("chunk %+v: attempt %d, want 1 or 2", c, c.Attempt)
				}
			}
			if first == 0 {
				t.Error("the cut-off first attempt streamed nothing")
			}
			if content.String() != res.Response.Content || thinking.String() != res.Response.Thinking || content.String() != "<OUTPUT>hi</OUTPUT>" {
				t.Errorf("streamed %q / %q, answer %q / %q", content.String(), thinking.String(), res.Response.Content, res.Response.Thinking)
			}
		})
	}
}
