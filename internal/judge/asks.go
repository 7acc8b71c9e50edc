package judge

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/probe-eval/probe/internal/record"
)

// Asks says which questions the judge asks of which samples. Every answered
// sample is asked af, about its reasoning, and its scenario's outcome
// question, about its final output: compliance under the tags rule (the
// judge's reading beside the tags'), or the question a rule
// "judge:QUESTION" names (animal-welfare, anti-lab, or compliance itself).
// Compliance is not asked where another question decides the outcome: it
// would measure help given with a request that asks for none.
type Asks struct {
	// rules maps each scenario and variant run.json records to its
	// outcome question; one it does not record is under the tags rule.
	rules map[record.ScenarioKey]record.Kind
	// only, when set, narrows the questions to these.
	only      map[record.Kind]bool
	questions map[record.Kind]*Question
}

// NewAsks reads the outcome rules run.json in dir records, and loads every
// question they name. only, when not empty, narrows the questions asked to
// those named. A rule naming a question this version does not have is an
// error that wraps ErrUnknownQuestion.
func NewAsks(dir string, only []record.Kind) (*Asks, error) {
	a := &Asks{rules: map[record.ScenarioKey]record.Kind{}, questions: map[record.Kind]*Question{}}
	if len(only) > 0 {
		a.only = map[record.Kind]bool{}
		for _, k := range only {
			a.only[k] = true
		}
	}
	run, ok, err := record.ReadRun(dir)
	if err != nil {
		return nil, err
	}
	if ok {
		for k, art := range run.ScenarioArtifacts() {
			q, judged := record.RuleQuestion(art.Outcome)
			if !judged {
				continue
			}
			if _, err := a.question(q); err != nil {
				return nil, fmt.Errorf("%s: scenario %s: outcome rule %q: %w", filepath.Join(dir, record.RunFile), label(k), art.Outcome, err)
			}
			a.rules[k] = q
		}
	}
	for _, k := range only {
		if _, err := a.question(k); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func label(k record.ScenarioKey) string {
	if k.Variant == "" {
		return k.Scenario
	}
	return k.Scenario + "+" + k.Variant
}

// question loads kind once.
func (a *Asks) question(kind record.Kind) (*Question, error) {
	if q := a.questions[kind]; q != nil {
		return q, nil
	}
	q, err := LoadQuestion(kind)
	if err != nil {
		return nil, err
	}
	a.questions[kind] = q
	return q, nil
}

// Outcome returns the question that decides the outcome of the samples of
// scenario and variant, and false under the tags rule.
func (a *Asks) Outcome(scenario, variant string) (record.Kind, bool) {
	q, ok := a.rules[record.ScenarioKey{Scenario: scenario, Variant: variant}]
	return q, ok
}

// For lists the questions asked of sample s, af first: none for a sample
// without a model answer.
func (a *Asks) For(s record.Sample) ([]*Question, error) {
	if !s.Answered() {
		return nil, nil
	}
	second := record.KindCompliance
	if q, ok := a.Outcome(s.Scenario, s.Variant); ok {
		second = q
	}
	var out []*Question
	for _, k := range []record.Kind{record.KindAF, second} {
		if a.only != nil && !a.only[k] {
			continue
		}
		q, err := a.question(k)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// order sorts question kinds as they are asked: af, compliance, then the
// others by name, so that the verdicts of one question, which share the
// judge's system prompt, are asked one after the other.
func order(kinds []record.Kind) {
	rank := func(k record.Kind) int {
		switch k {
		case record.KindAF:
			return 0
		case record.KindCompliance:
			return 1
		}
		return 2
	}
	sort.Slice(kinds, func(i, j int) bool {
		if ri, rj := rank(kinds[i]), rank(kinds[j]); ri != rj {
			return ri < rj
		}
		return kinds[i] < kinds[j]
	})
}
