package judge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/record"
)

// Judging as generation writes: every answered sample is judged once, the
// first before the last sample is written, and the run's lock is taken
// only once generation has let go of it.
func TestClassifyFollowsGeneration(t *testing.T) {
	_, all := writeSamples(t)
	dir := t.TempDir()
	f := fake(t)
	f.Chat = scripted(t)
	j := newJudge(t, f)
	j.Votes = 1

	gen, err := record.LockDir(dir) // the generate stage holds the run
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := record.OpenAppender(filepath.Join(dir, record.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan struct{}, 1)
	judged := make(chan record.Judgment, 100)
	type result struct {
		res *ClassifyResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Classify(context.Background(), ClassifyOptions{Dir: dir, Judge: j, Concurrency: 2, Follow: written, Longest: 1000,
			Observe: func(jd record.Judgment) { judged <- jd }})
		done <- result{res, err}
	}()
	for i, s := range all {
		if err := app.Append(s); err != nil {
			t.Fatal(err)
		}
		select {
		case written <- struct{}{}:
		default:
		}
		if i == 0 {
			// The first sample is judged while generation goes on.
			jd := <-judged
			if jd.QueryID != s.QueryID || jd.Tier != s.Tier {
				t.Errorf("first verdict is about %s/%s, want the first sample's", jd.QueryID, jd.Tier)
			}
		}
	}
	app.Close()
	gen.Unlock()
	close(written)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	js, err := record.ReadJudgments(dir)
	if err != nil {
		t.Fatal(err)
	}
	// writeSamples: 6 answered samples, 5 with reasoning, 5 with output.
	if js.Lines != 10 || js.Len() != 10 || r.res.Written != 10 || r.res.Samples != 6 {
		t.Errorf("%d lines for %d verdicts, %d written of %d samples; want 10, 10, 10, 6", js.Lines, js.Len(), r.res.Written, r.res.Samples)
	}
	if _, err := record.LockDir(dir); err != nil {
		t.Errorf("the lock was not released: %v", err)
	}
}

// When the judge's server goes away while it follows generation, Classify
// returns, and nothing it started goes on: samples written afterwards are
// not read, and the result the caller reads stays as it was returned (the
// race detector also sees any write to it).
func TestClassifyFollowEndsWithItsCall(t *testing.T) {
	_, all := writeSamples(t)
	dir := t.TempDir()
	f := fake(t)
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		f.Listener.Close() // the judge's server dies on its first request
		return fakeollama.Reply{Chunks: []string{"{"}, Cut: true}
	}
	j := newJudge(t, f)
	j.Votes, j.Retries = 1, 0
	gen, err := record.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Unlock()
	app, _, err := record.OpenAppender(filepath.Join(dir, record.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	written := make(chan struct{}, 1)
	defer close(written)
	done := make(chan *ClassifyResult, 1)
	go func() {
		res, err := Classify(context.Background(), ClassifyOptions{Dir: dir, Judge: j, Concurrency: 1, Follow: written, Longest: 1000})
		if !errors.Is(err, ErrJudgeUnreachable) {
			t.Errorf("Classify: %v, want ErrJudgeUnreachable", err)
		}
		done <- res
	}()
	if err := app.Append(all[0]); err != nil {
		t.Fatal(err)
	}
	written <- struct{}{}
	res := <-done
	want := res.Samples
	// Generation goes on after the judge has stopped.
	for i, s := range all[1:] {
		s.QueryID = fmt.Sprintf("later-%d", i)
		if err := app.Append(s); err != nil {
			t.Fatal(err)
		}
		select {
		case written <- struct{}{}:
		default:
		}
		for _, labels := range res.Labels { // as the caller's summary does
			for range labels {
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // time for a follower left behind to read them
	if res.Samples != want {
		t.Errorf("the result counted %d samples when returned, %d after later samples were written; want it unchanged", want, res.Samples)
	}
}
