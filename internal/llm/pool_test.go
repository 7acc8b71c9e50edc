package llm_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/llm"
)

func numbers(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestEachRunsEveryJob(t *testing.T) {
	var running, peak atomic.Int32
	seen := map[int]bool{}
	err := llm.Each(context.Background(), 3, numbers(50), func(_ context.Context, j int, send func(int)) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		send(j)
		return nil
	}, func(j int) error {
		seen[j] = true // one goroutine: the race detector would object otherwise
		return nil
	})
	if err != nil || len(seen) != 50 {
		t.Fatalf("%d results, err %v; want 50", len(seen), err)
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("%d jobs ran at once, want 2 or 3 of 3 workers", p)
	}
}

// A work error stops the jobs not yet started, and what was sent before it
// is still consumed.
func TestEachStopsOnWorkError(t *testing.T) {
	boom := errors.New("server gone")
	var started atomic.Int32
	var got []int
	err := llm.Each(context.Background(), 1, numbers(100), func(_ context.Context, j int, send func(int)) error {
		started.Add(1)
		send(j)
		if j == 4 {
			return boom
		}
		return nil
	}, func(j int) error { got = append(got, j); return nil })
	if !errors.Is(err, boom) || started.Load() != 5 || len(got) != 5 {
		t.Errorf("err %v, %d started, %d consumed; want the work error after 5 of each", err, started.Load(), len(got))
	}
}

// A consume error stops the rest, and a worker sending after it does not
// block.
func TestEachStopsOnConsumeError(t *testing.T) {
	full := errors.New("disk full")
	var consumed int
	err := llm.Each(context.Background(), 4, numbers(100), func(_ context.Context, j int, send func(int)) error {
		send(j)
		return nil
	}, func(int) error {
		consumed++
		if consumed == 3 {
			return full
		}
		return nil
	})
	if !errors.Is(err, full) || consumed != 3 {
		t.Errorf("err %v after %d consumed, want the consume error after 3", err, consumed)
	}
}

func TestEachParentCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int32
	err := llm.Each(ctx, 2, numbers(100), func(ctx context.Context, j int, send func(int)) error {
		if j == 10 {
			cancel()
		}
		done.Add(1)
		return nil
	}, func(int) error { return nil })
	if !errors.Is(err, context.Canceled) || done.Load() >= 100 {
		t.Errorf("err %v after %d jobs, want context.Canceled before the end", err, done.Load())
	}
}

// Jobs that come one by one, as samples are written: every one is run, and
// the pool ends when the sequence does.
func TestEachOfFollowsArrivals(t *testing.T) {
	arrive := make(chan int)
	go func() {
		for i := range 10 {
			arrive <- i
			time.Sleep(time.Millisecond)
		}
		close(arrive)
	}()
	seq := func(context.Context) iter.Seq[int] {
		return func(yield func(int) bool) {
			for j := range arrive {
				if !yield(j) {
					return
				}
			}
		}
	}
	sum := 0
	err := llm.EachOf(context.Background(), 2, seq, func(_ context.Context, j int, send func(int)) error {
		send(j)
		return nil
	}, func(j int) error { sum += j; return nil })
	if err != nil || sum != 45 {
		t.Errorf("sum %d, err %v; want 45 (0+...+9) and no error", sum, err)
	}
}

// A work error ends the pool even while the sequence waits for a job that
// may never come: the sequence is told through its context, and EachOf
// returns only once it has ended, so that it never runs on beside a caller
// that reads what it wrote.
func TestEachOfStopsWhileWaiting(t *testing.T) {
	boom := errors.New("judge gone")
	never := make(chan int)
	defer close(never)
	var ended atomic.Bool
	seq := func(ctx context.Context) iter.Seq[int] {
		return func(yield func(int) bool) {
			defer ended.Store(true)
			if !yield(1) {
				return
			}
			select {
			case j := <-never:
				yield(j)
			case <-ctx.Done():
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- llm.EachOf(context.Background(), 2, seq, func(context.Context, int, func(int)) error { return boom },
			func(int) error { return nil })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want the work error", err)
		}
		if !ended.Load() {
			t.Error("EachOf returned while its sequence still ran")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pool waited for the sequence after a work error")
	}
}

// A sequence that ended with every job run is not cut: EachOf returns nil,
// and the context it gave the sequence ends only as EachOf returns.
func TestEachOfSequenceContextEndsAtReturn(t *testing.T) {
	var seqCtx context.Context
	seq := func(ctx context.Context) iter.Seq[int] {
		seqCtx = ctx
		return slices.Values(numbers(5))
	}
	n := 0
	err := llm.EachOf(context.Background(), 2, seq, func(_ context.Context, j int, send func(int)) error {
		send(j)
		return nil
	}, func(int) error { n++; return nil })
	if err != nil || n != 5 {
		t.Errorf("%d consumed, err %v; want 5 and no error", n, err)
	}
	if seqCtx == nil || seqCtx.Err() == nil {
		t.Error("the sequence's context is still live after EachOf returned")
	}
}
