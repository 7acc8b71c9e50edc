package runner

import (
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// Job is one planned sample.
type Job struct {
	Model    string
	Scenario *prompt.Scenario
	Request  dataset.Request
	Tier     record.Tier
	Sample   int
}

// Key is the job's record key.
func (j Job) Key() record.Key {
	return record.Key{Model: j.Model, Scenario: j.Scenario.Name, QueryID: j.Request.ID, Tier: j.Tier, Sample: j.Sample}
}

// Plan lists the jobs for one model in the order they are sent: scenario by
// scenario, and for each request both tiers back to back, so the server's
// prompt cache, which holds the shared system prompt, stays warm.
func Plan(model string, scenarios []*prompt.Scenario, reqs []dataset.Request, samples int) []Job {
	jobs := make([]Job, 0, len(scenarios)*len(reqs)*len(record.Tiers)*samples)
	for _, sc := range scenarios {
		for _, r := range reqs {
			for s := 0; s < samples; s++ {
				for _, tier := range record.Tiers {
					jobs = append(jobs, Job{Model: model, Scenario: sc, Request: r, Tier: tier, Sample: s})
				}
			}
		}
	}
	return jobs
}
