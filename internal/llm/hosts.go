package llm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxFailures is how many failed requests in a row make a host count
// as dead when it still accepts connections (a crashing runner, say).
const DefaultMaxFailures = 3

// HostsOptions configures Hosts.
type HostsOptions struct {
	// Slots is how many requests each host serves at once: Ollama's
	// OLLAMA_NUM_PARALLEL, or dozens for vLLM. 0 means 1; below 0 means no
	// bound.
	Slots int
	// MaxFailures is how many transient failures in a row drop a host that
	// still answers; 0 means DefaultMaxFailures. A host that cannot be
	// reached at all is dropped at once.
	MaxFailures int
	// OnDrop is told, from the goroutine whose request failed, when a host
	// is dropped; the probe prints it as a warning. It may be nil.
	OnDrop func(host string, err error)
}

// Hosts is a Client over several servers of one back end serving the same
// models. It spreads requests over the hosts, at most Slots at a time on
// each, and keeps each host's prompt cache warm: a request goes to a host
// that last served its CacheKey when one has a free slot, so a host gets
// whole blocks of requests with the same system prompt. With Policy.Chat, a
// request whose host fails is sent again to another host. A host that
// cannot be reached, or fails MaxFailures times in a row, is dropped with a
// call to OnDrop and gets no more requests; the last live host is never
// dropped, so that when every server is gone the caller sees why.
//
// Every answer names the host that gave it (ChatResponse.Host). Hosts is
// safe for concurrent use; callers run as many requests at once as Slots
// gives in total (see Slots).
type Hosts struct {
	o HostsOptions

	mu      sync.Mutex
	members []*member
	queue   []*waiter // requests waiting for a slot, oldest first
}

type member struct {
	c    Client
	name string
	busy int
	// key is the CacheKey of the last request it took: its cache holds
	// that prompt.
	key      string
	failures int
	dead     bool
}

type waiter struct {
	key   string
	avoid map[*member]bool
	only  *member      // when set, the one host it may have
	got   chan *member // receives the host whose slot was taken for it
}

// NewHosts returns a Client over clients, one per host. Two clients with
// the same Host are refused.
func NewHosts(clients []Client, o HostsOptions) (*Hosts, error) {
	if len(clients) == 0 {
		return nil, errors.New("no hosts")
	}
	if o.Slots == 0 {
		o.Slots = 1
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	h := &Hosts{o: o}
	seen := map[string]bool{}
	for _, c := range clients {
		name := c.Host()
		if seen[name] {
			return nil, fmt.Errorf("host %s is listed twice", name)
		}
		seen[name] = true
		h.members = append(h.members, &member{c: c, name: name})
	}
	return h, nil
}

// Warm sends req to every slot of every live host at once, one request
// each (one per host when the slots are unbounded), so that every slot's
// cache holds req's prompt prefix, and each host has loaded the model,
// before the timed work starts: a slot's first request would otherwise pay
// for both. Each answer, or failure, is given to fn (from several
// goroutines) and otherwise dropped: a warm-up is never a sample. A host
// that cannot be reached is dropped as usual; other failures are left to
// the real requests, which report them. Each request is bounded by
// timeout when it is above 0.
func (h *Hosts) Warm(ctx context.Context, req *ChatRequest, timeout time.Duration, fn func(*ChatResponse, error)) {
	per := max(h.o.Slots, 1)
	key := cacheKey(req)
	var wg sync.WaitGroup
	for _, m := range h.live() {
		for range per {
			wg.Go(func() {
				got, err := h.wait(ctx, &waiter{key: key, only: m, got: make(chan *member, 1)})
				if err != nil {
					return
				}
				tctx, cancel := ctx, context.CancelFunc(func() {})
				if timeout > 0 {
					tctx, cancel = context.WithTimeout(ctx, timeout)
				}
				resp, err := got.c.Chat(tctx, req)
				timedOut := errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
				cancel()
				h.release(got, err, timedOut)
				if fn != nil && ctx.Err() == nil {
					fn(resp, err)
				}
			})
		}
	}
	wg.Wait()
}

// single wraps one client without a bound on its requests, so that
// Policy.Chat has one loop for one host and for several.
func single(c Client) *Hosts {
	return &Hosts{o: HostsOptions{Slots: -1, MaxFailures: DefaultMaxFailures}, members: []*member{{c: c, name: c.Host()}}}
}

// Host names every host, comma-separated, the dropped ones included.
func (h *Hosts) Host() string {
	names := make([]string, len(h.members))
	for i, m := range h.members {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// Live returns the hosts that have not been dropped.
func (h *Hosts) Live() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.members {
		if !m.dead {
			out = append(out, m.name)
		}
	}
	return out
}

// Slots is how many requests the live hosts serve at once in all: the
// number of workers that keeps every slot busy. It is 0 when the hosts have
// no bound.
func (h *Hosts) Slots() int {
	if h.o.Slots < 0 {
		return 0
	}
	return len(h.Live()) * h.o.Slots
}

// Show asks every live host about model and returns the first one's answer
// with Host naming them all. A host that lacks the model, or cannot be
// reached, fails it: a run must not start on a host that cannot serve it.
// Hosts reporting different weights (digests) fail it too, since their
// answers would mix two models.
func (h *Hosts) Show(ctx context.Context, model string) (*ModelInfo, error) {
	var first *ModelInfo
	for _, m := range h.live() {
		info, err := m.c.Show(ctx, model)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = info
			continue
		}
		if info.Digest != first.Digest || info.ID != first.ID {
			return nil, fmt.Errorf("model %s differs between hosts: %s has %s, %s has %s",
				model, first.Host, describeModel(first), m.name, describeModel(info))
		}
	}
	out := *first
	out.Host = h.Host()
	return &out, nil
}

func describeModel(i *ModelInfo) string {
	if i.Digest != "" {
		return i.ID + " " + i.Digest
	}
	return i.ID
}

// Version returns the live hosts' versions, the distinct ones
// comma-separated.
func (h *Hosts) Version(ctx context.Context) (string, error) {
	var vs []string
	for _, m := range h.live() {
		v, err := m.c.Version(ctx)
		if err != nil {
			return "", err
		}
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	return strings.Join(vs, ", "), nil
}

// Pull downloads model on every live host in turn.
func (h *Hosts) Pull(ctx context.Context, model string, fn func(Progress)) error {
	for _, m := range h.live() {
		if err := m.c.Pull(ctx, model, fn); err != nil {
			return err
		}
	}
	return nil
}

func (h *Hosts) live() []*member {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*member
	for _, m := range h.members {
		if !m.dead {
			out = append(out, m)
		}
	}
	return out
}

// acquire takes a slot for a request with key, on a host not in avoid if
// any live host is not, waiting for one to free up.
func (h *Hosts) acquire(ctx context.Context, key string, avoid map[*member]bool) (*member, error) {
	return h.wait(ctx, &waiter{key: key, avoid: avoid, got: make(chan *member, 1)})
}

// wait queues w until a slot is handed to it.
func (h *Hosts) wait(ctx context.Context, w *waiter) (*member, error) {
	h.mu.Lock()
	h.queue = append(h.queue, w)
	h.dispatch()
	h.mu.Unlock()
	select {
	case m := <-w.got:
		return m, nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.queue, w); i >= 0 {
		h.queue = slices.Delete(h.queue, i, i+1)
		return nil, context.Cause(ctx)
	}
	// A slot was handed over as the context ended: give it back.
	m := <-w.got
	m.busy--
	h.dispatch()
	return nil, context.Cause(ctx)
}

// release gives back m's slot after a request that ended with err, and
// reports whether m is now dropped as dead, by this failure or an earlier
// one. A request cut by its own deadline (timedOut) or by its caller says
// nothing about the host by itself (see blame).
func (h *Hosts) release(m *member, err error, timedOut bool) (dead bool) {
	h.mu.Lock()
	m.busy--
	dropped := false
	switch {
	case timedOut:
		// blame decides, once another host has answered the request.
	case err == nil || !Retryable(err):
		m.failures = 0
	case !errors.Is(err, context.Canceled):
		dropped = h.fail(m, errors.Is(err, ErrUnreachable))
	}
	dead = m.dead && err != nil
	h.dispatch()
	h.mu.Unlock()
	if dropped && h.o.OnDrop != nil {
		h.o.OnDrop(m.name, err)
	}
	return dead
}

// blame counts a failure for each host in slow other than ok: a request
// ran out of time on it and then ok answered it in time. A host that hangs
// (accepts requests, never answers) is dropped this way, as one that fails
// MaxFailures times, unless it is the last live host.
func (h *Hosts) blame(slow []*member, ok *member) {
	var dropped []*member
	h.mu.Lock()
	for _, m := range slow {
		if m == ok || m.dead {
			continue
		}
		if h.fail(m, false) {
			dropped = append(dropped, m)
		}
	}
	h.dispatch()
	h.mu.Unlock()
	if h.o.OnDrop != nil {
		for _, m := range dropped {
			h.o.OnDrop(m.name, fmt.Errorf("%w: its requests ran out of time while another host answered them", ErrTimeout))
		}
	}
}

// fail counts a failure of m in a row, and drops m when it has failed
// MaxFailures times in a row, or at once when now is set (it cannot be
// reached); the last live host is never dropped. It reports whether this
// failure dropped m. h.mu must be held.
func (h *Hosts) fail(m *member, now bool) bool {
	m.failures++
	if m.dead || !(now || m.failures >= h.o.MaxFailures) || h.liveCount() <= 1 {
		return false
	}
	m.dead = true
	return true
}

// untried reports whether a live host is not in failed.
func (h *Hosts) untried(failed map[*member]bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.members {
		if !m.dead && !failed[m] {
			return true
		}
	}
	return false
}

func (h *Hosts) liveCount() int {
	n := 0
	for _, m := range h.members {
		if !m.dead {
			n++
		}
	}
	return n
}

// dispatch hands free slots to waiting requests, oldest first: first each
// request a free host whose cache holds its key, then what is left to the
// rest, so that a host switches to another prompt only when no request for
// its own is waiting. h.mu must be held.
func (h *Hosts) dispatch() {
	for _, warm := range []bool{true, false} {
		for i := 0; i < len(h.queue); {
			w := h.queue[i]
			m := h.pick(w, warm)
			if m == nil {
				i++
				continue
			}
			m.busy++
			m.key = w.key
			h.queue = slices.Delete(h.queue, i, i+1)
			w.got <- m
		}
	}
}

// pick chooses a live host with a free slot for w: one whose cache holds
// w's key, or when warm is false any, preferring one never used, then the
// least busy. Hosts w avoids are left out unless every live host is one.
// h.mu must be held.
func (h *Hosts) pick(w *waiter, warm bool) *member {
	if w.only != nil && w.only.dead {
		return w.only // it fails at once, rather than wait for ever
	}
	avoidAll := true
	for _, m := range h.members {
		if !m.dead && !w.avoid[m] {
			avoidAll = false
			break
		}
	}
	var best *member
	rank := func(m *member) int {
		switch {
		case m.key == w.key:
			return 0
		case m.key == "" && m.busy == 0:
			return 1
		}
		return 2
	}
	for _, m := range h.members {
		if m.dead || (w.avoid[m] && !avoidAll) || (h.o.Slots > 0 && m.busy >= h.o.Slots) || (w.only != nil && m != w.only) {
			continue
		}
		if warm && m.key != w.key {
			continue
		}
		if best == nil || rank(m) < rank(best) || rank(m) == rank(best) && m.busy < best.busy {
			best = m
		}
	}
	return best
}
