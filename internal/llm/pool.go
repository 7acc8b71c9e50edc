package llm

import (
	"context"
	"iter"
	"slices"
	"sync"
)

// Each runs work on every job with at most workers at once (at least one),
// and hands what the workers send to consume one at a time, on the calling
// goroutine, in the order it arrives: a stage writes its records from one
// place while its requests run in parallel. With Hosts, workers is
// Hosts.Slots(), so that every slot of every host is kept busy.
//
// A work error stops the rest: jobs not yet started are not started, and
// Each returns that error once the running ones have ended. So does an
// error from consume; whatever is sent after it is drained and dropped, so
// a worker never blocks on send. A result sent before a stop is always
// consumed (unless consume itself failed), so a finished answer is never
// lost. Each returns nil when every job ran, else the cause of the stop,
// the parent context's included.
func Each[J, R any](ctx context.Context, workers int, jobs []J,
	work func(ctx context.Context, job J, send func(R)) error,
	consume func(R) error) error {
	return EachOf(ctx, workers, func(context.Context) iter.Seq[J] { return slices.Values(jobs) }, work, consume)
}

// EachOf is Each over jobs that may not all be known yet: a stage that
// follows another (the judge judging samples as they are written) yields
// each job when it comes, and the pool ends when the sequence does. jobs is
// given the pool's context, which ends when the pool stops (a work or
// consume error, the parent's end) or returns; a sequence that waits for
// jobs must end when it does. EachOf returns only once the sequence has
// ended and every worker has, so nothing it started outlives the call: a
// caller may read what the sequence and the workers wrote as soon as it
// returns.
func EachOf[J, R any](ctx context.Context, workers int, jobs func(ctx context.Context) iter.Seq[J],
	work func(ctx context.Context, job J, send func(R)) error,
	consume func(R) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	next := make(chan J)
	out := make(chan R)
	send := func(r R) { out <- r }
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j, ok := <-next:
					if !ok || ctx.Err() != nil {
						return
					}
					if err := work(ctx, j, send); err != nil {
						cancel(err)
						return
					}
				}
			}
		})
	}
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(next)
		for j := range jobs(ctx) {
			select {
			case next <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	failed := false
	for r := range out {
		if failed {
			continue
		}
		if err := consume(r); err != nil {
			failed = true
			cancel(err)
		}
	}
	// The workers have ended, so every job was run or the pool stopped;
	// either way the sequence has nothing more to give, and it is told so
	// in case it waits for a job that will not be run.
	err := context.Cause(ctx)
	cancel(nil)
	<-fed
	return err
}
