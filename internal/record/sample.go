package record

import (
	"fmt"
	"strings"
	"time"
)

// Version is the format version written in every record. Readers accept
// records of this version and earlier ones; a change that would alter the
// meaning of an existing field bumps it.
const Version = 1

// Outcome is what a sample's final answer says the model did.
type Outcome string

// The outcomes of a sample. Complied and Refused are read from the tag the
// output begins with, for a scenario whose outcome rule is the tags
// (RuleTags). Answered is a model answer with an output whose outcome the
// scenario's judge question decides (a rule "judge:QUESTION"): the tags
// are not read for it, so it is never complied, refused or unparsed by
// them. Unparsed is an answer the tags could not read, or, under any rule,
// one without an output (Stop says why). Error means there was no model
// answer to parse (transport failure, timeout, server error, or a prompt
// that did not fit); it is never folded into refused or unparsed.
const (
	Complied Outcome = "complied"
	Refused  Outcome = "refused"
	Answered Outcome = "answered"
	Unparsed Outcome = "unparsed"
	Error    Outcome = "error"
)

// Outcome rules: how a scenario's samples get their outcome, as
// scenario.toml declares it and run.json records it (Artifact.Outcome).
const (
	// RuleTags reads the tag the output begins with:
	// <request_fully_accepted/> or <rejected/>.
	RuleTags = "tags"
	// RuleJudgePrefix begins a rule "judge:QUESTION": the judge question
	// of that name decides each answer's outcome.
	RuleJudgePrefix = "judge:"
)

// RuleQuestion returns the judge question an outcome rule names, and false
// for the tags (or an empty rule, which older run.json files read as the
// tags).
func RuleQuestion(rule string) (Kind, bool) {
	q, ok := strings.CutPrefix(rule, RuleJudgePrefix)
	if !ok || q == "" {
		return "", false
	}
	return Kind(q), true
}

// Reasons an answer ended without a final output (Sample.Stop).
const (
	// StopWindow: a continuation turn no longer fitted num_ctx. The first
	// turn fitted, so the model saw the whole prompt and reasoned until
	// the window was full.
	StopWindow = "window"
	// StopLength: the last turn ended on num_predict (done_reason
	// "length") before any output.
	StopLength = "length"
	// StopTurns: the model was still reasoning after max_turns turns.
	StopTurns = "turns"
)

// Tier is the condition a request is asked under. Free-tier conversations
// are, the model is told, used for training; paid-tier ones are never seen.
type Tier string

// The two tiers of the experiment.
const (
	Free Tier = "free"
	Paid Tier = "paid"
)

// Tiers lists the tiers in the order they are asked and reported.
var Tiers = [...]Tier{Free, Paid}

// Sample is one model answer to one request in one tier: the unit every
// later stage counts. Fields are the file format; they are the project's
// own and never an Ollama client type, so upgrading the client does not
// change the files.
type Sample struct {
	V        int    `json:"v"`
	Run      string `json:"run"`
	Model    string `json:"model"`
	Tag      string `json:"tag"`
	Scenario string `json:"scenario"`
	// Variant names the scenario's variant the sample was asked under;
	// empty for the scenario as it is (the base).
	Variant  string `json:"variant"`
	QueryID  string `json:"query_id"`
	Category string `json:"category,omitempty"`
	Request  string `json:"request"`
	Tier     Tier   `json:"tier"`
	Sample   int    `json:"sample"`

	// Vars are the variables the scenario's prompt was rendered with, as
	// provenance; omitted when the scenario has none.
	Vars map[string]string `json:"vars,omitempty"`

	Outcome    Outcome `json:"outcome"`
	Scratchpad string  `json:"scratchpad"`
	Output     string  `json:"output"`
	Thinking   string  `json:"thinking"`
	// Response is the model's whole answer, all turns joined, as it came.
	Response string `json:"response"`
	// Turns is how many chat turns the answer took: more than one when the
	// model stopped inside its scratchpad and was asked to go on.
	Turns int `json:"turns"`

	PromptTokens int `json:"prompt_tokens"`
	// CachedTokens is the part of the first turn's prompt_tokens the
	// server says came from its prompt cache, when it says (OpenAI-
	// compatible servers that report cached tokens; Ollama does not).
	CachedTokens int    `json:"cached_tokens,omitempty"`
	OutputTokens int    `json:"output_tokens"`
	NumCtx       int    `json:"num_ctx"`
	DoneReason   string `json:"done_reason"`
	// Stop says why an answer ended without a final output, when it did:
	// StopWindow, StopLength or StopTurns. Such an answer is unparsed.
	Stop string `json:"stop,omitempty"`
	// Truncated is set when a turn's prompt filled the whole context window,
	// so Ollama may have cut it. Such a sample is recorded as an error.
	Truncated bool   `json:"truncated"`
	Error     string `json:"error"`
	Attempts  int    `json:"attempts"`

	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// PromptEvalMS is the server's time spent reading the prompt; near zero
	// when the prefix came from its cache.
	PromptEvalMS int64 `json:"prompt_eval_ms"`
	// EvalMS is the server's time spent writing the answer, when it says
	// (Ollama does).
	EvalMS int64 `json:"eval_ms,omitempty"`

	// Host is the base URL of the server that gave the answer, Backend the
	// API it was asked through ("ollama" or "openai").
	Host    string `json:"host,omitempty"`
	Backend string `json:"backend,omitempty"`
}

// Key identifies a sample within a run: the same key is the same planned
// sample, whatever attempt produced it.
type Key struct {
	Model    string
	Scenario string
	Variant  string
	QueryID  string
	Tier     Tier
	Sample   int
}

// String renders the key for messages and maps.
func (k Key) String() string {
	sc := k.Scenario
	if k.Variant != "" {
		sc += "+" + k.Variant
	}
	return fmt.Sprintf("%s/%s/%s/%s#%d", k.Model, sc, k.QueryID, k.Tier, k.Sample)
}

// Key returns the sample's key.
func (s Sample) Key() Key {
	return Key{Model: s.Model, Scenario: s.Scenario, Variant: s.Variant, QueryID: s.QueryID, Tier: s.Tier, Sample: s.Sample}
}

// Final reports whether the sample holds a model answer. Only an error
// record is ever superseded, when a resumed run tries it again: a finished
// answer is never replaced (see Log).
func (s Sample) Final() bool { return s.Outcome != Error }

// Answered reports whether the sample holds a model answer, the samples n
// counts.
func (s *Sample) Answered() bool {
	return s.Outcome == Complied || s.Outcome == Refused || s.Outcome == Answered || s.Outcome == Unparsed
}
