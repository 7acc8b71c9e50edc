package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJudgmentsSupersedeAndPick(t *testing.T) {
	dir := t.TempDir()
	app, _, err := OpenAppender(filepath.Join(dir, JudgmentsFile))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := func(q, judge string, kind Kind, label string, transient bool, at int) Judgment {
		return Judgment{V: JudgmentVersion, Run: "r", Model: "m", Scenario: "s", QueryID: q, Tier: Free, Kind: kind,
			Judge: judge, PromptSHA256: "h", Label: label, Transient: transient, StartedAt: t0.Add(time.Duration(at) * time.Minute)}
	}
	for _, r := range []Judgment{
		j("q1", "a", KindAF, LabelUnclassified, true, 0),
		j("q2", "a", KindAF, LabelNo, false, 1),
		j("q1", "b", KindAF, LabelAF, false, 2),
		j("q1", "a", KindAF, LabelAF, false, 3), // supersedes the lost line
		j("q1", "a", KindCompliance, LabelUnclassified, false, 4),
	} {
		if err := app.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	app.Close()
	js, err := ReadJudgments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if js.Lines != 5 || js.Len() != 4 {
		t.Errorf("%d lines, %d keys; want 5 and 4", js.Lines, js.Len())
	}
	k := JudgmentKey{Sample: Key{Model: "m", Scenario: "s", QueryID: "q1", Tier: Free}, Kind: KindAF, Judge: "a", PromptSHA256: "h"}
	if got, _ := js.Get(k); got.Label != LabelAF || !js.Settled(k) {
		t.Errorf("q1 by a = %+v", got)
	}
	// Unclassified because no vote fitted: settled. Lost to the server: not.
	k.Kind = KindCompliance
	if !js.Settled(k) {
		t.Error("an unclassified verdict whose votes were all answered is not settled")
	}
	if (&Judgment{Label: LabelUnclassified, Transient: true}).Settled() {
		t.Error("a lost verdict is settled")
	}
	if ids := js.Judges(KindAF); len(ids) != 2 || ids[0].Judge != "a" || ids[1].Judge != "b" {
		t.Errorf("judges newest first = %v, want a (minute 3) then b (minute 2)", ids)
	}
}

// TestSettledVerdictIsNeverReplaced: a labelled verdict stays, whatever
// follows it; an unclassified one, lost or not, may be asked again.
func TestSettledVerdictIsNeverReplaced(t *testing.T) {
	j := func(q, label string, transient bool) Judgment {
		return Judgment{Model: "m", Scenario: "s", QueryID: q, Tier: Free, Kind: KindAF, Judge: "a", PromptSHA256: "h", Label: label, Transient: transient}
	}
	var js Judgments
	for _, r := range []Judgment{
		j("q1", LabelNo, false),
		j("q1", LabelAF, false),           // ignored: q1 was settled
		j("q1", LabelUnclassified, true),  // ignored
		j("q2", LabelUnclassified, false), // no vote fitted the schema
		j("q2", LabelMaybe, false),        // --retry-unclassified asked it again
		j("q3", LabelUnclassified, true),  // lost to the server
		j("q3", LabelAF, false),
	} {
		js.Add(r)
	}
	want := map[string]string{"q1": LabelNo, "q2": LabelMaybe, "q3": LabelAF}
	for q, label := range want {
		got, _ := js.Get(JudgmentKey{Sample: Key{Model: "m", Scenario: "s", QueryID: q, Tier: Free}, Kind: KindAF, Judge: "a", PromptSHA256: "h"})
		if got.Label != label {
			t.Errorf("%s: label %s, want %s", q, got.Label, label)
		}
	}
	if js.Ignored != 2 || js.Len() != 3 || js.Lines != 7 {
		t.Errorf("%d ignored, %d keys, %d lines; want 2, 3, 7", js.Ignored, js.Len(), js.Lines)
	}
}

func TestJudgmentsNewerVersion(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, JudgmentsFile), []byte(`{"v":99,"kind":"af"}`+"\n"), 0o644)
	if _, err := ReadJudgments(dir); err == nil || !strings.Contains(err.Error(), "judgments.jsonl:1: judgment format v99") {
		t.Errorf("err = %v", err)
	}
}
