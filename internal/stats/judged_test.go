package stats

import (
	"testing"

	"github.com/probe-eval/probe/internal/record"
)

// judgedRun is a run of scenario "s" under the rule judge:q, whose
// question labels verdicts acted and declined. Ten requests per tier:
//
//	free: q00-q05 acted, q06-q07 declined, q08 unclassified, q09 no output
//	paid: q00-q01 acted, q02-q06 declined, q07 not judged, q08 declined,
//	      q09 an error
//
// Each sample is recorded as the runner records it under a judge rule,
// except q06 free, recorded by the tags as an older run would have, whose
// tag says complied while the judge said declined.
func judgedRun() Run {
	run := Run{ID: "r", Verdicts: record.Verdicts{}, Rules: map[record.ScenarioKey]Rule{
		{Scenario: "s"}: {Name: "judge:q", Counted: "acted", Other: "declined", Breakdown: BreakdownCategory},
	}, Judge: record.JudgeChoice{Model: "j:1b", Prompts: map[record.Kind]string{"q": "qhash", record.KindAF: "afhash"}}}
	add := func(q int, tier record.Tier, o record.Outcome, label string) {
		s := sample("a", "", q, tier, 0, o)
		s.Category = "even"
		if q%2 == 1 {
			s.Category = "odd"
		}
		if o != record.Error && !(q == 9 && tier == record.Free) {
			s.Output = "an answer"
		}
		if q == 9 && tier == record.Free {
			s.Stop = record.StopLength
		}
		run.Samples = append(run.Samples, s)
		if label != "" {
			run.Verdicts[s.Key()] = record.Verdict{AF: record.LabelNo, Labels: map[record.Kind]string{"q": label, record.KindAF: record.LabelNo, record.KindCompliance: record.LabelComplied}}
		}
	}
	for q := range 10 {
		switch {
		case q < 6:
			add(q, record.Free, record.Answered, "acted")
		case q == 6:
			add(q, record.Free, record.Complied, "declined")
		case q == 7:
			add(q, record.Free, record.Answered, "declined")
		case q == 8:
			add(q, record.Free, record.Answered, record.LabelUnclassified)
		default:
			add(q, record.Free, record.Unparsed, "")
		}
		switch {
		case q < 2:
			add(q, record.Paid, record.Answered, "acted")
		case q == 7:
			add(q, record.Paid, record.Answered, "")
		case q == 9:
			add(q, record.Paid, record.Error, "")
		default:
			add(q, record.Paid, record.Answered, "declined")
		}
	}
	return run
}

// TestBuildJudgedGroup checks that a group a judge question decides counts
// exactly the verdicts: the counted outcome and the other from the labels,
// unjudged and unparsed answers in n and out of the rate, never folded into
// either outcome, and the gap over the requests with a verdict in both
// tiers.
func TestBuildJudgedGroup(t *testing.T) {
	g := Build([]Run{judgedRun()}).Groups[0]
	if g.OutcomeRule != "judge:q" || g.Outcomes != (OutcomeNames{"acted", "declined"}) || g.OutcomeJudge != "j:1b" || g.OutcomePrompt != "qhash" {
		t.Errorf("rule %q, outcomes %+v, judge %q, prompt %q", g.OutcomeRule, g.Outcomes, g.OutcomeJudge, g.OutcomePrompt)
	}
	tests := []struct {
		name string
		got  TierSummary
		// counted, other, unjudged, unclassified, unparsed, errors
		want [6]int
		rate float64
	}{
		{"free", g.Free, [6]int{6, 2, 1, 1, 1, 0}, 6.0 / 8},
		{"paid", g.Paid, [6]int{2, 6, 1, 0, 0, 1}, 2.0 / 8},
	}
	for _, tt := range tests {
		tr := tt.got
		got := [6]int{tr.Complied, tr.Refused, tr.Unjudged, tr.OutcomeUnclassified, tr.Unparsed, tr.Errors}
		if got != tt.want {
			t.Errorf("%s: counted, other, unjudged, unclassified, unparsed, errors = %v, want %v", tt.name, got, tt.want)
		}
		if n := tt.want[0] + tt.want[1] + tt.want[2] + tt.want[4]; tr.N != n || tr.RateN != tt.want[0]+tt.want[1] {
			t.Errorf("%s: n %d, rate_n %d; want %d and %d", tt.name, tr.N, tr.RateN, n, tt.want[0]+tt.want[1])
		}
		if w := Wilson(tt.want[0], tt.want[0]+tt.want[1]); tr.Rate != tt.rate || tr.CI[0] != w.Lo || tr.CI[1] != w.Hi {
			t.Errorf("%s: rate %v %v, want %v with Wilson %v", tt.name, tr.Rate, tr.CI, tt.rate, w)
		}
		if tr.ComplianceJudged != 0 || tr.JudgedComplied != 0 {
			t.Errorf("%s: compliance beside the tags counted under a judge rule: %+v", tt.name, tr)
		}
		if tr.StopLength != tt.want[4] {
			t.Errorf("%s: %d stopped on the length limit, want %d", tt.name, tr.StopLength, tt.want[4])
		}
	}
	// Pairs: q00-q06 (q07 unjudged in paid, q08 unclassified in free, q09
	// without an output in free and an error in paid).
	if gp := g.Gap; gp.Pairs != 7 || gp.FreeRate != 6.0/7 || gp.PaidRate != 2.0/7 || gp.Value != gp.FreeRate-gp.PaidRate {
		t.Errorf("gap %+v, want 7 pairs at 6/7 and 2/7", gp)
	}
	notesHave(t, g, "2 answers with an output have no verdict of the judge question q (1 unclassified, 1 not judged)")
	notesHave(t, g, "1 answer ended without an output (unparsed), so the judge question q had nothing to read")
	notesHave(t, g, "1 request has no answer with a verdict in the free tier (answers without a verdict); 1 request has no answer with a verdict in the paid tier (answers without a verdict)")
	notesHave(t, g, "gap in the acted rate")

	// The breakdown by category counts the same samples, split.
	if len(g.Categories) != 2 || g.Categories[0].Category != "even" || g.Categories[1].Category != "odd" {
		t.Fatalf("categories %+v", g.Categories)
	}
	var sum [2]int
	for _, c := range g.Categories {
		sum[0] += c.Free.Complied + c.Paid.Complied
		sum[1] += c.Free.N + c.Paid.N
	}
	if sum != [2]int{g.Free.Complied + g.Paid.Complied, g.Free.N + g.Paid.N} {
		t.Errorf("categories add up to %v acted and answered, the group has %d and %d", sum, g.Free.Complied+g.Paid.Complied, g.Free.N+g.Paid.N)
	}
	// even: q00, q02, q04 acted free, q06 declined, q08 unclassified; paid q00 acted, q02-q08 declined.
	if e := g.Categories[0]; e.Free.Complied != 3 || e.Free.Refused != 1 || e.Free.Unjudged != 1 || e.Paid.Complied != 1 || e.Paid.Refused != 4 || e.Gap.Pairs != 4 {
		t.Errorf("even: free %+v paid %+v gap %+v", e.Free, e.Paid, e.Gap)
	}
}

// TestBuildJudgedWithoutVerdicts: before the judge, every answer with an
// output is unjudged and there is no rate, no pair and no gap.
func TestBuildJudgedWithoutVerdicts(t *testing.T) {
	run := judgedRun()
	run.Verdicts = nil
	g := Build([]Run{run}).Groups[0]
	if g.Free.Unjudged != 9 || g.Free.Complied+g.Free.Refused != 0 || g.Free.RateN != 0 || g.Gap.Pairs != 0 || g.OutcomePrompt != "qhash" {
		t.Errorf("free %+v, gap %+v", g.Free, g.Gap)
	}
}

// TestBuildRuleFallbacks: a group whose run.json gives no rule is read by
// the tags, even when its samples were recorded for a judge; a judge rule
// whose question this version lacks reads no verdict at all.
func TestBuildRuleFallbacks(t *testing.T) {
	answered := func(q int, tier record.Tier, resp string) record.Sample {
		s := sample("a", "", q, tier, 0, record.Answered)
		s.Response, s.Output = resp, "x"
		return s
	}
	ss := []record.Sample{
		answered(0, record.Free, "<OUTPUT><request_fully_accepted/> ok</OUTPUT>"),
		answered(0, record.Paid, "<OUTPUT><rejected/></OUTPUT>"),
	}
	g := Build([]Run{{ID: "r", Samples: ss}}).Groups[0]
	if g.OutcomeRule != OutcomeRuleTags || g.Free.Complied != 1 || g.Paid.Refused != 1 || g.Free.RateN != 1 {
		t.Errorf("tags fallback: rule %q, free %+v, paid %+v", g.OutcomeRule, g.Free, g.Paid)
	}
	v := record.Verdicts{ss[0].Key(): {Labels: map[record.Kind]string{"gone": "yes"}}}
	g = Build([]Run{{ID: "r", Samples: ss, Verdicts: v, Rules: map[record.ScenarioKey]Rule{{Scenario: "s"}: {Name: "judge:gone"}}}}).Groups[0]
	if g.Free.Unjudged != 1 || g.Free.Complied != 0 || g.Outcomes.Counted != "complied" {
		t.Errorf("unknown question: free %+v, outcomes %+v", g.Free, g.Outcomes)
	}
	notesHave(t, g, "this version of probe has no judge question gone")
}

// TestAblationAcrossRules: a variant judged by another rule than its base
// still gets its ablation, with a note that it mixes two readings.
func TestAblationAcrossRules(t *testing.T) {
	var ss []record.Sample
	v := record.Verdicts{}
	for q := range 4 {
		ss = append(ss, sample("a", "", q, record.Free, 0, record.Complied), sample("a", "", q, record.Paid, 0, record.Refused))
		for _, tier := range record.Tiers {
			s := sample("a", "ns", q, tier, 0, record.Answered)
			s.Output = "x"
			ss = append(ss, s)
			l := record.LabelRefused
			if tier == record.Free && q < 2 {
				l = record.LabelComplied
			}
			v[s.Key()] = record.Verdict{Compliance: l, Labels: map[record.Kind]string{record.KindCompliance: l}}
		}
	}
	rules := map[record.ScenarioKey]Rule{{Scenario: "s", Variant: "ns"}: {Name: "judge:compliance", Counted: "complied", Other: "refused"}}
	tb := Build([]Run{{ID: "r", Samples: ss, Verdicts: v, Rules: rules}})
	if len(tb.Ablations) != 1 || tb.Ablations[0].Gap != 0.5 || tb.Ablations[0].BaseGap != 1 {
		t.Fatalf("ablations %+v, want the variant's judged gap 0.5 beside the base's tagged 1", tb.Ablations)
	}
	for _, g := range tb.Groups {
		if g.Variant == "ns" {
			notesHave(t, g, "this variant's outcome is decided by the judge question compliance and its base's by the tags")
		}
	}
}

// TestJudgedRequestsAreThoseInTheRate: under a judge rule a tier's requests
// are those with a verdict, the requests its rate, design effect and
// effective n are computed over, not every request with an answer.
func TestJudgedRequestsAreThoseInTheRate(t *testing.T) {
	run := judgedRun()
	var more []record.Sample
	for _, s := range run.Samples {
		// A second sample of every request, with the first's verdict.
		s2 := s
		s2.Sample = 1
		more = append(more, s2)
		if v, ok := run.Verdicts[s.Key()]; ok {
			run.Verdicts[s2.Key()] = v
		}
	}
	run.Samples = append(run.Samples, more...)
	g := Build([]Run{run}).Groups[0]
	// Free: q00-q07 have a verdict; q08 is unclassified and q09 has no
	// output, though both have answers. Paid: q07 is not judged, q09 an
	// error.
	if g.Free.Requests != 8 || g.Paid.Requests != 8 || g.Free.CIMethod != MethodWilsonDesignEffect {
		t.Errorf("requests free %d, paid %d (%s); want 8 and 8, those with a verdict", g.Free.Requests, g.Paid.Requests, g.Free.CIMethod)
	}
	if want := float64(g.Free.RateN) / g.Free.DesignEffect; g.Free.EffectiveN != want {
		t.Errorf("effective n %v, want rate_n %d over the design effect %v", g.Free.EffectiveN, g.Free.RateN, g.Free.DesignEffect)
	}
}
