package progress

import (
	"fmt"
	"strings"
	"time"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// Stats are one model's numbers so far, built from the run's events. The
// zero value is ready; fill Name and Todo.
type Stats struct {
	Name string
	// Todo counts the samples to ask in this invocation.
	Todo int
	// Done counts those written, Errors those written as errors, Stops
	// the unparsed answers without output by reason.
	Done, Errors int
	Unparsed     int
	Stops        map[string]int
	// OutputTokens and PromptTokens add up the samples written.
	OutputTokens, PromptTokens int
	// Started is when the model's first request went out (its warm-up);
	// Last when its last sample was written.
	Started, Last time.Time

	// reported adds up the cached tokens servers reported; readTokens and
	// readMS the prompt tokens and reading times of the samples of
	// servers that report times instead (Ollama).
	reported           int
	readTokens, readMS int64
	// coldRate is the slowest prompt reading seen, in tokens per
	// millisecond: a prompt read with no help from the cache.
	coldRate float64
}

// warmed counts a warm-up's cold reading of the whole prompt.
func (s *Stats) warmed(resp *llm.ChatResponse) {
	if resp != nil && resp.PromptTokens > 0 && resp.PromptEval > 0 {
		s.cold(float64(resp.PromptTokens) / float64(resp.PromptEval.Milliseconds()+1))
	}
}

func (s *Stats) cold(rate float64) {
	if s.coldRate == 0 || rate < s.coldRate {
		s.coldRate = rate
	}
}

// add counts a written sample.
func (s *Stats) add(r record.Sample, now time.Time) {
	s.Done++
	s.Last = now
	switch r.Outcome {
	case record.Error:
		s.Errors++
	case record.Unparsed:
		s.Unparsed++
		if r.Stop != "" {
			if s.Stops == nil {
				s.Stops = map[string]int{}
			}
			s.Stops[r.Stop]++
		}
	}
	s.OutputTokens += r.OutputTokens
	if r.PromptTokens <= 0 {
		return
	}
	s.PromptTokens += r.PromptTokens
	if r.CachedTokens > 0 || r.Backend == llm.BackendOpenAI {
		s.reported += r.CachedTokens
		return
	}
	s.readTokens += int64(r.PromptTokens)
	s.readMS += r.PromptEvalMS
	if r.PromptEvalMS > 0 {
		s.cold(float64(r.PromptTokens) / float64(r.PromptEvalMS))
	}
}

// Cache is the share of prompt tokens served from the server's cache, and
// whether it is known: what servers reported, and for Ollama, which says
// only how long it read each prompt, the tokens it did not have to read at
// the cold rate, the slowest reading seen (a warm-up's, or the first
// sample's). Since no sample read slower than that rate, each one's
// estimate is at least 0, and their sum is the sums' estimate:
// the display keeps sums, not samples, so its memory does not grow with a
// run.
func (s *Stats) Cache() (float64, bool) {
	if s.PromptTokens == 0 || (s.readTokens > 0 && s.coldRate == 0) {
		return 0, false
	}
	cached := float64(s.reported) + max(0, float64(s.readTokens)-s.coldRate*float64(s.readMS))
	return min(cached/float64(s.PromptTokens), 1), true
}

// Rates are answers per minute and output tokens per second since the
// model started, and the time its remaining samples will take at that pace
// (0 when there is no pace yet).
func (s *Stats) Rates(now time.Time) (perMin, tokPerSec float64, eta time.Duration) {
	if s.Started.IsZero() || s.Done == 0 {
		return 0, 0, 0
	}
	end := now
	if s.Done >= s.Todo && !s.Last.IsZero() {
		end = s.Last
	}
	el := end.Sub(s.Started)
	if el <= 0 {
		return 0, 0, 0
	}
	perMin = float64(s.Done) / el.Minutes()
	tokPerSec = float64(s.OutputTokens) / el.Seconds()
	if left := s.Todo - s.Done; left > 0 {
		eta = time.Duration(float64(el) / float64(s.Done) * float64(left))
	}
	return perMin, tokPerSec, eta
}

// Summary words the numbers after the count, e.g. "3.2 answers/min, 45
// tokens/s, 97% of prompt tokens cached, 0 errors, eta 2m10s".
func (s *Stats) Summary(now time.Time) string {
	perMin, tps, eta := s.Rates(now)
	parts := []string{fmt.Sprintf("%.1f answers/min", perMin), fmt.Sprintf("%.0f tokens/s", tps)}
	if c, ok := s.Cache(); ok {
		parts = append(parts, fmt.Sprintf("%.0f%% of prompt tokens cached", 100*c))
	}
	parts = append(parts, plural(s.Errors, "error"))
	if s.Unparsed > 0 {
		parts = append(parts, runner.UnparsedSummary(s.Unparsed, s.Stops))
	}
	switch {
	case s.Done >= s.Todo:
		parts = append(parts, "done")
	case eta > 0:
		parts = append(parts, "eta "+roundDuration(eta).String())
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
