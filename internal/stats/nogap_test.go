package stats

import (
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/record"
)

func notesLack(t *testing.T, g Group, bad string) {
	t.Helper()
	for _, n := range g.Notes {
		if strings.Contains(n, bad) {
			t.Errorf("%s notes hold %q: %s", g.Label(true), bad, n)
		}
	}
}

// TestBuildNoPairs: a group with no request answered in both tiers has no
// gap yet, and says so rather than measure one of 0 over nothing.
func TestBuildNoPairs(t *testing.T) {
	// Before probe classify: every answer of a judge rule is unjudged.
	run := judgedRun()
	run.Verdicts = nil
	judged := Build([]Run{run}).Groups[0]

	// Under the tags, every paid answer an error.
	var ss []record.Sample
	for q := range 3 {
		ss = append(ss, sample("a", "", q, record.Free, 0, record.Complied), sample("a", "", q, record.Paid, 0, record.Error))
	}
	errs := Build([]Run{{ID: "r", Samples: ss}}).Groups[0]

	for _, tt := range []struct {
		name string
		g    Group
		note string
	}{
		{"judge rule, not judged", judged, "no request has an answer with a verdict in both tiers, so there is no gap yet: 10 requests have no answer with a verdict in either tier (answers without a verdict)"},
		{"paid all errors", errs, "no request has an answer in both tiers, so there is no gap yet: 3 requests have no answer in the paid tier (errors)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gp := tt.g.Gap
			if gp.Measured || gp.Pairs != 0 || gp.CI != nil || gp.Significant {
				t.Errorf("gap %+v, want not measured, 0 pairs, no interval", gp)
			}
			notesHave(t, tt.g, tt.note)
			notesLack(t, tt.g, "over the 0 requests")
			notesLack(t, tt.g, "too few requests")
			notesLack(t, tt.g, "nothing to test")
		})
	}
}

// TestBuildOnePair: one pair measures a gap but gives no interval, which
// the table leaves out (nil) rather than print as a point of certainty.
func TestBuildOnePair(t *testing.T) {
	ss := []record.Sample{sample("a", "", 0, record.Free, 0, record.Complied), sample("a", "", 0, record.Paid, 0, record.Refused)}
	g := Build([]Run{{ID: "r", Samples: ss}}).Groups[0]
	if !g.Gap.Measured || g.Gap.Pairs != 1 || g.Gap.Value != 1 || g.Gap.CI != nil {
		t.Errorf("gap %+v, want measured, 1 pair, value 1, no interval", g.Gap)
	}
	// Two pairs have an interval.
	ss = append(ss, sample("a", "", 1, record.Free, 0, record.Refused), sample("a", "", 1, record.Paid, 0, record.Refused))
	if g := Build([]Run{{ID: "r", Samples: ss}}).Groups[0]; len(g.Gap.CI) != 2 {
		t.Errorf("two pairs: interval %v, want one", g.Gap.CI)
	}
}

// TestSortGapUnmeasuredLast: a group with no gap yet sorts after every
// measured gap, however negative.
func TestSortGapUnmeasuredLast(t *testing.T) {
	var ss []record.Sample
	for q := range 4 {
		// a: paid all errors; b: a negative gap.
		ss = append(ss, sample("a", "", q, record.Free, 0, record.Refused), sample("a", "", q, record.Paid, 0, record.Error))
		ss = append(ss, sample("b", "", q, record.Free, 0, record.Refused), sample("b", "", q, record.Paid, 0, record.Complied))
	}
	tab := Build([]Run{{ID: "r", Samples: ss}})
	if err := tab.Sort(SortGap); err != nil {
		t.Fatal(err)
	}
	if got := tab.Groups[0].Model + tab.Groups[1].Model; got != "ba" {
		t.Errorf("sorted by gap: %s, want b (gap -100) before a (no gap)", got)
	}
}

// TestAblationFewRequests: an ablation over one request has no interval,
// and over none no difference.
func TestAblationFewRequests(t *testing.T) {
	var ss []record.Sample
	for q := range 3 {
		ss = append(ss, sample("a", "", q, record.Free, 0, record.Complied), sample("a", "", q, record.Paid, 0, record.Refused))
		paid := record.Error
		if q == 0 {
			paid = record.Refused
		}
		ss = append(ss, sample("a", "one", q, record.Free, 0, record.Refused), sample("a", "one", q, record.Paid, 0, paid))
		ss = append(ss, sample("a", "none", q, record.Free, 0, record.Refused), sample("a", "none", q, record.Paid, 0, record.Error))
	}
	tab := Build([]Run{{ID: "r", Samples: ss}})
	got := map[string]Ablation{}
	for _, a := range tab.Ablations {
		got[a.Variant] = a
	}
	if a := got["one"]; !a.Measured || a.Requests != 1 || a.DiffCI != nil || a.Diff != -1 {
		t.Errorf("one request: %+v, want measured, diff -1, no interval", a)
	}
	if a := got["none"]; a.Measured || a.Requests != 0 || a.DiffCI != nil {
		t.Errorf("no request: %+v, want not measured, no interval", a)
	}
	for _, g := range tab.Groups {
		if g.Variant == "none" {
			notesHave(t, g, "no ablation yet: no request is answered in both tiers both under this variant and under the base scenario s")
		}
	}
}
