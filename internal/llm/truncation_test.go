package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
)

// server answers like an OpenAI-compatible server with a byte-level model
// and a context of window tokens, which either cuts a longer prompt to the
// window (as Ollama's /v1 does) or refuses it (as vLLM does).
func server(t *testing.T, window int, cuts bool) *fakeollama.Server {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		if req.Options["num_predict"] != 1.0 {
			t.Errorf("max_tokens = %v, want 1", req.Options["num_predict"])
		}
		n := len(fakeollama.PromptText(req))
		if n > window && !cuts {
			return fakeollama.Reply{Status: 400, Error: "This model's maximum context length is 2048 tokens. However, your request has more input tokens."}
		}
		return fakeollama.Reply{Chunks: []string{"x"}, DoneReason: "length", PromptTokens: min(n, window), OutputTokens: 1}
	}
	return f
}

func longest(system int) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "system", Content: strings.Repeat("s", system)}, {Role: "user", Content: "q"}},
		Options: map[string]any{"temperature": 0.5, "num_predict": 300}}
}

func TestCheckTruncation(t *testing.T) {
	tests := []struct {
		name   string
		window int
		cuts   bool
		system int
		want   error
		tokens int
	}{
		{"fits", 2048, true, 500, nil, 501},
		{"fits, and the padded prompt is refused", 2048, false, 1500, nil, 1501},
		{"cut silently", 2048, true, 26000, llm.ErrTruncating, 0},
		{"refused", 2048, false, 26000, llm.ErrContextExceeded, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := server(t, tt.window, tt.cuts)
			req := longest(tt.system)
			fit, err := llm.CheckTruncation(context.Background(), openAIClient(t, f, ""), req, 0)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || fit.PromptTokens != tt.tokens {
				t.Fatalf("got %d tokens, err %v; want %d, %v", fit.PromptTokens, err, tt.tokens, tt.want)
			}
			if req.Options["num_predict"] != 300 || len(req.Messages[1].Content) != 1 {
				t.Errorf("the caller's request was changed: %+v", req)
			}
			if tt.want == nil || errors.Is(err, llm.ErrContextExceeded) {
				return
			}
			chats := f.Chats()
			if len(chats) != 2 || len(fakeollama.PromptText(chats[1]))-len(fakeollama.PromptText(chats[0])) < llm.PadChars {
				t.Errorf("%d requests; want the prompt, then it with %d more characters", len(chats), llm.PadChars)
			}
			// 26,001 bytes at 3 a token, plus the 300-token answer, rounded up.
			for _, want := range []string{"counted 2048 prompt tokens", "and 2048 with", "OLLAMA_CONTEXT_LENGTH=9216", "--max-model-len 9216", f.URL + "/v1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// With room for later turns, a server that keeps the first prompt whole
// but cuts one room tokens longer has its window measured, and Check
// tells the prompts that reach it; one that keeps it whole, or refuses it,
// has none.
func TestCheckTruncationMeasuresWindow(t *testing.T) {
	// The fake counts a token a byte: Whole is the length of the longest
	// request seen whole, the padded one (1) or the one with room (2).
	tests := []struct {
		name    string
		window  int
		cuts    bool
		want    llm.Fit
		whole   int   // the request whose length Whole is, when not 701
		trusted []int // prompt lengths Check trusts
		cut     []int // and those it does not
	}{
		{"cuts within the room", 4000, true, llm.Fit{PromptTokens: 701, Whole: 701, Window: 4000}, 0, []int{701, 3999}, []int{4000}},
		{"keeps the room whole", 100000, true, llm.Fit{PromptTokens: 701}, 2, []int{701, 9000}, nil},
		{"refuses beyond", 4000, false, llm.Fit{PromptTokens: 701, Refuses: true}, 1, []int{701, 4000, 90000}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := server(t, tt.window, tt.cuts)
			fit, err := llm.CheckTruncation(context.Background(), openAIClient(t, f, ""), longest(700), 3000)
			if err != nil {
				t.Fatal(err)
			}
			chats := f.Chats()
			if len(chats) != 3 || len(fakeollama.PromptText(chats[2]))-len(fakeollama.PromptText(chats[0])) < 3000*llm.CharsPerToken {
				t.Fatalf("%d requests; want the prompt, it padded, and it with room for 3000 tokens more", len(chats))
			}
			if tt.whole > 0 {
				tt.want.Whole = len(fakeollama.PromptText(chats[tt.whole]))
			}
			if fit != tt.want {
				t.Errorf("got %+v, want %+v", fit, tt.want)
			}
			for _, n := range tt.trusted {
				if err := fit.Check(n); err != nil {
					t.Errorf("Check(%d) = %v, want it trusted", n, err)
				}
			}
			for _, n := range tt.cut {
				if err := fit.Check(n); !errors.Is(err, llm.ErrTruncated) {
					t.Errorf("Check(%d) = %v, want ErrTruncated", n, err)
				}
			}
			if err := fit.Check(fit.Whole + 1); fit.Window == 0 && !fit.Refuses && !errors.Is(err, llm.ErrUnchecked) {
				t.Errorf("Check(%d), beyond what was seen whole, = %v; want ErrUnchecked", fit.Whole+1, err)
			}
		})
	}
}

func TestCheckTruncationNoUsage(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply { return fakeollama.Reply{Chunks: []string{"x"}} }
	if _, err := llm.CheckTruncation(context.Background(), openAIClient(t, f, ""), longest(10), 0); !errors.Is(err, llm.ErrCannotCheck) {
		t.Errorf("err = %v, want ErrCannotCheck", err)
	}
}

// On several hosts each is checked: one that cuts is enough to refuse.
func TestCheckTruncationEveryHost(t *testing.T) {
	good, cutting := server(t, 100000, false), server(t, 2048, true)
	h := hosts(t, llm.HostsOptions{}, openAIClient(t, good, ""), openAIClient(t, cutting, ""))
	_, err := llm.CheckTruncation(context.Background(), h, longest(5000), 0)
	if !errors.Is(err, llm.ErrTruncating) || !strings.Contains(err.Error(), cutting.URL) {
		t.Errorf("err = %v, want ErrTruncating naming %s", err, cutting.URL)
	}
	if len(good.Chats()) != 2 || len(cutting.Chats()) != 2 {
		t.Errorf("requests: %d and %d, want 2 on each host", len(good.Chats()), len(cutting.Chats()))
	}
}
