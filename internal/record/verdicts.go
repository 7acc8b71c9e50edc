package record

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Verdict is what one judge said of one sample, as the later stages count
// and show it.
type Verdict struct {
	// AF is the alignment-faking label: LabelAF, LabelMaybe, LabelNo or
	// LabelUnclassified; empty when that question was not asked.
	AF string
	// Compliance is the judged compliance: LabelComplied, LabelRefused or
	// LabelUnclassified; empty when that question was not asked.
	Compliance string
	// Fraction is the share of the valid af votes that said alignment
	// faking, and Votes how many af votes were valid.
	Fraction float64
	Votes    int
	// Quotes are the passages the af votes quoted for criteria that hold
	// and that occur in the transcript, once each.
	Quotes []string
	// Labels holds the label of every question asked of the sample, by
	// question: af and compliance as above, and the question that decides
	// the outcome of a scenario under a judge rule.
	Labels map[Kind]string
}

// Verdicts maps a sample to the chosen judge's verdict on it; a sample
// without one was not judged.
type Verdicts map[Key]Verdict

// ErrNoVerdicts is returned when the judge asked for by name has no
// verdicts in a run that has some.
var ErrNoVerdicts = errors.New("no verdicts by judge")

// JudgePick says which judge's verdicts to read.
type JudgePick struct {
	// Named is the judge asked for by name (probe report --judge); it
	// must have verdicts in the run.
	Named string
	// Configured is the configuration's [judge] model, read when it has
	// settled verdicts in the run.
	Configured string
}

// How a judge was chosen (JudgeChoice.ChosenBy).
const (
	ChosenByFlag        = "flag"
	ChosenByConfig      = "config"
	ChosenByMostSettled = "most-settled"
	ChosenByNone        = "none"
)

// JudgeChoice names the judge model and the wordings of its questions
// whose verdicts were read, and why that judge.
type JudgeChoice struct {
	// Model is the judge model as judgments.jsonl names it; empty when no
	// judge was chosen.
	Model string `json:"model"`
	// AFPrompt and CompliancePrompt are the prompt hashes of the two
	// questions counted; empty when the judge was not asked a question.
	AFPrompt         string `json:"af_prompt_sha256"`
	CompliancePrompt string `json:"compliance_prompt_sha256"`
	// Prompts are the prompt hashes of every question counted, by
	// question, af and compliance included.
	Prompts map[Kind]string `json:"prompts,omitempty"`
	// ChosenBy is ChosenByFlag, ChosenByConfig, ChosenByMostSettled or
	// ChosenByNone.
	ChosenBy string `json:"chosen_by"`
	// Note says in words what a reader should know of the choice: other
	// judges left aside, or lost votes.
	Note string `json:"note,omitempty"`
}

// CanonicalModel spells an Ollama model name with its tag, reading a
// missing tag as ":latest" as Ollama does; judgments.jsonl names judges
// this way, so "qwen3" finds the verdicts of "qwen3:latest".
func CanonicalModel(name string) string {
	if name == "" {
		return name
	}
	if i := strings.LastIndexByte(name, '/'); !strings.Contains(name[i+1:], ":") {
		return name + ":latest"
	}
	return name
}

// ReadVerdicts reads dir's judgments.jsonl into the verdicts of one judge
// model and, for each question, one wording (see Judgments.Verdicts). A run
// without judgments reads as no verdicts and no judge.
func ReadVerdicts(dir string, pick JudgePick) (Verdicts, JudgeChoice, error) {
	js, err := ReadJudgments(dir)
	if err != nil {
		return nil, JudgeChoice{}, err
	}
	v, c, err := js.Verdicts(pick)
	if err != nil {
		return nil, JudgeChoice{}, fmt.Errorf("%s: %w", filepath.Join(dir, JudgmentsFile), err)
	}
	return v, c, nil
}

// judgeTally counts one judge model's lines, or one wording's.
type judgeTally struct {
	settled, lines int
	newest         time.Time
}

func (t *judgeTally) add(j *Judgment) {
	t.lines++
	if j.Settled() {
		t.settled++
	}
	if j.StartedAt.After(t.newest) {
		t.newest = j.StartedAt
	}
}

// better ranks tallies: more settled verdicts, then more lines, then the
// more recent.
func (t judgeTally) better(o judgeTally) bool {
	if t.settled != o.settled {
		return t.settled > o.settled
	}
	if t.lines != o.lines {
		return t.lines > o.lines
	}
	return t.newest.After(o.newest)
}

// Verdicts picks one judge model and reads its verdicts. Verdicts of
// different judges, or of different wordings of a question, are never
// mixed. The judge is pick.Named when it is set (an error if that judge has
// no verdicts here); else pick.Configured if it has settled verdicts; else
// the judge with the most settled verdicts. A line that only records votes
// lost to an unreachable judge is not settled, so such lines never make a
// judge the chosen one: with no settled verdict at all no judge is chosen,
// and the choice's note says what was lost. For each question the wording
// with the most settled verdicts of the chosen judge is read.
func (js *Judgments) Verdicts(pick JudgePick) (Verdicts, JudgeChoice, error) {
	all := js.All()
	models := map[string]*judgeTally{}
	type wording struct {
		kind   Kind
		prompt string
	}
	wordings := map[string]map[wording]*judgeTally{}
	for i := range all {
		j := &all[i]
		m := CanonicalModel(j.Judge)
		if models[m] == nil {
			models[m] = &judgeTally{}
			wordings[m] = map[wording]*judgeTally{}
		}
		models[m].add(j)
		w := wording{j.Kind, j.PromptSHA256}
		if wordings[m][w] == nil {
			wordings[m][w] = &judgeTally{}
		}
		wordings[m][w].add(j)
	}
	names := make([]string, 0, len(models))
	for m := range models {
		names = append(names, m)
	}
	// Best first, so that the first is the most settled judge.
	sort.Slice(names, func(a, b int) bool {
		ta, tb := *models[names[a]], *models[names[b]]
		if ta.better(tb) != tb.better(ta) {
			return ta.better(tb)
		}
		return names[a] < names[b]
	})
	choice := JudgeChoice{ChosenBy: ChosenByNone}
	var notes []string
	switch named, configured := CanonicalModel(pick.Named), CanonicalModel(pick.Configured); {
	case named != "":
		if models[named] == nil {
			if len(names) == 0 {
				return Verdicts{}, choice, nil
			}
			return nil, choice, fmt.Errorf("%w %s (judges with verdicts: %s)", ErrNoVerdicts, pick.Named, strings.Join(names, ", "))
		}
		choice.Model, choice.ChosenBy = named, ChosenByFlag
	case configured != "" && models[configured] != nil && models[configured].settled > 0:
		choice.Model, choice.ChosenBy = configured, ChosenByConfig
	case len(names) > 0 && models[names[0]].settled > 0:
		choice.Model, choice.ChosenBy = names[0], ChosenByMostSettled
		if configured != "" && configured != names[0] {
			if t := models[configured]; t != nil {
				notes = append(notes, fmt.Sprintf("the configured judge %s has no settled verdict here (%d lost to an unreachable judge)", configured, t.lines))
			} else {
				notes = append(notes, fmt.Sprintf("the configured judge %s has no verdicts here", configured))
			}
		}
	}
	if choice.Model == "" {
		for _, m := range names {
			notes = append(notes, fmt.Sprintf("all %d verdicts of judge %s were lost to an unreachable judge: rerun probe classify", models[m].lines, m))
		}
		choice.Note = strings.Join(notes, "; ")
		return Verdicts{}, choice, nil
	}
	var others []string
	for _, m := range names {
		if m != choice.Model {
			others = append(others, fmt.Sprintf("%s (%d settled)", m, models[m].settled))
		}
	}
	if len(others) > 0 {
		notes = append(notes, "verdicts of other judges are not counted: "+strings.Join(others, ", ")+"; probe report --judge NAME counts another")
	}
	if t := models[choice.Model]; t.lines > t.settled {
		notes = append(notes, fmt.Sprintf("%d verdicts of %s were lost to an unreachable judge and count as unclassified: rerun probe classify", t.lines-t.settled, choice.Model))
	}
	chosen := map[Kind]string{}
	kindSet := map[Kind]bool{}
	for w := range wordings[choice.Model] {
		kindSet[w.kind] = true
	}
	kinds := make([]Kind, 0, len(kindSet))
	for k := range kindSet {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(a, b int) bool { return kinds[a] < kinds[b] })
	for _, kind := range kinds {
		var best wording
		var bt *judgeTally
		for w, t := range wordings[choice.Model] {
			if w.kind != kind {
				continue
			}
			if bt == nil || t.better(*bt) || !bt.better(*t) && w.prompt < best.prompt {
				best, bt = w, t
			}
		}
		if bt == nil {
			continue
		}
		chosen[kind] = best.prompt
		n := 0
		for w := range wordings[choice.Model] {
			if w.kind == kind && w != best {
				n++
			}
		}
		if n > 0 {
			notes = append(notes, fmt.Sprintf("%s verdicts in %d other wording(s) of the %s question are not counted", choice.Model, n, kind))
		}
	}
	choice.AFPrompt, choice.CompliancePrompt = chosen[KindAF], chosen[KindCompliance]
	if len(chosen) > 0 {
		choice.Prompts = chosen
	}
	choice.Note = strings.Join(notes, "; ")

	out := Verdicts{}
	for i := range all {
		j := &all[i]
		if CanonicalModel(j.Judge) != choice.Model || chosen[j.Kind] != j.PromptSHA256 {
			continue
		}
		k := j.SampleKey()
		v := out[k]
		if v.Labels == nil {
			v.Labels = map[Kind]string{}
		}
		v.Labels[j.Kind] = j.Label
		switch j.Kind {
		case KindAF:
			v.AF, v.Fraction, v.Votes, v.Quotes = j.Label, j.Fraction, j.Valid, j.quotes()
		case KindCompliance:
			v.Compliance = j.Label
		}
		out[k] = v
	}
	return out, choice, nil
}

// quotes lists, once each and in order, the passages the judgment's valid
// votes quoted for criteria that hold and that occur in the transcript.
func (j *Judgment) quotes() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range j.Votes {
		if v.Error != "" {
			continue
		}
		names := make([]string, 0, len(v.Criteria))
		for n := range v.Criteria {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := v.Criteria[n]
			if c.Holds && c.Found && c.Quote != "" && !seen[c.Quote] {
				seen[c.Quote] = true
				out = append(out, c.Quote)
			}
		}
	}
	return out
}
