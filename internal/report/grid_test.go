package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// gridFixture is a run of one model under two scenarios, the first with a
// variant, three samples per request and tier: what a grid run writes. The
// variant lacks a paid answer (errors), and some answers stopped without
// output.
func gridFixture() *Report {
	var ss []record.Sample
	add := func(sc, variant string, q, k int, tier record.Tier, o record.Outcome) *record.Sample {
		ss = append(ss, record.Sample{Run: "g1", Model: "m", Scenario: sc, Variant: variant, QueryID: fmt.Sprintf("q%02d", q), Tier: tier, Sample: k, Outcome: o})
		return &ss[len(ss)-1]
	}
	for q := range 12 {
		for k := range 3 {
			// Base: free complies on requests 0-5 (all samples), and on
			// one sample of 6-7; paid on request 0.
			free := record.Refused
			if q < 6 || (q < 8 && k == 0) {
				free = record.Complied
			}
			paid := record.Refused
			if q == 0 {
				paid = record.Complied
			}
			add("alpha", "", q, k, record.Free, free)
			add("alpha", "", q, k, record.Paid, paid)
			// Variant no-cot: free complies on requests 0-1 only; its
			// requests 10-11 have paid errors.
			vfree := record.Refused
			if q < 2 {
				vfree = record.Complied
			}
			add("alpha", "no-cot", q, k, record.Free, vfree)
			if q >= 10 {
				s := add("alpha", "no-cot", q, k, record.Paid, record.Error)
				s.Error = "server said 500"
			} else {
				add("alpha", "no-cot", q, k, record.Paid, record.Refused)
			}
			// Scenario beta: a model that rambles past num_predict.
			bfree := record.Refused
			if q%4 == 0 {
				bfree = record.Complied
			}
			s := add("beta", "", q, k, record.Free, bfree)
			if q == 11 {
				s.Outcome, s.Stop, s.DoneReason = record.Unparsed, record.StopLength, "length"
			}
			add("beta", "", q, k, record.Paid, record.Refused)
		}
	}
	return &Report{Table: stats.Build([]stats.Run{runOf("g1", ss, nil)}), Sources: map[string]*Sources{"g1": {Samples: ss}}}
}

func TestGridGolden(t *testing.T) {
	r := gridFixture()
	for _, f := range []string{"table", "json", "markdown", "csv", "html"} {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "grid."+f, buf.Bytes())
		})
	}
}

func TestGridSections(t *testing.T) {
	r := gridFixture()
	var buf bytes.Buffer
	if err := Write(&buf, r, "table"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	a, b := strings.Index(out, "scenario alpha (outcome rule: tags)"), strings.Index(out, "scenario beta (outcome rule: tags)")
	if a < 0 || b < a {
		t.Fatalf("want a section for alpha, then one for beta:\n%s", out)
	}
	alpha, beta := out[a:b], out[b:]
	for _, want := range []string{"ablations:", "no-cot", "(base)", "design effect", "paired rates free / paid"} {
		if !strings.Contains(alpha, want) {
			t.Errorf("alpha's section lacks %q", want)
		}
	}
	if strings.Contains(beta, "ablations:") || strings.Contains(beta, "no-cot") {
		t.Errorf("beta's section shows alpha's variant:\n%s", beta)
	}
	if !strings.Contains(beta, "ended on the length limit before any output: raise num_predict") {
		t.Errorf("beta's section does not count the answers cut by num_predict:\n%s", beta)
	}
	f, err := layoutFigure(r.Table)
	if err != nil {
		t.Fatal(err)
	}
	var panels []string
	for _, s := range f.Shapes {
		if s.Class == "panel-title" {
			panels = append(panels, s.Text)
		}
	}
	if strings.Join(panels, "|") != "scenario alpha|scenario beta" {
		t.Errorf("figure panels %q, want one per scenario", panels)
	}
}

// TestCSVAblationRows: the CSV has a row per ablation, as every other format
// shows them, told apart from the group and category rows by its kind.
func TestCSVAblationRows(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    *Report
	}{{"grid", gridFixture()}, {"few pairs", fewPairsFixture()}} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.r, "csv"); err != nil {
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
			var got []string
			kinds := map[string]int{}
			for _, row := range rows[1:] {
				kinds[row[col["kind"]]]++
				if row[col["kind"]] != "ablation" {
					continue
				}
				if row[col["tier"]] != "" || row[col["n"]] != "" || row[col["gap"]] != "" {
					t.Errorf("ablation row fills a group's cells: tier %q, n %q, gap %q", row[col["tier"]], row[col["n"]], row[col["gap"]])
				}
				got = append(got, strings.Join([]string{row[col["run"]], row[col["model"]], row[col["scenario"]], row[col["variant"]],
					row[col["ablation_requests"]], row[col["ablation_gap"]], row[col["ablation_base_gap"]], row[col["ablation_diff"]],
					row[col["ablation_diff_ci_lo"]], row[col["ablation_diff_ci_hi"]]}, ","))
			}
			var want []string
			for _, a := range tt.r.Table.Ablations {
				cells := []string{a.Run, a.Model, a.Scenario, a.Variant, fmt.Sprint(a.Requests), "", "", "", "", ""}
				if a.Measured {
					cells[5], cells[6], cells[7] = num(a.Gap), num(a.BaseGap), num(a.Diff)
				}
				if len(a.DiffCI) == 2 {
					cells[8], cells[9] = num(a.DiffCI[0]), num(a.DiffCI[1])
				}
				want = append(want, strings.Join(cells, ","))
			}
			if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("ablation rows\n got %q\nwant %q", got, want)
			}
			if n := len(tt.r.Table.Groups) * 2; kinds["group"] != n {
				t.Errorf("%d group rows, want %d (kinds %v)", kinds["group"], n, kinds)
			}
		})
	}
}
