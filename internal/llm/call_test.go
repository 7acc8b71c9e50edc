package llm_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/llm"
)

func TestPolicyRetries(t *testing.T) {
	tests := []struct {
		name     string
		errs     []error // by attempt; nil answers
		retries  int
		want     error
		attempts int
		slept    []time.Duration // with Backoff(n) = n ms
	}{
		{"first answer", []error{nil}, 2, nil, 1, nil},
		{"transient, then answer", []error{llm.ErrServer, llm.ErrIncomplete, nil}, 2, nil, 3, []time.Duration{1, 2}},
		{"unreachable is retried", []error{llm.ErrUnreachable, nil}, 2, nil, 2, []time.Duration{1}},
		{"gives up", []error{llm.ErrServer, llm.ErrServer, llm.ErrServer}, 2, llm.ErrServer, 3, []time.Duration{1, 2}},
		{"no retries", []error{llm.ErrServer}, 0, llm.ErrServer, 1, nil},
		{"bad request is final", []error{llm.ErrBadRequest}, 2, llm.ErrBadRequest, 1, nil},
		{"too long is final", []error{llm.ErrContextExceeded}, 2, llm.ErrContextExceeded, 1, nil},
		{"missing model is final", []error{llm.ErrModelNotFound}, 2, llm.ErrModelNotFound, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newScript("h", func(n int, _ *llm.ChatRequest) (*llm.ChatResponse, error) {
				if n >= len(tt.errs) {
					t.Errorf("attempt %d beyond the script", n+1)
					return fail(llm.ErrBadRequest)
				}
				if tt.errs[n] != nil {
					return fail(tt.errs[n])
				}
				return ok("yes")
			})
			var slept []time.Duration
			p := llm.Policy{Retries: tt.retries, Backoff: func(n int) time.Duration { return time.Duration(n) }, Sleep: noSleep(&slept)}
			res, err := p.Chat(context.Background(), c, llm.Call{Request: request("k")})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if res.Attempts != tt.attempts || len(c.Calls()) != tt.attempts {
				t.Errorf("attempts = %d (%d requests), want %d", res.Attempts, len(c.Calls()), tt.attempts)
			}
			if !reflect.DeepEqual(slept, tt.slept) {
				t.Errorf("slept %v, want %v", slept, tt.slept)
			}
			if (err == nil) != (res.Response != nil) {
				t.Errorf("response %+v with err %v: want one answer exactly when there is no error", res.Response, err)
			}
		})
	}
}

func TestPolicyTimeout(t *testing.T) {
	for _, retry := range []bool{false, true} {
		t.Run(fmt.Sprint("retry timeouts ", retry), func(t *testing.T) {
			c := newScript("h", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return ok("never") })
			c.hold = make(chan struct{}) // never answers; the deadline ends each attempt
			var slept []time.Duration
			p := llm.Policy{Retries: 2, Timeout: 5 * time.Millisecond, RetryTimeouts: retry, Sleep: noSleep(&slept)}
			res, err := p.Chat(context.Background(), c, llm.Call{Request: request("k")})
			if !errors.Is(err, llm.ErrTimeout) || !strings.Contains(err.Error(), "5ms") {
				t.Fatalf("err = %v, want ErrTimeout naming the deadline", err)
			}
			want := 1
			if retry {
				want = 3
			}
			if res.Attempts != want || len(slept) != 0 {
				t.Errorf("%d attempts, slept %v; want %d attempts and no backoff", res.Attempts, slept, want)
			}
		})
	}
}

// A refused answer is asked again without backoff; when every answer is
// refused, the error carries the check's last reason and the last answer
// comes back for the record.
func TestPolicyCheck(t *testing.T) {
	answers := []string{"junk", "junk", "good"}
	check := func(r *llm.ChatResponse) error {
		if r.Content != "good" {
			return fmt.Errorf("%q is not good", r.Content)
		}
		return nil
	}
	c := newScript("h", func(n int, _ *llm.ChatRequest) (*llm.ChatResponse, error) { return ok(answers[n]) })
	var slept []time.Duration
	res, err := llm.Policy{Retries: 2, Sleep: noSleep(&slept)}.Chat(context.Background(), c, llm.Call{Request: request("k"), Check: check})
	if err != nil || res.Attempts != 3 || res.Response.Content != "good" || len(slept) != 0 {
		t.Errorf("got %+v after %d attempts (slept %v), err %v; want the third answer, no backoff", res.Response, res.Attempts, slept, err)
	}

	c = newScript("h", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return ok("junk") })
	res, err = llm.Policy{Retries: 1}.Chat(context.Background(), c, llm.Call{Request: request("k"), Check: check})
	if !errors.Is(err, llm.ErrInvalidAnswer) || !strings.Contains(err.Error(), `"junk" is not good`) {
		t.Errorf("err = %v, want ErrInvalidAnswer with the check's reason", err)
	}
	if res.Attempts != 2 || res.Response == nil || res.Response.Content != "junk" {
		t.Errorf("result %+v, want 2 attempts and the refused answer", res)
	}
}

func TestPolicyReseed(t *testing.T) {
	for _, reseed := range []bool{false, true} {
		c := newScript("h", func(n int, _ *llm.ChatRequest) (*llm.ChatResponse, error) {
			if n < 2 {
				return fail(llm.ErrServer)
			}
			return ok("x")
		})
		req := seeded(10)
		var slept []time.Duration
		if _, err := (llm.Policy{Retries: 2, Sleep: noSleep(&slept)}).Chat(context.Background(), c, llm.Call{Request: req, Reseed: reseed}); err != nil {
			t.Fatal(err)
		}
		var seeds []any
		for _, r := range c.Calls() {
			seeds = append(seeds, r.Options["seed"])
		}
		want := []any{10, 10, 10}
		if reseed {
			want = []any{10, 11, 12}
		}
		if !reflect.DeepEqual(seeds, want) {
			t.Errorf("reseed %v: seeds %v, want %v", reseed, seeds, want)
		}
		if req.Options["seed"] != 10 {
			t.Errorf("the caller's request was changed: seed %v", req.Options["seed"])
		}
	}
}

func TestPolicyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("interrupted")
	c := newScript("h", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return fail(llm.ErrServer) })
	p := llm.Policy{Retries: 5, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel(stop)
		return ctx.Err()
	}}
	res, err := p.Chat(ctx, c, llm.Call{Request: request("k")})
	if !errors.Is(err, stop) || res.Attempts != 1 {
		t.Errorf("err %v after %d attempts, want the cancel cause after 1", err, res.Attempts)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 60: 30 * time.Second} {
		if got := llm.DefaultBackoff(attempt); got != want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestOffsetSeed(t *testing.T) {
	tests := []struct {
		opts map[string]any
		by   int
		want any
	}{
		{map[string]any{"seed": 7}, 2, 9},
		{map[string]any{"seed": int64(7)}, 2, int64(9)},
		{map[string]any{"seed": 7.0}, 2, 9.0},
		{map[string]any{"seed": 7}, 0, 7},
		{map[string]any{"temperature": 1.0}, 2, nil},
	}
	for _, tt := range tests {
		before := fmt.Sprint(tt.opts)
		got := llm.OffsetSeed(tt.opts, tt.by)
		if got["seed"] != tt.want {
			t.Errorf("OffsetSeed(%v, %d) seed = %v, want %v", tt.opts, tt.by, got["seed"], tt.want)
		}
		if fmt.Sprint(tt.opts) != before {
			t.Errorf("OffsetSeed changed its argument: %v, was %s", tt.opts, before)
		}
	}
}
