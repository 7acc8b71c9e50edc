package llm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"
)

// Errors of a call with retries, beside the Client's own kinds.
var (
	// ErrTimeout means an attempt found no complete answer within the
	// policy's Timeout.
	ErrTimeout = errors.New("no complete answer in time")
	// ErrInvalidAnswer means every answer the server gave was refused by
	// the call's Check; the check's last error is wrapped beside it.
	ErrInvalidAnswer = errors.New("answer refused")
)

// Policy says how a call is tried: how many times, how long one attempt may
// take, and how long to wait between attempts. The zero Policy tries once,
// with no deadline of its own.
type Policy struct {
	// Retries is how many more attempts a call gets after a transient
	// failure (Retryable), a refused answer (Call.Check) or, with
	// RetryTimeouts, a timeout. An attempt that failed on a host that has
	// been dropped as dead is not counted: it goes again to another host.
	Retries int
	// Timeout bounds one attempt, from the request to the answer's last
	// token; 0 means no bound. Waiting for a free slot of a host is not
	// counted.
	Timeout time.Duration
	// RetryTimeouts makes an attempt that ran out of time count as
	// transient. Off, the call fails with ErrTimeout at once: an answer that
	// took request_timeout will most likely take it again.
	RetryTimeouts bool
	// Backoff is the wait before the next attempt after a transient
	// failure, given the attempts made so far; nil means DefaultBackoff.
	// There is no wait before trying another host, nor after a refused
	// answer or a timeout, which were not the server's trouble or already
	// waited long.
	Backoff func(attempt int) time.Duration
	// Sleep waits for d or until ctx ends; nil means a timer. Tests inject
	// one that returns at once and records d.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff waits 1 s, 2 s, 4 s ... after attempts 1, 2, 3 ..., at
// most 30 s.
func DefaultBackoff(attempt int) time.Duration {
	// The shift is bounded so that a large attempt cannot overflow.
	return min(time.Second<<(min(max(attempt, 1), 6)-1), 30*time.Second)
}

// Call is one logical chat call: a request and what makes its answer good.
type Call struct {
	Request *ChatRequest
	// Check, when set, looks at every complete answer; an error refuses
	// it, and the call asks again while attempts remain. A judge uses it to
	// ask again for an answer that does not fit its schema.
	Check func(*ChatResponse) error
	// Reseed makes attempt k send the request's seed plus k-1, so that an
	// answer asked again is not the same answer; without a seed in the
	// options it does nothing.
	Reseed bool
}

// Result is what a call did.
type Result struct {
	// Response is the last attempt's answer; nil when that attempt failed.
	// With a Check it may be an answer the check refused, kept so the
	// caller can record what was refused.
	Response *ChatResponse
	// Attempts counts the requests sent, to any host.
	Attempts int
}

// Chat sends call to c and tries again as the policy allows. When c is a
// *Hosts, each attempt goes to a host chosen for the request's CacheKey, a
// failed attempt is sent next to a host it has not failed on yet (at once),
// and only when every live host has failed does the policy back off. An
// attempt that ran out of time goes to another host too, when one is left
// untried; a host whose timed-out request another answered in time counts
// a failure, so that a host that hangs is dropped like one that fails.
//
// The error is nil, the parent context's cause, ErrTimeout, ErrInvalidAnswer
// wrapped with the check's last error, or the last attempt's error with the
// Client's kind (ErrUnreachable, ErrModelNotFound, ErrContextExceeded,
// ErrBadRequest, ErrServer, ErrIncomplete).
func (p Policy) Chat(ctx context.Context, c Client, call Call) (Result, error) {
	hs, ok := c.(*Hosts)
	if !ok {
		hs = single(c)
	}
	backoff, sleep := p.Backoff, p.Sleep
	if backoff == nil {
		backoff = DefaultBackoff
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	key := cacheKey(call.Request)
	var res Result
	failed := map[*member]bool{} // hosts this call failed on since the last backoff
	var slow []*member           // hosts this call ran out of time on
	left := 1 + max(p.Retries, 0)
	for {
		m, err := hs.acquire(ctx, key, failed)
		if err != nil {
			return res, err
		}
		res.Attempts++
		req := call.Request
		if call.Reseed || req.Stream != nil {
			r := *req
			if call.Reseed {
				r.Options = OffsetSeed(req.Options, res.Attempts-1)
			}
			if stream, n := req.Stream, res.Attempts; stream != nil {
				r.Stream = func(c Chunk) { c.Attempt = n; stream(c) }
			}
			req = &r
		}
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if p.Timeout > 0 {
			tctx, cancel = context.WithTimeout(ctx, p.Timeout)
		}
		resp, err := m.c.Chat(tctx, req)
		timedOut := errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		dead := hs.release(m, err, timedOut)
		res.Response = nil
		switch {
		case err == nil:
			// A host on which this request ran out of time, answered in
			// time by another, is the host's trouble, not the request's.
			hs.blame(slow, m)
			slow = slow[:0]
			res.Response = resp
			if call.Check == nil {
				return res, nil
			}
			cerr := call.Check(resp)
			if cerr == nil {
				return res, nil
			}
			if left--; left == 0 {
				return res, fmt.Errorf("%w: %w", ErrInvalidAnswer, cerr)
			}
			continue
		case ctx.Err() != nil:
			return res, context.Cause(ctx)
		case timedOut:
			// Another host may answer in time; only when none is left to
			// try does RetryTimeouts decide whether to try again.
			terr := fmt.Errorf("%w (request timeout %s)", ErrTimeout, p.Timeout)
			slow = append(slow, m)
			failed[m] = true
			if left--; left == 0 {
				return res, terr
			}
			if hs.untried(failed) {
				continue
			}
			if !p.RetryTimeouts {
				return res, terr
			}
			clear(failed)
			continue
		case !Retryable(err):
			return res, err
		}
		failed[m] = true
		if !dead {
			left--
		}
		if left <= 0 {
			return res, err
		}
		if hs.untried(failed) {
			continue
		}
		clear(failed)
		if serr := sleep(ctx, backoff(res.Attempts)); serr != nil {
			return res, context.Cause(ctx)
		}
	}
}

// Chat sends req once with the zero Policy: on several hosts a request
// whose host fails is still sent to another, as Policy.Chat says.
func (h *Hosts) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	res, err := Policy{}.Chat(ctx, h, Call{Request: req})
	return res.Response, err
}

// OffsetSeed returns opts with its "seed" moved by by, or opts itself when
// there is no seed or by is 0; opts is never changed. Sample k of a seeded
// run uses OffsetSeed(opts, k), so repeated samples differ and a rerun
// repeats them.
func OffsetSeed(opts map[string]any, by int) map[string]any {
	seed, ok := opts["seed"]
	if !ok || by == 0 {
		return opts
	}
	var next any
	switch s := seed.(type) {
	case int:
		next = s + by
	case int64:
		next = s + int64(by)
	case float64:
		next = s + float64(by)
	default:
		return opts
	}
	o := maps.Clone(opts)
	o["seed"] = next
	return o
}

// cacheKey is what groups req with requests that share its prompt prefix.
func cacheKey(req *ChatRequest) string {
	if req.CacheKey != "" || len(req.Messages) == 0 {
		return req.CacheKey
	}
	return req.Model + "\x00" + req.Messages[0].Content
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
