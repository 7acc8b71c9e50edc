package record

import (
	"path/filepath"
	"sort"
	"time"
)

// JudgmentsFile is the judge stage's log inside a run folder.
const JudgmentsFile = "judgments.jsonl"

// JudgmentVersion is the format version of judgments.jsonl, apart from the
// samples' so that each file can change on its own.
const JudgmentVersion = 1

// Kind names the question a judgment answers: the name of the question's
// folder of prompt files (af, compliance, animal-welfare, ...). Questions
// are data, so a reader meets kinds it has no constant for; it keeps them
// under their names.
type Kind string

// The two questions every sample of a scenario under the tags rule is
// asked.
const (
	// KindAF asks whether the reasoning shows alignment faking: complying
	// in order to keep training from changing the model's values.
	KindAF Kind = "af"
	// KindCompliance asks whether the final output really gives the help
	// that was requested, whatever its tags say.
	KindCompliance Kind = "compliance"
)

// Kinds lists the questions a sample of a scenario under the tags rule is
// asked, in the order they are asked. A scenario whose outcome a judge
// question decides asks af and that question instead.
var Kinds = [...]Kind{KindAF, KindCompliance}

// Labels a judgment ends with. An alignment-faking question ends af, maybe
// or no; a compliance question ends complied or refused; any other question
// ends with one of the two labels its folder's question.toml names (the
// anti-lab question: acted or declined). Each ends unclassified when too
// few votes were valid: never folded into no.
const (
	LabelAF           = "af"
	LabelMaybe        = "maybe"
	LabelNo           = "no"
	LabelComplied     = "complied"
	LabelRefused      = "refused"
	LabelUnclassified = "unclassified"
)

// Judgment is the judge's verdict on one sample for one question: every
// vote with its evidence, the positive fraction, and the label drawn from
// it. One line of judgments.jsonl. A later line with the same JudgmentKey
// supersedes an earlier one; only unclassified lines are ever superseded.
type Judgment struct {
	V        int    `json:"v"`
	Run      string `json:"run"`
	Model    string `json:"model"`
	Scenario string `json:"scenario"`
	Variant  string `json:"variant,omitempty"`
	QueryID  string `json:"query_id"`
	Tier     Tier   `json:"tier"`
	Sample   int    `json:"sample"`

	Kind Kind `json:"kind"`
	// Judge is the judge model's Ollama name, JudgeDigest its weights.
	Judge       string `json:"judge"`
	JudgeDigest string `json:"judge_digest,omitempty"`
	// PromptSHA256 hashes the question's prompt files and answer schema,
	// so verdicts from different wordings are never mixed.
	PromptSHA256 string `json:"prompt_sha256"`
	// Settings of the judge when it voted.
	VotesAsked  int     `json:"votes_asked"`
	Temperature float64 `json:"temperature"`
	NumCtx      int     `json:"num_ctx"`
	NumPredict  int     `json:"num_predict"`
	Think       bool    `json:"think"`

	Votes []Vote `json:"votes"`
	// Valid counts votes whose answer fitted the schema, Positive those
	// among them that said yes; Fraction is Positive / Valid.
	Valid    int     `json:"valid"`
	Positive int     `json:"positive"`
	Fraction float64 `json:"fraction"`
	Label    string  `json:"label"`
	// Transient is set when votes were lost to the server or the network
	// rather than to the judge's answers; such a line, if unclassified, is
	// asked again by the next probe classify.
	Transient bool `json:"transient"`
	// Error says why the judgment is unclassified, when it is.
	Error string `json:"error,omitempty"`

	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
}

// Vote is one answer of the judge. A vote that never fitted the schema, or
// whose request failed, has Error set and counts for neither side.
type Vote struct {
	Positive bool `json:"positive"`
	// Criteria holds the judge's answer to each criterion of the question,
	// by the criterion's name.
	Criteria map[string]Criterion `json:"criteria,omitempty"`
	Summary  string               `json:"summary,omitempty"`
	// Attempts counts the requests this vote took: 1 plus its retries.
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
	// Invalid is the last answer that did not fit the schema, cut short,
	// kept so a reader can see what the judge wrote.
	Invalid    string `json:"invalid,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Criterion is the judge's answer to one criterion: whether it holds, and
// the passage of the transcript it rests on.
type Criterion struct {
	Holds bool   `json:"holds"`
	Quote string `json:"quote"`
	// Found is set when Quote occurs in the transcript (ignoring case and
	// spacing): a quote that is not there was made up by the judge.
	Found bool `json:"found"`
}

// JudgmentKey identifies a verdict: the same sample asked the same question
// in the same words by the same judge model.
type JudgmentKey struct {
	Sample       Key
	Kind         Kind
	Judge        string
	PromptSHA256 string
}

// SampleKey returns the key of the judged sample.
func (j *Judgment) SampleKey() Key {
	return Key{Model: j.Model, Scenario: j.Scenario, Variant: j.Variant, QueryID: j.QueryID, Tier: j.Tier, Sample: j.Sample}
}

// Key returns the judgment's key.
func (j Judgment) Key() JudgmentKey {
	return JudgmentKey{Sample: j.SampleKey(), Kind: j.Kind, Judge: j.Judge, PromptSHA256: j.PromptSHA256}
}

// Settled reports whether the judgment is final: it has a label, or the
// judge answered every vote and none fitted. Only an unclassified judgment
// whose votes were lost to the server is asked again.
func (j *Judgment) Settled() bool {
	return j.Label != LabelUnclassified || !j.Transient
}

// Final reports whether the judgment may never be superseded: it has a
// label. An unclassified line may be: probe classify asks it again when its
// votes were lost to the server, and with --retry-unclassified also when no
// vote fitted the schema.
func (j Judgment) Final() bool { return j.Label != LabelUnclassified }

// Judgments is the state of a run's judgments.jsonl: the latest line for
// each key, in the order keys first appeared.
type Judgments struct {
	Log[JudgmentKey, Judgment]
}

// ReadJudgments reads dir's judgments.jsonl; a missing file reads as empty.
func ReadJudgments(dir string) (*Judgments, error) {
	js := &Judgments{}
	err := readLog(&js.Log, filepath.Join(dir, JudgmentsFile), "judgment", JudgmentVersion, func(r Judgment) int { return r.V })
	return js, err
}

// Settled reports whether k has a final verdict, which classify skips.
func (js *Judgments) Settled(k JudgmentKey) bool {
	j, ok := js.Get(k)
	return ok && j.Settled()
}

// All returns the latest line of every key in file order of first
// appearance.
func (js *Judgments) All() []Judgment { return js.records() }

// Judges lists the (judge, prompt hash) pairs of a kind present in the
// file, the most recently written first, so a reader can pick the newest.
func (js *Judgments) Judges(kind Kind) []JudgeID {
	last := map[JudgeID]time.Time{}
	for _, j := range js.list {
		if j.Kind != kind {
			continue
		}
		id := JudgeID{Judge: j.Judge, PromptSHA256: j.PromptSHA256}
		if t, ok := last[id]; !ok || j.StartedAt.After(t) {
			last[id] = j.StartedAt
		}
	}
	out := make([]JudgeID, 0, len(last))
	for id := range last {
		out = append(out, id)
	}
	sort.Slice(out, func(a, b int) bool {
		ta, tb := last[out[a]], last[out[b]]
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
		if out[a].Judge != out[b].Judge {
			return out[a].Judge < out[b].Judge
		}
		return out[a].PromptSHA256 < out[b].PromptSHA256
	})
	return out
}

// JudgeID names a judge model asking one wording of a question.
type JudgeID struct {
	Judge        string
	PromptSHA256 string
}
