package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
)

func answering(host string) *script {
	return newScript(host, func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return ok("from " + host) })
}

func hosts(t *testing.T, o llm.HostsOptions, cs ...llm.Client) *llm.Hosts {
	t.Helper()
	h, err := llm.NewHosts(cs, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// One request at a time: a host keeps the prompt it has, and a new prompt
// goes to a host that has none yet.
func TestHostsKeepCachesWarm(t *testing.T) {
	a, b := answering("a"), answering("b")
	h := hosts(t, llm.HostsOptions{Slots: 1}, a, b)
	var got []string
	for _, key := range []string{"A", "A", "B", "A", "B", "B", "A"} {
		resp, err := h.Chat(context.Background(), request(key))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, key+"@"+resp.Host)
	}
	if want := "A@a A@a B@b A@a B@b B@b A@a"; strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
}

// Many callers at once: no host has more than Slots requests in flight,
// and every host is used.
func TestHostsBoundSlots(t *testing.T) {
	var cs []llm.Client
	var ss []*script
	for _, name := range []string{"a", "b", "c"} {
		s := answering(name)
		s.hold = make(chan struct{})
		ss = append(ss, s)
		cs = append(cs, s)
	}
	h := hosts(t, llm.HostsOptions{Slots: 2}, cs...)
	if h.Slots() != 6 {
		t.Fatalf("Slots() = %d, want 6", h.Slots())
	}
	go func() {
		// Let the callers pile up on the slots, then let them through.
		time.Sleep(50 * time.Millisecond)
		for _, s := range ss {
			close(s.hold)
		}
	}()
	jobs := make([]int, 30)
	n := 0
	err := llm.Each(context.Background(), 12, jobs, func(ctx context.Context, _ int, send func(string)) error {
		resp, err := h.Chat(ctx, request("same"))
		if err != nil {
			return err
		}
		send(resp.Host)
		return nil
	}, func(string) error { n++; return nil })
	if err != nil || n != 30 {
		t.Fatalf("%d answers, err %v; want 30", n, err)
	}
	for _, s := range ss {
		if s.Peak() > 2 || s.Peak() == 0 {
			t.Errorf("host %s had %d requests at once, want 1 or 2", s.host, s.Peak())
		}
	}
}

// A host whose requests fail is left for the others, and dropped after
// MaxFailures failures in a row.
func TestHostsFailOver(t *testing.T) {
	bad := newScript("bad", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return fail(llm.ErrServer) })
	good := answering("good")
	var drops []string
	h := hosts(t, llm.HostsOptions{Slots: 1, MaxFailures: 2, OnDrop: func(host string, err error) {
		drops = append(drops, host+": "+err.Error())
	}}, bad, good)
	var slept []time.Duration
	p := llm.Policy{Retries: 2, Sleep: noSleep(&slept)}
	for i := range 6 {
		// Each request takes a fresh key, so it prefers a host with none.
		res, err := p.Chat(context.Background(), h, llm.Call{Request: request(fmt.Sprint("k", i))})
		if err != nil || res.Response.Host != "good" {
			t.Fatalf("request %d: %+v, %v; want an answer from good", i, res, err)
		}
	}
	if len(bad.Calls()) != 2 || len(drops) != 1 || !strings.HasPrefix(drops[0], "bad: ") || len(slept) != 0 {
		t.Errorf("bad got %d requests, drops %q, slept %v; want 2 requests, then one drop, no backoff", len(bad.Calls()), drops, slept)
	}
	if live := h.Live(); len(live) != 1 || live[0] != "good" {
		t.Errorf("live hosts %v, want [good]", live)
	}
}

// A host that accepts requests and never answers: a request that runs out
// of time on it goes to the other host even without RetryTimeouts, and
// after MaxFailures such requests in a row answered elsewhere it is
// dropped. A timeout on every host is still an ErrTimeout.
func TestHostsDropHungHost(t *testing.T) {
	hung := newScript("hung", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return ok("late") })
	hung.hold = make(chan struct{}) // never closed: each request waits for its deadline
	good := answering("good")
	var drops []string
	h := hosts(t, llm.HostsOptions{Slots: 1, MaxFailures: 2, OnDrop: func(host string, err error) {
		drops = append(drops, host+": "+err.Error())
	}}, hung, good)
	p := llm.Policy{Retries: 1, Timeout: 20 * time.Millisecond}
	for i := range 5 {
		res, err := p.Chat(context.Background(), h, llm.Call{Request: request(fmt.Sprint("k", i))})
		if err != nil || res.Response.Host != "good" {
			t.Fatalf("request %d: %+v, %v; want an answer from good", i, res, err)
		}
	}
	if n := len(hung.Calls()); n != 2 || len(drops) != 1 || !strings.HasPrefix(drops[0], "hung: ") || !strings.Contains(drops[0], "ran out of time") {
		t.Errorf("hung got %d requests, drops %q; want 2 requests, then one drop that says why", n, drops)
	}

	// Both hosts slow: no host is blamed, and the call says it timed out.
	slowA, slowB := answering("a"), answering("b")
	slowA.hold, slowB.hold = make(chan struct{}), make(chan struct{})
	h = hosts(t, llm.HostsOptions{Slots: 1, MaxFailures: 1, OnDrop: func(host string, _ error) { t.Errorf("dropped %s", host) }}, slowA, slowB)
	res, err := llm.Policy{Retries: 3, Timeout: 20 * time.Millisecond}.Chat(context.Background(), h, llm.Call{Request: request("k")})
	if !errors.Is(err, llm.ErrTimeout) || res.Attempts != 2 {
		t.Errorf("got %d attempts, %v; want 2 (one per host) and ErrTimeout", res.Attempts, err)
	}
}

// A host that cannot be reached is dropped at once, and the attempt lost on
// it does not count against the request's retries.
func TestHostsDropUnreachable(t *testing.T) {
	down := newScript("down", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return fail(llm.ErrUnreachable) })
	up := answering("up")
	dropped := 0
	h := hosts(t, llm.HostsOptions{OnDrop: func(string, error) { dropped++ }}, down, up)
	res, err := llm.Policy{Retries: 0}.Chat(context.Background(), h, llm.Call{Request: request("k")})
	if err != nil || res.Response.Host != "up" || res.Attempts != 2 || dropped != 1 {
		t.Errorf("got %+v, %v, %d drops; want up's answer after 2 attempts with no retries allowed, and 1 drop", res, err, dropped)
	}
}

// The last host is never dropped: when every server is gone, the caller
// retries with backoff and then sees why.
func TestHostsKeepLastHost(t *testing.T) {
	down := newScript("down", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return fail(llm.ErrUnreachable) })
	h := hosts(t, llm.HostsOptions{OnDrop: func(host string, _ error) { t.Errorf("dropped %s, the only host", host) }}, down)
	var slept []time.Duration
	res, err := llm.Policy{Retries: 2, Sleep: noSleep(&slept)}.Chat(context.Background(), h, llm.Call{Request: request("k")})
	if !errors.Is(err, llm.ErrUnreachable) || res.Attempts != 3 || len(slept) != 2 || len(h.Live()) != 1 {
		t.Errorf("err %v after %d attempts, slept %v, live %v", err, res.Attempts, slept, h.Live())
	}
}

func TestHostsShowVersion(t *testing.T) {
	a, b := answering("a"), answering("b")
	h := hosts(t, llm.HostsOptions{}, a, b)
	info, err := h.Show(context.Background(), "m")
	if err != nil || info.Host != "a, b" || info.ID != "m" {
		t.Errorf("Show = %+v, %v", info, err)
	}
	if v, err := h.Version(context.Background()); err != nil || v != "v-a, v-b" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if _, err := llm.NewHosts([]llm.Client{a, answering("a")}, llm.HostsOptions{}); err == nil {
		t.Error("the same host twice was accepted")
	}
	if _, err := llm.NewHosts(nil, llm.HostsOptions{}); err == nil {
		t.Error("no hosts was accepted")
	}
}

// Two real HTTP servers, one of which stops for good in the middle: every
// request is answered exactly once, by the host that stayed or by the other
// before it stopped, and the stopped one is dropped with a warning.
func TestHostsServerStopsMidway(t *testing.T) {
	for _, backend := range []string{llm.BackendOllama, llm.BackendOpenAI} {
		t.Run(backend, func(t *testing.T) {
			const n = 40
			stays := fakeollama.New(t, fakeollama.Model{Name: "m"})
			stops := fakeollama.New(t, fakeollama.Model{Name: "m"})
			echo := func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
				return fakeollama.Reply{Chunks: []string{"answer to ", req.Messages[len(req.Messages)-1].Content}, PromptTokens: 5, OutputTokens: 3, Delay: time.Millisecond}
			}
			stays.Chat = echo
			var stopped atomic.Bool
			stops.Chat = func(i int, req fakeollama.ChatRequest) fakeollama.Reply {
				if i == 5 && stopped.CompareAndSwap(false, true) {
					// No new connection from now on, open ones closed, and
					// this answer cut: the server is gone.
					stops.Listener.Close()
					stops.CloseClientConnections()
					return fakeollama.Reply{Chunks: []string{"half"}, Cut: true}
				}
				if stopped.Load() {
					return fakeollama.Reply{Cut: true}
				}
				return echo(i, req)
			}
			var (
				mu    sync.Mutex
				drops []string
			)
			var cs []llm.Client
			for _, f := range []*fakeollama.Server{stays, stops} {
				cs = append(cs, clientFor(t, backend, f.URL))
			}
			h := hosts(t, llm.HostsOptions{Slots: 2, OnDrop: func(host string, err error) {
				mu.Lock()
				drops = append(drops, host)
				mu.Unlock()
			}}, cs...)
			ids := make([]int, n)
			for i := range ids {
				ids[i] = i
			}
			answers := map[int]int{}
			byHost := map[string]int{}
			p := llm.Policy{Retries: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
			err := llm.Each(context.Background(), h.Slots(), ids, func(ctx context.Context, id int, send func(*llm.ChatResponse)) error {
				req := &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "system", Content: "same prompt"}, {Role: "user", Content: fmt.Sprint("q", id)}}}
				res, err := p.Chat(ctx, h, llm.Call{Request: req})
				if err != nil {
					return fmt.Errorf("q%d: %w", id, err)
				}
				if want := fmt.Sprint("answer to q", id); res.Response.Content != want {
					return fmt.Errorf("q%d answered %q", id, res.Response.Content)
				}
				send(res.Response)
				return nil
			}, func(r *llm.ChatResponse) error {
				var id int
				fmt.Sscanf(r.Content, "answer to q%d", &id)
				answers[id]++
				byHost[r.Host]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for id := range n {
				if answers[id] != 1 {
					t.Errorf("q%d answered %d times, want once", id, answers[id])
				}
			}
			if byHost[stays.URL+"/v1"]+byHost[stays.URL] == 0 || byHost[stops.URL+"/v1"]+byHost[stops.URL] == 0 {
				t.Errorf("answers by host %v: want both hosts to have answered", byHost)
			}
			if len(drops) != 1 || !strings.HasPrefix(drops[0], stops.URL) {
				t.Errorf("dropped %v, want only %s", drops, stops.URL)
			}
		})
	}
}

// clientFor returns a client of backend for a fake server at base.
func clientFor(t *testing.T, backend, base string) llm.Client {
	t.Helper()
	if backend == llm.BackendOpenAI {
		base += "/v1"
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if backend == llm.BackendOpenAI {
		return llm.NewOpenAI(u, "")
	}
	return llm.NewOllama(u)
}

// Warm sends one request to every slot of every host, all at once.
func TestHostsWarm(t *testing.T) {
	a, b := answering("a"), answering("b")
	a.hold, b.hold = make(chan struct{}), make(chan struct{})
	h := hosts(t, llm.HostsOptions{Slots: 2}, a, b)
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(a.hold)
		close(b.hold)
	}()
	var mu sync.Mutex
	answered := map[string]int{}
	h.Warm(context.Background(), request("P"), time.Minute, func(r *llm.ChatResponse, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("warm-up: %v", err)
			return
		}
		answered[r.Host]++
	})
	if answered["a"] != 2 || answered["b"] != 2 || a.Peak() != 2 || b.Peak() != 2 {
		t.Errorf("warm-ups answered by %v, peaks a %d b %d; want 2 each, both at once", answered, a.Peak(), b.Peak())
	}
}

// A warm-up on a host that cannot be reached drops it, and is not retried
// elsewhere: the other host already has its own.
func TestHostsWarmDropsDeadHost(t *testing.T) {
	down := newScript("down", func(int, *llm.ChatRequest) (*llm.ChatResponse, error) { return fail(llm.ErrUnreachable) })
	up := answering("up")
	var drops atomic.Int32
	h := hosts(t, llm.HostsOptions{Slots: 1, OnDrop: func(string, error) { drops.Add(1) }}, down, up)
	var failed atomic.Int32
	h.Warm(context.Background(), request("P"), 0, func(_ *llm.ChatResponse, err error) {
		if err != nil {
			failed.Add(1)
		}
	})
	if failed.Load() != 1 || drops.Load() != 1 || len(up.Calls()) != 1 || len(h.Live()) != 1 {
		t.Errorf("%d failed, %d drops, up asked %d times, live %v; want 1, 1, 1, [up]", failed.Load(), drops.Load(), len(up.Calls()), h.Live())
	}
}
