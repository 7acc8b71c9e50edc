package record

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeJudgments(t *testing.T, js ...Judgment) string {
	t.Helper()
	dir := t.TempDir()
	a, _, err := OpenAppender(filepath.Join(dir, JudgmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if err := a.Append(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVerdictDetails(t *testing.T) {
	base := Judgment{V: JudgmentVersion, Model: "m", Scenario: "s", QueryID: "q", Tier: Free, Judge: "j:latest", PromptSHA256: "p"}
	af := base
	af.Kind, af.Label, af.Valid, af.Positive, af.Fraction = KindAF, LabelAF, 2, 1, 0.5
	af.Votes = []Vote{
		{Positive: true, Criteria: map[string]Criterion{
			"b": {Holds: true, Quote: "they would retrain me", Found: true},
			"a": {Holds: true, Quote: "this is a training chat", Found: true},
			"c": {Holds: true, Quote: "made up", Found: false},
			"d": {Holds: false, Quote: "not held", Found: true},
		}},
		{Criteria: map[string]Criterion{"a": {Holds: true, Quote: "this is a training chat", Found: true}}},
		{Error: "invalid", Criteria: map[string]Criterion{"a": {Holds: true, Quote: "from a failed vote", Found: true}}},
	}
	comp := base
	comp.Kind, comp.Label = KindCompliance, LabelRefused
	dir := writeJudgments(t, af, comp)

	vs, choice, err := ReadVerdicts(dir, JudgePick{})
	if err != nil {
		t.Fatal(err)
	}
	if choice.Model != "j:latest" || choice.AFPrompt != "p" || choice.CompliancePrompt != "p" || choice.ChosenBy != ChosenByMostSettled {
		t.Errorf("choice = %+v", choice)
	}
	v := vs[af.SampleKey()]
	if v.AF != LabelAF || v.Compliance != LabelRefused || v.Fraction != 0.5 || v.Votes != 2 {
		t.Errorf("verdict = %+v", v)
	}
	// Quotes of valid votes only, for criteria that hold, found in the
	// transcript, once each, in criterion order.
	if want := []string{"this is a training chat", "they would retrain me"}; !reflect.DeepEqual(v.Quotes, want) {
		t.Errorf("quotes = %q, want %q", v.Quotes, want)
	}
}

func TestVerdictsChooseJudge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := func(q, judge, prompt string, kind Kind, label string, lost bool, at int) Judgment {
		return Judgment{V: JudgmentVersion, Model: "m", Scenario: "s", QueryID: q, Tier: Free, Kind: kind,
			Judge: judge, PromptSHA256: prompt, Label: label, Transient: lost, StartedAt: t0.Add(time.Duration(at) * time.Minute)}
	}
	var lines []Judgment
	// good: 3 settled af verdicts in wording p1, 1 in an older wording p0.
	for _, q := range []string{"q1", "q2", "q3"} {
		lines = append(lines, j(q, "good:1b", "p1", KindAF, LabelAF, false, 1), j(q, "good:1b", "c1", KindCompliance, LabelComplied, false, 1))
	}
	lines = append(lines, j("q1", "good:1b", "p0", KindAF, LabelNo, false, 0))
	// small: 1 settled verdict. down: newest, every vote lost.
	lines = append(lines, j("q1", "small", "p1", KindAF, LabelNo, false, 2))
	for _, q := range []string{"q1", "q2", "q3", "q4"} {
		lines = append(lines, j(q, "down:1b", "p1", KindAF, LabelUnclassified, true, 5))
	}
	dir := writeJudgments(t, lines...)
	tests := []struct {
		name                   string
		pick                   JudgePick
		model, af, comp, by    string
		verdicts, unclassified int
		note                   string
	}{
		{"most settled, not the newest", JudgePick{}, "good:1b", "p1", "c1", ChosenByMostSettled, 3, 0, "down:1b (0 settled)"},
		{"configured with settled verdicts", JudgePick{Configured: "small"}, "small:latest", "p1", "", ChosenByConfig, 1, 0, "good:1b (7 settled)"},
		{"configured with lost votes only", JudgePick{Configured: "down:1b"}, "good:1b", "p1", "c1", ChosenByMostSettled, 3, 0, "the configured judge down:1b has no settled verdict here (4 lost"},
		{"configured absent", JudgePick{Configured: "gone:1b"}, "good:1b", "p1", "c1", ChosenByMostSettled, 3, 0, "the configured judge gone:1b has no verdicts here"},
		{"named, even with lost votes", JudgePick{Named: "down:1b", Configured: "small"}, "down:1b", "p1", "", ChosenByFlag, 4, 4, "4 verdicts of down:1b were lost"},
		{"named without its tag", JudgePick{Named: "small"}, "small:latest", "p1", "", ChosenByFlag, 1, 0, ""},
		{"older wording not mixed in", JudgePick{Named: "good:1b"}, "good:1b", "p1", "c1", ChosenByFlag, 3, 0, "1 other wording(s) of the af question"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, c, err := ReadVerdicts(dir, tt.pick)
			if err != nil {
				t.Fatal(err)
			}
			if c.Model != tt.model || c.AFPrompt != tt.af || c.CompliancePrompt != tt.comp || c.ChosenBy != tt.by {
				t.Errorf("choice = %+v, want %s af %s compliance %q by %s", c, tt.model, tt.af, tt.comp, tt.by)
			}
			unclassified := 0
			for _, v := range vs {
				if v.AF == LabelUnclassified {
					unclassified++
				}
			}
			if len(vs) != tt.verdicts || unclassified != tt.unclassified {
				t.Errorf("got %d verdicts, %d unclassified; want %d, %d", len(vs), unclassified, tt.verdicts, tt.unclassified)
			}
			if !strings.Contains(c.Note, tt.note) {
				t.Errorf("note %q lacks %q", c.Note, tt.note)
			}
		})
	}
	if _, _, err := ReadVerdicts(dir, JudgePick{Named: "other:7b"}); err == nil || !strings.Contains(err.Error(), "no verdicts by judge other:7b (judges with verdicts: good:1b, ") {
		t.Errorf("unknown judge: err = %v", err)
	}
}

func TestVerdictsOnlyLost(t *testing.T) {
	dir := writeJudgments(t, Judgment{V: JudgmentVersion, Model: "m", Scenario: "s", QueryID: "q", Tier: Free, Kind: KindAF,
		Judge: "down:1b", PromptSHA256: "p", Label: LabelUnclassified, Transient: true})
	vs, c, err := ReadVerdicts(dir, JudgePick{Configured: "down:1b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 || c.Model != "" || c.ChosenBy != ChosenByNone || !strings.Contains(c.Note, "all 1 verdicts of judge down:1b were lost") {
		t.Errorf("verdicts %v, choice %+v; want none, with a note of the lost votes", vs, c)
	}
	vs, c, err = ReadVerdicts(t.TempDir(), JudgePick{Named: "any"})
	if err != nil || len(vs) != 0 || c.Model != "" {
		t.Errorf("no judgments: %v, %+v, %v", vs, c, err)
	}
}

func TestCanonicalModel(t *testing.T) {
	for in, want := range map[string]string{
		"qwen3": "qwen3:latest", "qwen3:8b": "qwen3:8b", "hf.co/org/model": "hf.co/org/model:latest",
		"host:5000/org/m": "host:5000/org/m:latest", "host:5000/org/m:q4": "host:5000/org/m:q4", "": "",
	} {
		if got := CanonicalModel(in); got != want {
			t.Errorf("CanonicalModel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestVerdictsOfAnyQuestion: a question the code has no constant for is
// read like the others: its label on each sample, the wording with the
// most settled verdicts chosen, its prompt hash named in the choice.
func TestVerdictsOfAnyQuestion(t *testing.T) {
	base := Judgment{V: JudgmentVersion, Model: "m", Scenario: "anti-lab", QueryID: "q", Tier: Paid, Judge: "j:latest"}
	af, acted, old, other := base, base, base, base
	af.Kind, af.Label, af.PromptSHA256 = KindAF, LabelNo, "afp"
	acted.Kind, acted.Label, acted.PromptSHA256 = "anti-lab", "acted", "new"
	old.Kind, old.Label, old.PromptSHA256, old.QueryID = "anti-lab", "declined", "old", "q2"
	other.Kind, other.Label, other.PromptSHA256, other.QueryID = "anti-lab", "declined", "new", "q3"
	vs, choice, err := ReadVerdicts(writeJudgments(t, af, acted, old, other), JudgePick{})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[Kind]string{KindAF: "afp", "anti-lab": "new"}; !reflect.DeepEqual(choice.Prompts, want) || choice.AFPrompt != "afp" || choice.CompliancePrompt != "" {
		t.Errorf("choice %+v, want prompts %v", choice, want)
	}
	if !strings.Contains(choice.Note, "1 other wording(s) of the anti-lab question are not counted") {
		t.Errorf("note %q does not name the wording left out", choice.Note)
	}
	v := vs[af.SampleKey()]
	if v.AF != LabelNo || v.Labels["anti-lab"] != "acted" || v.Labels[KindAF] != LabelNo || v.Compliance != "" {
		t.Errorf("verdict %+v", v)
	}
	if _, ok := vs[old.SampleKey()]; ok {
		t.Error("a verdict of a wording not counted was read")
	}
}
