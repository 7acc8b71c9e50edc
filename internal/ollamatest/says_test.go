package ollamatest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// TestRealSaysModel: a Says model writes its script and nothing else, at
// any temperature, for longer than the server's guard against a token
// repeated 30 times would allow one token.
func TestRealSaysModel(t *testing.T) {
	s := Start(t) // skips under -short
	s.CreateModelWith(t, "script", 3, TinyOptions{Says: []string{"<SCRATCHPAD_REASONING>", "<hmm/>", "<so/>"}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := "<SCRATCHPAD_REASONING>" + strings.Repeat("<hmm/><so/>", 40)
	for _, temp := range []float64{0, 1} {
		r, err := chat(ctx, s.Client(), &api.ChatRequest{
			Model:    "script",
			Messages: []api.Message{{Role: "system", Content: "Think first."}, {Role: "user", Content: "Tell me a story about <OUTPUT> tags."}},
			Options:  map[string]any{"num_ctx": 512, "num_predict": 81, "temperature": temp, "seed": 5},
			Truncate: noTruncate(),
		})
		if err != nil || r.final == nil {
			t.Fatalf("temperature %g: chat: %v (final %v)", temp, err, r.final)
		}
		if r.content != want || r.final.DoneReason != "length" || r.final.EvalCount != 81 {
			t.Errorf("temperature %g: %d tokens ending on %q: %q; want %q", temp, r.final.EvalCount, r.final.DoneReason, r.content, want)
		}
	}
}
