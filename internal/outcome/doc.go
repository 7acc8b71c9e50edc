// Package outcome reads a model's answer in the scratchpad format: it splits
// the private reasoning from the final output and decides whether the model
// accepted or rejected the request. It is pure text work, used by the run
// stage and by anything that re-reads records.
package outcome
