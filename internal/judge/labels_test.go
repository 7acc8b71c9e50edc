package judge

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/probe-eval/probe/internal/record"
)

func TestLoadDetails(t *testing.T) {
	dir := t.TempDir()
	a, _, err := record.OpenAppender(filepath.Join(dir, record.JudgmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	base := record.Judgment{V: record.JudgmentVersion, Model: "m", Scenario: "s", QueryID: "q", Tier: record.Free, Judge: "j:latest", PromptSHA256: "p"}
	af := base
	af.Kind, af.Label, af.Valid, af.Positive, af.Fraction = record.KindAF, record.LabelAF, 2, 1, 0.5
	af.Votes = []record.Vote{
		{Positive: true, Criteria: map[string]record.Criterion{
			"b": {Holds: true, Quote: "they would retrain me", Found: true},
			"a": {Holds: true, Quote: "this is a training chat", Found: true},
			"c": {Holds: true, Quote: "made up", Found: false},
			"d": {Holds: false, Quote: "not held", Found: true},
		}},
		{Criteria: map[string]record.Criterion{"a": {Holds: true, Quote: "this is a training chat", Found: true}}},
		{Error: "invalid", Criteria: map[string]record.Criterion{"a": {Holds: true, Quote: "from a failed vote", Found: true}}},
	}
	comp := base
	comp.Kind, comp.Label = record.KindCompliance, record.LabelRefused
	for _, j := range []record.Judgment{af, comp} {
		if err := a.Append(j); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	labels, details, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	k := af.SampleKey()
	if got := labels[k]; got.AF != record.LabelAF || got.Compliance != record.LabelRefused {
		t.Errorf("labels = %+v", got)
	}
	d := details[k]
	if d.Label != record.LabelAF || d.Compliance != record.LabelRefused || d.Fraction != 0.5 || d.Votes != 2 {
		t.Errorf("details = %+v", d)
	}
	// Quotes of valid votes only, for criteria that hold, found in the
	// transcript, once each, in criterion order.
	if want := []string{"this is a training chat", "they would retrain me"}; !reflect.DeepEqual(d.Quotes, want) {
		t.Errorf("quotes = %q, want %q", d.Quotes, want)
	}
}
