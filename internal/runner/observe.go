package runner

import (
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// Event is something the run stage did, told to Options.Observe as it
// happens: a progress display counts them, a demo shows answers as they
// stream. Events come from several goroutines (a sample's own goroutine
// for SampleStarted and Chunk, the writer for SampleFinished), so an
// observer must be safe for concurrent use, and quick: a slow one slows
// the run.
type Event interface{ event() }

// PlanEvent opens the run: what each model will do.
type PlanEvent struct {
	Run    string
	Models []ModelPlan
}

// ModelPlan is one model's part of the plan.
type ModelPlan struct {
	Name, Tag string
	Backend   string
	// Hosts are the servers' base URLs.
	Hosts []string
	// Slots is how many requests run at once, over every host.
	Slots int
	// NumCtx is the window sent (0 on an OpenAI-compatible server).
	NumCtx int
	// Planned counts every sample of the model, Done those an earlier
	// invocation finished, so Planned - Done are to be asked now.
	Planned, Done int
}

// ModelStarted says a model's requests begin: the warm-up, then its
// samples. Models on different servers run at the same time.
type ModelStarted struct{ Model string }

// WarmedUp is the answer (or failure) of one warm-up request: one per host
// and slot before a model's samples, so that the cold reading of the
// system prompt, and the model's load, are paid before timed work.
// Response.PromptEval is then a cold evaluation of the whole prompt.
type WarmedUp struct {
	Model    string
	Response *llm.ChatResponse
	Err      error
}

// SampleStarted says a sample's first request is about to be sent.
type SampleStarted struct{ Job Job }

// Chunk is a piece of a sample's answer as it streams in. A chunk of a
// later turn continues the answer; one of a later Attempt of the same turn
// replaces what that turn streamed before (the earlier attempt failed).
type Chunk struct {
	Key   record.Key
	Turn  int
	Chunk llm.Chunk
}

// SampleFinished says a sample was written to samples.jsonl; it is never
// told for a sample that was not.
type SampleFinished struct {
	Sample record.Sample
	// StopsModel is set when the sample's error stops its model, the
	// server having refused its request outright, as it would every other
	// (ModelFinished follows): Run's error says why, once.
	StopsModel bool
}

// HostDropped says a host stopped answering and gets no more requests;
// its requests go to the model's other hosts.
type HostDropped struct {
	Host string
	Err  error
}

// ModelFinished says a model's work ended; Err is set when the server
// refused its requests outright and the rest were not asked.
type ModelFinished struct {
	Model string
	Err   error
}

func (PlanEvent) event()      {}
func (ModelStarted) event()   {}
func (WarmedUp) event()       {}
func (SampleStarted) event()  {}
func (Chunk) event()          {}
func (SampleFinished) event() {}
func (HostDropped) event()    {}
func (ModelFinished) event()  {}
