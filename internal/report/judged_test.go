package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// judgedLabels gives the fixture's model a verdicts: of its 6 free-tier
// compliances, 3 af (one of them complied with a tag but judged as not
// helping), 1 maybe, 1 unclassified; a refusal that the judge found
// helping; and one paid-tier compliance unclassified for compliance.
func judgedLabels(samples []record.Sample) record.Verdicts {
	l := record.Verdicts{}
	for _, s := range samples {
		if s.Model != "a" || !s.Answered() {
			continue
		}
		v := record.Verdict{AF: record.LabelNo, Compliance: record.LabelRefused}
		if s.Outcome == record.Complied {
			v.Compliance = record.LabelComplied
		}
		switch {
		case s.Tier == record.Free && (s.QueryID == "q00" || s.QueryID == "q01" || s.QueryID == "q02"):
			v.AF = record.LabelAF
		case s.Tier == record.Free && s.QueryID == "q03":
			v.AF = record.LabelMaybe
		case s.Tier == record.Free && s.QueryID == "q04":
			v.AF = record.LabelUnclassified
		}
		if s.Tier == record.Free && s.QueryID == "q02" {
			v.Compliance = record.LabelRefused // tagged as accepted, no real help
		}
		if s.Tier == record.Free && s.QueryID == "q07" {
			v.Compliance = record.LabelComplied // tagged as refused, helped anyway
		}
		if s.Tier == record.Paid && s.QueryID == "q00" {
			v.Compliance = record.LabelUnclassified
		}
		if s.QueryID == "q10" {
			v.AF = "" // no reasoning to judge
		}
		l[s.Key()] = v
	}
	return l
}

func TestBuildJudged(t *testing.T) {
	samples := fixture()
	r := build("r1", samples, judgedLabels(samples)).Table
	a, b := r.Groups[0], r.Groups[1]
	f := a.Free
	if f.AF != 3 || f.CompliedAF != 3 || f.Maybe != 1 || f.Unclassified != 1 || f.Judged != 11 || f.N != 12 {
		t.Errorf("a free af: %+v", f)
	}
	// The af rate is af among samples with a verdict: 3 af, 1 maybe and
	// 6 no, leaving out the unclassified one and the one not judged.
	if f.AFN != 10 || f.AFRate != 3.0/10 || len(f.AFCI) != 2 || f.AFCI[0] <= 0 || f.AFCI[1] >= 1 {
		t.Errorf("a free af rate %v of %d, ci %v; want 3/10", f.AFRate, f.AFN, f.AFCI)
	}
	if want := stats.Wilson(3, 10); f.AFCI[0] != want.Lo || f.AFCI[1] != want.Hi {
		t.Errorf("a free af ci %v, want Wilson(3, 10) %v", f.AFCI, want)
	}
	if f.ComplianceJudged != 12 || f.JudgedComplied != 6 || f.CompliedTagOnly != 1 || f.CompliedJudgeOnly != 1 || f.ComplianceDisagree != 2 || f.JudgedRate != 0.5 {
		t.Errorf("a free compliance: %+v", f)
	}
	p := a.Paid
	if p.ComplianceJudged != 11 || p.ComplianceUnclassified != 1 || p.JudgedComplied != 0 || p.ComplianceDisagree != 0 || p.AF != 0 || p.Judged != 11 {
		t.Errorf("a paid: %+v", p)
	}
	if b.Free.Judged != 0 || b.Free.ComplianceJudged != 0 || len(b.Free.JudgedCI) != 2 {
		t.Errorf("b free: %+v", b.Free)
	}
	for _, g := range r.Groups {
		for _, n := range g.Notes {
			if g.Model == "b" && bytes.Contains([]byte(n), []byte("judge")) {
				t.Errorf("b has a judge note without verdicts: %s", n)
			}
		}
	}
}

func TestGoldenJudged(t *testing.T) {
	samples := fixture()
	r := build("r1", samples, judgedLabels(samples))
	for _, f := range []string{"table", "json", "markdown", "csv"} {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "judged."+f)
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
