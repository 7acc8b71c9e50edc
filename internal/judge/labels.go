package judge

import (
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
	js, err := record.ReadJudgments(dir)
	if err != nil {
		return nil, err
	}
	labels := report.Labels{}
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
			v := labels[k]
			if kind == record.KindAF {
				v.AF = j.Label
			} else {
				v.Compliance = j.Label
			}
			labels[k] = v
		}
	}
	return labels, nil
}

func pickJudge(js *record.Judgments, kind record.Kind, judgeModel string) (record.JudgeID, bool) {
	for _, id := range js.Judges(kind) {
		if judgeModel == "" || llm.SameModel(id.Judge, judgeModel) {
			return id, true
		}
	}
	return record.JudgeID{}, false
}
