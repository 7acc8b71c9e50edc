package runner

import (
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// Job is one planned sample.
type Job struct {
	Model string
	// Scenario is the scenario or variant, bound to its variables.
	Scenario *prompt.Scenario
	Request  dataset.Request
	Tier     record.Tier
	Sample   int
}

// Key is the job's record key.
func (j Job) Key() record.Key {
	return record.Key{Model: j.Model, Scenario: j.Scenario.Name, Variant: j.Scenario.Variant, QueryID: j.Request.ID, Tier: j.Tier, Sample: j.Sample}
}

// Plan lists the jobs for one model in the order they are sent: system
// prompt by system prompt, and for each request both tiers back to back, so
// the server's prompt cache, which holds the shared system prompt, stays
// warm. Scenarios and variants that send the same system prompt (a variant
// that changes only the user turn) run one after the other.
//
// A scenario with its own requests asks those; the others ask reqs.
func Plan(model string, scenarios []*prompt.Scenario, reqs []dataset.Request, samples int) []Job {
	var jobs []Job
	for _, sc := range byPrompt(scenarios) {
		for _, r := range requestsOf(sc, reqs) {
			for s := 0; s < samples; s++ {
				for _, tier := range record.Tiers {
					jobs = append(jobs, Job{Model: model, Scenario: sc, Request: r, Tier: tier, Sample: s})
				}
			}
		}
	}
	return jobs
}

// requestsOf is what sc asks: its own requests, or else the run's.
func requestsOf(sc *prompt.Scenario, reqs []dataset.Request) []dataset.Request {
	if sc.Requests != nil {
		return sc.Requests.Requests
	}
	return reqs
}

// byPrompt orders scenarios so that those with the same system prompt are
// next to each other, keeping the order in which each prompt first comes.
func byPrompt(scenarios []*prompt.Scenario) []*prompt.Scenario {
	out := make([]*prompt.Scenario, 0, len(scenarios))
	placed := make([]bool, len(scenarios))
	for i, sc := range scenarios {
		if placed[i] {
			continue
		}
		for j := i; j < len(scenarios); j++ {
			if !placed[j] && scenarios[j].System == sc.System {
				out = append(out, scenarios[j])
				placed[j] = true
			}
		}
	}
	return out
}

// SystemPrompts counts the distinct system prompts among scenarios: the
// blocks of a model's plan that each fill the server's prompt cache anew.
func SystemPrompts(scenarios []*prompt.Scenario) int {
	seen := map[string]bool{}
	for _, sc := range scenarios {
		seen[sc.System] = true
	}
	return len(seen)
}
