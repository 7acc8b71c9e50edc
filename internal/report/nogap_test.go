package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// fewPairsFixture is a run whose gaps rest on almost nothing: model none
// has every paid answer an error, so no request is answered in both tiers;
// model one has a single such request, and its variant v the same one, so
// that its ablation has one request and none's variant w none.
func fewPairsFixture() *Report {
	var ss []record.Sample
	add := func(model, variant string, q int, tier record.Tier, o record.Outcome) {
		s := record.Sample{Run: "f1", Model: model, Scenario: "s", Variant: variant, QueryID: fmt.Sprintf("q%02d", q), Tier: tier, Outcome: o}
		if o == record.Error {
			s.Error = "server said 500"
		}
		ss = append(ss, s)
	}
	for q := range 3 {
		add("none", "", q, record.Free, record.Complied)
		add("none", "", q, record.Paid, record.Error)
		add("none", "w", q, record.Free, record.Complied)
		add("none", "w", q, record.Paid, record.Refused)
	}
	add("one", "", 0, record.Free, record.Complied)
	add("one", "", 0, record.Paid, record.Refused)
	add("one", "v", 0, record.Free, record.Refused)
	add("one", "v", 0, record.Paid, record.Refused)
	return &Report{Table: stats.Build([]stats.Run{runOf("f1", ss, nil)})}
}

func TestFewPairsGolden(t *testing.T) {
	r := fewPairsFixture()
	for _, f := range []string{"table", "markdown", "json", "csv", "html"} {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "fewpairs."+f, buf.Bytes())
		})
	}
}

func render(t *testing.T, r *Report, format string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, r, format); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestNoGapShowsDashes: a group without a request answered in both tiers
// shows a dash for its gap, p and Fisher p in every format, never a gap of
// 0 with p 1; one pair, or one request of an ablation, shows no interval.
func TestNoGapShowsDashes(t *testing.T) {
	r := fewPairsFixture()

	table := render(t, r, "table")
	for _, re := range []string{
		`(?m)^none   \(base\)\s+—\s+—\s+none\s+0\s+—\s+no gap yet\s*$`,
		`(?m)^one    \(base\)\s+\+100\.0 \[no interval\]`,
		`(?m)^none\s+w\s+0\s+—\s+—\s+—\s*$`,
		`(?m)^one\s+v\s+1\s+\+0\.0\s+\+100\.0\s+-100\.0 \[no interval\]\s*$`,
	} {
		if !regexp.MustCompile(re).MatchString(table) {
			t.Errorf("table lacks %s:\n%s", re, table)
		}
	}
	if strings.Contains(table, "over the 0 requests") {
		t.Errorf("table measures a gap over no request:\n%s", table)
	}
	if !strings.Contains(table, "no request has an answer in both tiers, so there is no gap yet: 3 requests have no answer in the paid tier (errors)") {
		t.Errorf("table's notes do not say why there is no gap:\n%s", table)
	}

	md := render(t, r, "markdown")
	if !strings.Contains(md, "| none | (base) | — | — | none | 0 | — | no gap yet |") {
		t.Errorf("markdown lacks the dashed gap row:\n%s", md)
	}

	var doc struct {
		Groups []struct {
			Model, Variant string
			Gap            map[string]any
		}
		Ablations []map[string]any
	}
	if err := json.Unmarshal([]byte(render(t, r, "json")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Groups {
		want := g.Model == "one" || g.Variant == "w"
		if m, ok := g.Gap["measured"].(bool); !ok || m != want {
			t.Errorf("json %s+%s: measured %v, want %v", g.Model, g.Variant, g.Gap["measured"], want)
		}
		// Fewer than 2 pairs: no interval, not a point.
		if ci, ok := g.Gap["ci"]; !ok || (g.Variant != "w") != (ci == nil) {
			t.Errorf("json %s+%s: ci %v", g.Model, g.Variant, ci)
		}
	}
	for _, a := range doc.Ablations {
		if ci, ok := a["diff_ci"]; !ok || ci != nil {
			t.Errorf("json ablation %v: diff_ci %v, want null", a["variant"], ci)
		}
		if m := a["measured"]; m != (a["variant"] == "v") {
			t.Errorf("json ablation %v: measured %v", a["variant"], m)
		}
	}

	rows, err := csv.NewReader(strings.NewReader(render(t, r, "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, row := range rows[1:] {
		if row[col["model"]] != "none" || row[col["variant"]] != "" {
			continue
		}
		for _, c := range []string{"gap", "gap_ci_lo", "gap_ci_hi", "gap_p", "gap_fisher_p", "gap_free_rate", "gap_paid_rate"} {
			if row[col[c]] != "" {
				t.Errorf("csv none %s: %q, want empty (no gap)", c, row[col[c]])
			}
		}
		if row[col["gap_measured"]] != "false" {
			t.Errorf("csv none gap_measured %q, want false", row[col["gap_measured"]])
		}
	}

	html := render(t, r, "html")
	if !regexp.MustCompile(`<span class="big">—</span><div class="sub">no pairs</div>`).MatchString(html) ||
		!strings.Contains(html, `<span class="big">—</span><div class="sub">none</div><div class="sub">Fisher —</div>`) {
		t.Errorf("html lacks the dashed gap and p cells")
	}
}
