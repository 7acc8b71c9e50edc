package llm_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/probe-eval/probe/internal/llm"
)

// script is a Client whose answers a test decides call by call, to drive
// the retry loop and the host scheduler without a server.
type script struct {
	host  string
	reply func(n int, req *llm.ChatRequest) (*llm.ChatResponse, error)
	// hold, when set, keeps each chat in flight until it is closed (or the
	// request's context ends), so that tests can see how many run at once.
	hold chan struct{}

	mu       sync.Mutex
	calls    []*llm.ChatRequest
	inFlight int
	peak     int
}

func newScript(host string, reply func(n int, req *llm.ChatRequest) (*llm.ChatResponse, error)) *script {
	return &script{host: host, reply: reply}
}

func ok(content string) (*llm.ChatResponse, error) {
	return &llm.ChatResponse{Content: content, DoneReason: "stop", PromptTokens: 10, OutputTokens: 2}, nil
}

func fail(kind error) (*llm.ChatResponse, error) {
	return nil, fmt.Errorf("scripted: %w", kind)
}

func (s *script) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, req)
	s.inFlight++
	s.peak = max(s.peak, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	resp, err := s.reply(n, req)
	if resp != nil {
		resp.Host = s.host
	}
	return resp, err
}

func (s *script) Calls() []*llm.ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*llm.ChatRequest(nil), s.calls...)
}

func (s *script) Peak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *script) Show(ctx context.Context, model string) (*llm.ModelInfo, error) {
	return &llm.ModelInfo{Model: model, ID: model, Host: s.host}, nil
}
func (s *script) Version(context.Context) (string, error)                { return "v-" + s.host, nil }
func (s *script) Pull(context.Context, string, func(llm.Progress)) error { return nil }
func (s *script) Host() string                                           { return s.host }

// request is a chat request with cache key key.
func request(key string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "m", CacheKey: key, Messages: []llm.Message{{Role: "user", Content: key}}}
}

// seeded is a request with a seed.
func seeded(seed int) *llm.ChatRequest {
	r := request("k")
	r.Options = map[string]any{"seed": seed}
	return r
}

// noSleep is a Policy.Sleep that returns at once and records the waits.
func noSleep(slept *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil }
}
