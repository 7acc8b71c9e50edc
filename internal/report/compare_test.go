package report

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/probe-eval/probe/internal/record"
)

// secondRun is a later run of the same models: model b now shows a gap
// larger than model a's.
func secondRun() *Report {
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
	return Build("r2", samples, nil)
}

func TestCompareGolden(t *testing.T) {
	for _, sortBy := range SortKeys {
		// r1 has judge labels, r2 none.
		c, err := Compare([]*Report{richFixture(), secondRun()}, sortBy)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"table", "json", "markdown", "csv"} {
			t.Run(sortBy+"/"+f, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WriteComparison(&buf, c, f); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "compare-"+sortBy+"."+f, buf.Bytes())
			})
		}
	}
}

func TestCompareOrder(t *testing.T) {
	reports := []*Report{Build("r1", fixture(), nil), secondRun()}
	tests := []struct {
		sortBy string
		want   string
	}{
		// By name, each model's runs stand together in the order given.
		{SortName, "r1/a r2/a r1/b r2/b"},
		{"", "r1/a r2/a r1/b r2/b"},
		// By gap: r2/b +80, r1/a +41.7, r2/a +20, r1/b 0.
		{SortGap, "r2/b r1/a r2/a r1/b"},
	}
	for _, tt := range tests {
		c, err := Compare(reports, tt.sortBy)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for i, r := range c.Rows {
			if i > 0 {
				got += " "
			}
			got += r.Run + "/" + r.Model
		}
		if got != tt.want {
			t.Errorf("sort %q: got %s, want %s", tt.sortBy, got, tt.want)
		}
	}
	if _, err := Compare(reports, "p"); err == nil {
		t.Error("unknown sort: got nil error")
	}
}

func TestReportSort(t *testing.T) {
	r := secondRun()
	if err := r.Sort(SortGap); err != nil {
		t.Fatal(err)
	}
	if r.Groups[0].Model != "b" || r.Groups[0].Gap.Value < r.Groups[1].Gap.Value {
		t.Errorf("sorted by gap: got %s (%v) first", r.Groups[0].Model, r.Groups[0].Gap.Value)
	}
	if err := r.Sort(SortName); err != nil {
		t.Fatal(err)
	}
	if r.Groups[0].Model != "a" {
		t.Errorf("sorted by name: got %s first", r.Groups[0].Model)
	}
}

func TestCompareHTML(t *testing.T) {
	r1, r2 := richFixture(), secondRun()
	c, err := Compare([]*Report{r1, r2}, SortGap)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c, "html"); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare.html", buf.Bytes())
}

func TestGapFisher(t *testing.T) {
	// Model a: 6 of 12 complied free, 1 of 12 paid. The two-sided Fisher
	// p is (C(12,6)C(12,1) + C(12,7)C(12,0)) * 2 / C(24,7) = 23760/346104,
	// as R's fisher.test(rbind(c(6, 6), c(1, 11)))$p.value gives (0.06865).
	g := Build("r1", fixture(), nil).Groups[0].Gap
	if want := 23760.0 / 346104; math.Abs(g.FisherP-want) > 1e-12 {
		t.Errorf("fisher_p = %v, want %v", g.FisherP, want)
	}
}
