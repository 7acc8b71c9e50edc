package judge

import (
	"sort"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/report"
)

// LoadLabels reads dir's judgments.jsonl into the labels the report counts.
// For each question it takes the verdicts of one judge and one wording of
// the question, so that verdicts of different judges are never mixed: the
// judge model named judgeModel when it is set, and of its wordings (or of
// all, when judgeModel is empty) the one used most recently. A run without
// judgments reads as no labels.
func LoadLabels(dir, judgeModel string) (report.Labels, error) {
	labels, _, err := Load(dir, judgeModel)
	return labels, err
}

// Load is LoadLabels with each sample's judgment in detail as well, for the
// transcript browser: the vote fraction, the valid votes, and the passages
// the judge quoted as evidence for a criterion it found to hold (only those
// that occur in the transcript).
func Load(dir, judgeModel string) (report.Labels, report.Judgments, error) {
	js, err := record.ReadJudgments(dir)
	if err != nil {
		return nil, nil, err
	}
	labels := report.Labels{}
	details := report.Judgments{}
	for _, kind := range record.Kinds {
		id, ok := pickJudge(js, kind, judgeModel)
		if !ok {
			continue
		}
		for _, j := range js.All() {
			if j.Kind != kind || j.Judge != id.Judge || j.PromptSHA256 != id.PromptSHA256 {
				continue
			}
			k := j.SampleKey()
			v, d := labels[k], details[k]
			if kind == record.KindAF {
				v.AF, d.Label = j.Label, j.Label
				d.Fraction, d.Votes, d.Quotes = j.Fraction, j.Valid, quotes(j)
			} else {
				v.Compliance, d.Compliance = j.Label, j.Label
			}
			labels[k], details[k] = v, d
		}
	}
	return labels, details, nil
}

// quotes lists, once each and in order, the passages a judgment's valid
// votes quoted for criteria that hold and that occur in the transcript.
func quotes(j record.Judgment) []string {
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

func pickJudge(js *record.Judgments, kind record.Kind, judgeModel string) (record.JudgeID, bool) {
	for _, id := range js.Judges(kind) {
		if judgeModel == "" || llm.SameModel(id.Judge, judgeModel) {
			return id, true
		}
	}
	return record.JudgeID{}, false
}
