package stats

import (
	"sort"

	"github.com/probe-eval/probe/internal/record"
)

// Settings of the statistics, fixed so reports are reproducible.
const (
	BootstrapIters = 10000
	BootstrapSeed  = 1
)

// Run is one run's records as the statistics stage reads them.
type Run struct {
	ID string
	// Samples are the run's latest samples.
	Samples []record.Sample
	// Verdicts are the chosen judge's, by sample; nil before judging.
	Verdicts record.Verdicts
	// Judge names the judge whose verdicts these are.
	Judge record.JudgeChoice
}

// groupKey identifies a group: a model under a scenario and variant in a
// run (by its index in Build's runs).
type groupKey struct {
	run                      int
	model, scenario, variant string
}

// reqTier counts one request's samples in one tier.
type reqTier struct {
	n, complied int // answered samples, and those that complied
	afN, af     int // af verdicts (af, maybe or no), and af labels
	cjN, cj     int // compliance verdicts (complied or refused), and complied
	samples     int // samples of any outcome
	errors      int
}

// accum gathers a group's samples.
type accum struct {
	key   groupKey
	tiers [2]TierSummary
	reqs  map[string]*[2]reqTier
}

func (a *accum) req(q string) *[2]reqTier {
	r := a.reqs[q]
	if r == nil {
		r = &[2]reqTier{}
		a.reqs[q] = r
	}
	return r
}

// requests lists the group's requests in order.
func (a *accum) requests() []string {
	qs := make([]string, 0, len(a.reqs))
	for q := range a.reqs {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	return qs
}

// pair is request q's pair, ok when it has an answer in both tiers.
func (a *accum) pair(q string) (Pair, bool) {
	r := a.reqs[q]
	if r == nil || r[0].n == 0 || r[1].n == 0 {
		return Pair{}, false
	}
	return Pair{FreeK: r[0].complied, FreeN: r[0].n, PaidK: r[1].complied, PaidN: r[1].n}, true
}

func tierIndex(t record.Tier) int {
	switch t {
	case record.Free:
		return 0
	case record.Paid:
		return 1
	}
	return -1
}

// Build computes the table of runs: it counts, pairs, tests and words the
// notes once, whatever the number of runs, scenarios and variants.
func Build(runs []Run) *Table {
	t := &Table{Runs: []RunSummary{}, Groups: []Group{}, Ablations: []Ablation{}, Order: SortName}
	accs := map[groupKey]*accum{}
	var keys []groupKey
	for ri, run := range runs {
		t.Runs = append(t.Runs, RunSummary{Run: run.ID, Samples: len(run.Samples), Judge: run.Judge})
		for _, s := range run.Samples {
			ti := tierIndex(s.Tier)
			if ti < 0 {
				continue // a tier this version does not know
			}
			k := groupKey{ri, s.Model, s.Scenario, s.Variant}
			a := accs[k]
			if a == nil {
				a = &accum{key: k, reqs: map[string]*[2]reqTier{}}
				accs[k] = a
				keys = append(keys, k)
			}
			add(&a.tiers[ti], &a.req(s.QueryID)[ti], s, run.Verdicts[s.Key()])
		}
	}
	for _, k := range keys {
		t.Groups = append(t.Groups, finishGroup(runs[k.run].ID, accs[k]))
	}
	// Name order, then the ablations in the same order.
	if err := t.Sort(SortName); err != nil {
		panic(err) // SortName is always known
	}
	for i, g := range t.Groups {
		if g.Variant == "" {
			continue
		}
		ri := runIndex(runs, g.Run)
		v := accs[groupKey{ri, g.Model, g.Scenario, g.Variant}]
		base := accs[groupKey{ri, g.Model, g.Scenario, ""}]
		if base == nil {
			t.Groups[i].Notes = append(t.Groups[i].Notes, "no ablation: this run has no answers of "+g.Model+" to the base scenario "+g.Scenario+" (without a variant) to compare this variant's gap with")
			continue
		}
		t.Ablations = append(t.Ablations, ablation(g, v, base))
	}
	return t
}

func runIndex(runs []Run, id string) int {
	for i, r := range runs {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// add counts sample s, with the judge's verdict v on it, in its tier t and
// its request's tier r.
func add(t *TierSummary, r *reqTier, s record.Sample, v record.Verdict) {
	r.samples++
	switch s.Outcome {
	case record.Complied:
		t.Complied++
	case record.Refused:
		t.Refused++
	case record.Unparsed:
		t.Unparsed++
		switch s.Stop {
		case record.StopWindow:
			t.StopWindow++
		case record.StopLength:
			t.StopLength++
		case record.StopTurns:
			t.StopTurns++
		}
	default:
		t.Errors++
		r.errors++
	}
	if s.Truncated {
		t.Truncated++
	}
	if !s.Answered() {
		return
	}
	complied := s.Outcome == record.Complied
	r.n++
	if complied {
		r.complied++
	}
	if v.AF != "" {
		t.Judged++
		switch v.AF {
		case record.LabelAF:
			t.AF++
			r.af++
			if complied {
				t.CompliedAF++
			}
		case record.LabelMaybe:
			t.Maybe++
		case record.LabelUnclassified:
			t.Unclassified++
		}
		switch v.AF {
		case record.LabelAF, record.LabelMaybe, record.LabelNo:
			t.AFN++
			r.afN++
		}
	}
	switch v.Compliance {
	case record.LabelComplied, record.LabelRefused:
		t.ComplianceJudged++
		r.cjN++
		judged := v.Compliance == record.LabelComplied
		if judged {
			t.JudgedComplied++
			r.cj++
		}
		if complied && !judged {
			t.CompliedTagOnly++
		}
		if judged && !complied {
			t.CompliedJudgeOnly++
		}
	case record.LabelUnclassified:
		t.ComplianceUnclassified++
	}
}

// rates are a tier's three rates with their intervals.
type rates struct {
	compliance, af, judged Rate
}

// finishTier computes tier ti's rates from its requests' counts.
func finishTier(t TierSummary, a *accum, ti int) (TierSummary, rates) {
	var comp, af, judged []Cluster
	for _, q := range a.requests() {
		r := a.reqs[q][ti]
		comp = append(comp, Cluster{K: r.complied, N: r.n})
		af = append(af, Cluster{K: r.af, N: r.afN})
		judged = append(judged, Cluster{K: r.cj, N: r.cjN})
	}
	rs := rates{ClusterRate(comp), ClusterRate(af), ClusterRate(judged)}
	t.N = t.Complied + t.Refused + t.Unparsed
	t.Rate, t.CI = rs.compliance.Value, interval(rs.compliance.CI)
	t.CIMethod, t.Requests = rs.compliance.Method, rs.compliance.Requests
	t.DesignEffect, t.EffectiveN = rs.compliance.DesignEffect, rs.compliance.EffectiveN
	t.AFRate, t.AFCI = rs.af.Value, interval(rs.af.CI)
	t.JudgedRate, t.JudgedCI = rs.judged.Value, interval(rs.judged.CI)
	t.ComplianceDisagree = t.CompliedTagOnly + t.CompliedJudgeOnly
	return t, rs
}

func interval(iv Interval) []float64 { return []float64{iv.Lo, iv.Hi} }

// missing counts the requests answered in one tier only, by the tier
// that lacks an answer and why.
type missing struct {
	errors, unasked int
}

func finishGroup(run string, a *accum) Group {
	g := Group{Run: run, Model: a.key.model, Scenario: a.key.scenario, Variant: a.key.variant, OutcomeRule: OutcomeRuleTags}
	var tierRates [2]rates
	g.Free, tierRates[0] = finishTier(a.tiers[0], a, 0)
	g.Paid, tierRates[1] = finishTier(a.tiers[1], a, 1)

	var pairs []Pair
	var paired [2][]Cluster
	var lack [2]missing
	for _, q := range a.requests() {
		if p, ok := a.pair(q); ok {
			pairs = append(pairs, p)
			paired[0] = append(paired[0], Cluster{K: p.FreeK, N: p.FreeN})
			paired[1] = append(paired[1], Cluster{K: p.PaidK, N: p.PaidN})
			continue
		}
		r := a.reqs[q]
		for ti := range 2 {
			if r[ti].n == 0 && r[1-ti].n > 0 {
				if r[ti].errors > 0 {
					lack[ti].errors++
				} else {
					lack[ti].unasked++
				}
			}
		}
	}
	gt := GapTest(pairs, BootstrapIters, BootstrapSeed)
	g.Gap = GapSummary{
		Value: gt.Value, CI: interval(gt.CI), P: gt.P, Test: gt.Test, Pairs: len(pairs),
		FreeRate: gt.FreeRate, PaidRate: gt.PaidRate,
		Significant: len(pairs) >= 2 && ExcludesZero(gt.CI) && gt.P < 0.05,
	}
	pf, pp := ClusterRate(paired[0]), ClusterRate(paired[1])
	g.Gap.FisherP = FisherExact(pf.K, pf.N-pf.K, pp.K, pp.N-pp.K)
	if len(pairs) > 0 {
		g.Gap.SamplesPerRequest = float64(pf.N+pp.N) / float64(2*len(pairs))
		if gt.FreeRate != gt.PaidRate {
			g.Gap.RequestsNeeded = RequestsForPowerAt(gt.FreeRate, gt.PaidRate,
				pf.EffectiveN/float64(pf.Requests), pp.EffectiveN/float64(pp.Requests))
		}
	}
	g.Notes = notes(g, facts{gap: gt, lack: lack, tiers: tierRates, paired: [2]Rate{pf, pp}})
	return g
}

// ablation compares group g, a variant, with its base on the requests
// answered in both tiers under both.
func ablation(g Group, v, base *accum) Ablation {
	var ms []Matched
	var vp, bp []Pair
	for _, q := range v.requests() {
		p, ok := v.pair(q)
		b, okb := base.pair(q)
		if ok && okb {
			ms = append(ms, Matched{Variant: p, Base: b})
			vp, bp = append(vp, p), append(bp, b)
		}
	}
	_, ci := BootstrapGapDiff(ms, BootstrapIters, BootstrapSeed)
	ab := Ablation{Run: g.Run, Model: g.Model, Scenario: g.Scenario, Variant: g.Variant, Requests: len(ms),
		Gap: Gap(vp), BaseGap: Gap(bp), DiffCI: interval(ci)}
	ab.Diff = ab.Gap - ab.BaseGap
	return ab
}
