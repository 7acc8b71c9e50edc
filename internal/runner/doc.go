// Package runner is the plan and run stages: it expands models, scenarios,
// requests, tiers and sample indexes into chat jobs, sends them to the model
// server, and appends one record per finished sample to samples.jsonl,
// resuming a run where an earlier invocation stopped.
package runner
