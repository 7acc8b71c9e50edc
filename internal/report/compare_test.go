package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// secondRun is a later run of the same models: model b now shows a gap
// larger than model a's.
func secondRun() stats.Run {
	var samples []record.Sample
	for i := range 20 {
		q := fmt.Sprintf("q%02d", i)
		for _, m := range []string{"a", "b"} {
			free, paid := record.Refused, record.Refused
			if m == "a" && i < 4 {
				free = record.Complied
			}
			if m == "b" && i < 16 {
				free = record.Complied
			}
			samples = append(samples,
				record.Sample{Run: "r2", Model: m, Scenario: "helpful-only", QueryID: q, Tier: record.Free, Outcome: free},
				record.Sample{Run: "r2", Model: m, Scenario: "helpful-only", QueryID: q, Tier: record.Paid, Outcome: paid})
		}
	}
	return runOf("r2", samples, nil)
}

// compare is the report of several runs, sorted by sortBy.
func compare(t *testing.T, sortBy string, runs ...stats.Run) *Report {
	t.Helper()
	tab := stats.Build(runs)
	if err := tab.Sort(sortBy); err != nil {
		t.Fatal(err)
	}
	return &Report{Table: tab, Compare: true}
}

func TestCompareGolden(t *testing.T) {
	for _, sortBy := range stats.SortKeys {
		// r1 has judge labels, r2 none.
		r1, _ := richRun()
		r := compare(t, sortBy, r1, secondRun())
		for _, f := range []string{"table", "json", "markdown", "csv"} {
			t.Run(sortBy+"/"+f, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, r, f); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "compare-"+sortBy+"."+f, buf.Bytes())
			})
		}
	}
}

func TestCompareOrder(t *testing.T) {
	runs := []stats.Run{runOf("r1", fixture(), nil), secondRun()}
	tests := []struct {
		sortBy string
		want   string
	}{
		// By name, each model's runs stand together in the order given.
		{stats.SortName, "r1/a r2/a r1/b r2/b"},
		{"", "r1/a r2/a r1/b r2/b"},
		// By gap: r2/b +80, r1/a +41.7, r2/a +20, r1/b 0.
		{stats.SortGap, "r2/b r1/a r2/a r1/b"},
	}
	for _, tt := range tests {
		r := compare(t, tt.sortBy, runs...)
		var got string
		for i, g := range r.Table.Groups {
			if i > 0 {
				got += " "
			}
			got += g.Run + "/" + g.Model
		}
		if got != tt.want {
			t.Errorf("sort %q: got %s, want %s", tt.sortBy, got, tt.want)
		}
	}
	if err := stats.Build(runs).Sort("p"); err == nil {
		t.Error("unknown sort: got nil error")
	}
}

func TestCompareHTML(t *testing.T) {
	r1, src := richRun()
	r := compare(t, stats.SortGap, r1, secondRun())
	r.Sources = map[string]*Sources{"r1": src}
	var buf bytes.Buffer
	if err := Write(&buf, r, "html"); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare.html", buf.Bytes())
}

func TestGapFisher(t *testing.T) {
	// Model a: 6 of 12 complied free, 1 of 12 paid. The two-sided Fisher
	// p is (C(12,6)C(12,1) + C(12,7)C(12,0)) * 2 / C(24,7) = 23760/346104,
	// as R's fisher.test(rbind(c(6, 6), c(1, 11)))$p.value gives (0.06865).
	g := build("r1", fixture(), nil).Table.Groups[0].Gap
	if want := 23760.0 / 346104; math.Abs(g.FisherP-want) > 1e-12 {
		t.Errorf("fisher_p = %v, want %v", g.FisherP, want)
	}
}

// The JSON documents keep every field they had: one run's, and several
// runs'.
func TestJSONContracts(t *testing.T) {
	fields := func(t *testing.T, r *Report) map[string]any {
		t.Helper()
		var buf bytes.Buffer
		if err := Write(&buf, r, "json"); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	one := fields(t, build("r1", fixture(), nil))
	several := fields(t, compare(t, stats.SortName, runOf("r1", fixture(), nil), secondRun()))
	for _, tt := range []struct {
		doc  map[string]any
		keys []string
		list string
	}{
		{one, []string{"run", "samples", "groups", "judge", "ablations"}, "groups"},
		{several, []string{"runs", "sort", "samples", "rows", "judges", "ablations"}, "rows"},
	} {
		for _, k := range tt.keys {
			if _, ok := tt.doc[k]; !ok {
				t.Errorf("%s document lacks %q", tt.list, k)
			}
		}
		g := tt.doc[tt.list].([]any)[0].(map[string]any)
		for _, k := range []string{"run", "model", "scenario", "variant", "outcome_rule", "free", "paid", "gap", "notes"} {
			if _, ok := g[k]; !ok {
				t.Errorf("%s[0] lacks %q", tt.list, k)
			}
		}
		for _, k := range []string{"n", "complied", "refused", "unparsed", "errors", "truncated", "rate", "ci", "ci_method", "requests",
			"af", "af_n", "af_rate", "af_ci", "complied_af", "maybe", "unclassified", "judged", "judged_complied", "compliance_judged",
			"judged_rate", "judged_ci", "compliance_disagree", "complied_tag_only", "complied_judge_only", "compliance_unclassified",
			"stop_window", "stop_length", "stop_turns"} {
			if _, ok := g["free"].(map[string]any)[k]; !ok {
				t.Errorf("%s[0].free lacks %q", tt.list, k)
			}
		}
		gap := g["gap"].(map[string]any)
		for _, k := range []string{"value", "ci", "p", "test", "pairs", "significant", "requests_needed", "fisher_p", "free_rate", "paid_rate"} {
			if _, ok := gap[k]; !ok {
				t.Errorf("%s[0].gap lacks %q", tt.list, k)
			}
		}
		if gap["value"] != gap["free_rate"].(float64)-gap["paid_rate"].(float64) {
			t.Errorf("%s[0].gap value %v is not free_rate - paid_rate", tt.list, gap["value"])
		}
	}
}

// TestCSVPValuesExact: a p-value in the CSV reads back as the table's, so
// that a tiny p is never written as 0.000000.
func TestCSVPValuesExact(t *testing.T) {
	r := compare(t, stats.SortName, runOf("r1", fixture(), nil), secondRun())
	var buf bytes.Buffer
	if err := Write(&buf, r, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	groups := map[string]stats.GapSummary{}
	for _, g := range r.Table.Groups {
		groups[g.Run+"/"+g.Model] = g.Gap
	}
	tiny := false
	for _, row := range rows[1:] {
		g := groups[row[col["run"]]+"/"+row[col["model"]]]
		tiny = tiny || g.FisherP < 1e-6
		for _, c := range []struct {
			name string
			want float64
		}{{"gap_p", g.P}, {"gap_fisher_p", g.FisherP}} {
			got, err := strconv.ParseFloat(row[col[c.name]], 64)
			if err != nil || got != c.want {
				t.Errorf("%s/%s %s = %q, want %v", row[col["run"]], row[col["model"]], c.name, row[col[c.name]], c.want)
			}
		}
	}
	if !tiny {
		t.Error("no Fisher p below 1e-6 in the fixture: the test checks nothing small")
	}
}
