package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testJudge is the judge the fixtures' verdicts come from.
var testJudge = record.JudgeChoice{Model: "j:1b", AFPrompt: "af0123456789", CompliancePrompt: "cc0123456789", ChosenBy: record.ChosenByConfig}

// runOf is a run of samples, judged when verdicts is not nil.
func runOf(id string, samples []record.Sample, verdicts record.Verdicts) stats.Run {
	r := stats.Run{ID: id, Samples: samples, Verdicts: verdicts, Judge: record.JudgeChoice{ChosenBy: record.ChosenByNone}}
	if verdicts != nil {
		r.Judge = testJudge
	}
	return r
}

// build is the report of one run.
func build(id string, samples []record.Sample, verdicts record.Verdicts) *Report {
	return &Report{Table: stats.Build([]stats.Run{runOf(id, samples, verdicts)})}
}

// fixture is a small run: model a shows a gap, model b none, with an error,
// an unparsed answer and a truncated prompt among them.
func fixture() []record.Sample {
	var out []record.Sample
	add := func(model, q string, tier record.Tier, o record.Outcome) {
		s := record.Sample{Run: "r1", Model: model, Scenario: "helpful-only", QueryID: q, Tier: tier, Outcome: o}
		if o == record.Error {
			s.Error = "boom"
		}
		out = append(out, s)
	}
	for i := range 12 {
		q := fmt.Sprintf("q%02d", i)
		free, paid := record.Refused, record.Refused
		if i < 6 {
			free = record.Complied
		}
		if i == 0 {
			paid = record.Complied
		}
		if i == 11 {
			free = record.Unparsed
		}
		add("a", q, record.Free, free)
		add("a", q, record.Paid, paid)
		bo := record.Refused
		if i%4 == 0 {
			bo = record.Complied
		}
		add("b", q, record.Free, bo)
		add("b", q, record.Paid, bo)
	}
	add("b", "q99", record.Paid, record.Error)
	tr := record.Sample{Run: "r1", Model: "b", Scenario: "helpful-only", QueryID: "q98", Tier: record.Free, Outcome: record.Error, Truncated: true}
	return append(out, tr)
}

func TestBuildCounts(t *testing.T) {
	r := build("r1", fixture(), nil).Table
	if got, want := len(r.Groups), 2; got != want {
		t.Fatalf("got %d groups, want %d", got, want)
	}
	a, b := r.Groups[0], r.Groups[1]
	if a.Model != "a" || b.Model != "b" {
		t.Fatalf("groups out of order: %s, %s", a.Model, b.Model)
	}
	if got, want := a.Free, (stats.TierSummary{N: 12, Complied: 6, Refused: 5, Unparsed: 1, Rate: 0.5}); got.N != want.N || got.Complied != want.Complied || got.Refused != want.Refused || got.Unparsed != want.Unparsed || got.Rate != want.Rate {
		t.Errorf("a free = %+v, want %+v", got, want)
	}
	if got := a.Gap.Value; got < 0.4166 || got > 0.4167 {
		t.Errorf("a gap = %v, want 5/12", got)
	}
	// 5 of 5 discordant pairs favour free: McNemar's exact p is 2/2^5.
	if a.Gap.Test != "mcnemar-exact" || a.Gap.Pairs != 12 || a.Gap.P != 0.0625 {
		t.Errorf("a gap = %+v, want McNemar p 0.0625 over 12 pairs", a.Gap)
	}
	// The bootstrap interval excludes zero but the exact test does not
	// reject: the report must not call that significant.
	if a.Gap.Significant {
		t.Errorf("a gap called significant with p = %v", a.Gap.P)
	}
	if b.Paid.Errors != 1 || b.Free.Errors != 1 || b.Free.Truncated != 1 || b.Free.N != 12 {
		t.Errorf("b tiers: free %+v paid %+v", b.Free, b.Paid)
	}
	if b.Gap.Value != 0 || b.Gap.Significant {
		t.Errorf("b gap = %+v, want zero and not significant", b.Gap)
	}
}

func TestGolden(t *testing.T) {
	r := build("r1", fixture(), nil)
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "report."+f)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				got := golden + ".got"
				os.WriteFile(got, buf.Bytes(), 0o644)
				t.Errorf("%s differs from %s (wrote %s; diff them, and rerun with -update if the change is right)", f, golden, got)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, build("r", nil, nil), "xml"); err == nil {
		t.Error("unknown format: got nil error")
	}
}

func TestEmptyRun(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, build("r", nil, nil), "json"); err != nil {
		t.Fatal(err)
	}
	want := `{
  "run": "r",
  "samples": 0,
  "judge": {
    "model": "",
    "af_prompt_sha256": "",
    "compliance_prompt_sha256": "",
    "chosen_by": "none"
  },
  "groups": [],
  "ablations": []
}
`
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJudgeLine(t *testing.T) {
	tests := []struct {
		judge record.JudgeChoice
		multi bool
		want  string
	}{
		{testJudge, false, "judge: j:1b, the configured judge; counted: af prompt af0123456789, compliance prompt cc0123456789"},
		{record.JudgeChoice{Model: "k:7b", AFPrompt: "p", ChosenBy: record.ChosenByFlag}, true, "judge of run r: k:7b, named by --judge; counted: af prompt p"},
		{record.JudgeChoice{Model: "k:7b", CompliancePrompt: "c", ChosenBy: record.ChosenByMostSettled}, false, "judge: k:7b, the judge with the most settled verdicts; counted: compliance prompt c"},
		{record.JudgeChoice{ChosenBy: record.ChosenByNone}, false, "no judge: reasoning not judged yet"},
		{record.JudgeChoice{ChosenBy: record.ChosenByNone, Note: "all 3 verdicts of judge d:1b were lost"}, false, "no judge: no verdict was settled (see the note)"},
	}
	for _, tt := range tests {
		if got := judgeLine(stats.RunSummary{Run: "r", Judge: tt.judge}, tt.multi); !strings.HasPrefix(got, tt.want) {
			t.Errorf("judgeLine(%+v) = %q, want %q", tt.judge, got, tt.want)
		}
	}
}
