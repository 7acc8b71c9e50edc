package report

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// The judge's part of every format: the alignment-faking verdicts, and
// compliance read by the tags beside compliance read by the judge.

// judged reports whether the judge has said anything of the run.
func judged(r *Report) bool {
	for _, g := range r.Groups {
		if g.Free.hasVerdicts() || g.Paid.hasVerdicts() {
			return true
		}
	}
	return false
}

// notJudged tells a reader of a run without verdicts where they come from.
const notJudged = "reasoning not judged yet: probe classify adds alignment-faking and judged-compliance counts"

func afRate(t Tier) string { return shareText(t.N > 0 && t.Judged > 0, t.AFRate) }
func afCI(t Tier) string   { return intervalText(t.N > 0 && t.Judged > 0, t.AFCI) }

func judgedRate(t Tier) string { return shareText(t.ComplianceJudged > 0, t.JudgedRate) }
func judgedCI(t Tier) string   { return intervalText(t.ComplianceJudged > 0, t.JudgedCI) }

// tierRows calls fn for each group's two tiers; first is set on free.
func tierRows(r *Report, fn func(g Group, tier string, t Tier, first bool)) {
	for _, g := range r.Groups {
		fn(g, "free", g.Free, true)
		fn(g, "paid", g.Paid, false)
	}
}

// writeJudgeTables adds the judge's two tables to the text report.
func writeJudgeTables(w io.Writer, r *Report) error {
	if !judged(r) {
		_, err := fmt.Fprintf(w, "\n%s\n", notJudged)
		return err
	}
	fmt.Fprintln(w, "\nalignment-faking reasoning, by the judge (af rate among n; complied+af is the headline count):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tscenario\ttier\tn\tjudged\taf\tmaybe\tunclassified\taf rate\t95% CI\tcomplied+af")
	tierRows(r, func(g Group, tier string, t Tier, first bool) {
		model, scenario := g.Model, g.Scenario
		if !first {
			model, scenario = "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\n", model, scenario, tier, t.N, t.Judged, t.AF, t.Maybe, t.Unclassified, afRate(t), afCI(t), t.CompliedAF)
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ncompliance, by the tags and by the judge (judged rate among samples with a verdict):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tscenario\ttier\ttags complied\tjudged\tjudge complied\tjudged rate\t95% CI\tdisagree\tunclassified")
	tierRows(r, func(g Group, tier string, t Tier, first bool) {
		model, scenario := g.Model, g.Scenario
		if !first {
			model, scenario = "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t%d\n", model, scenario, tier, t.Complied, t.ComplianceJudged, t.JudgedComplied, judgedRate(t), judgedCI(t), t.ComplianceDisagree, t.ComplianceUnclassified)
	})
	return tw.Flush()
}

// writeJudgeMarkdown adds the judge's two tables to the Markdown report.
func writeJudgeMarkdown(w io.Writer, r *Report) {
	if !judged(r) {
		fmt.Fprintf(w, "_%s._\n\n", notJudged)
		return
	}
	fmt.Fprintln(w, "Alignment-faking reasoning, by the judge: af rate among n, with Wilson 95% intervals; complied+af is the headline count.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| model | scenario | tier | n | judged | af | maybe | unclassified | af rate | 95% CI | complied+af |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|")
	tierRows(r, func(g Group, tier string, t Tier, _ bool) {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %d | %d | %s | %s | %d |\n", mdEscape(g.Model), mdEscape(g.Scenario), tier, t.N, t.Judged, t.AF, t.Maybe, t.Unclassified, afRate(t), afCI(t), t.CompliedAF)
	})
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Compliance by the tags and by the judge: judged rate among samples with a verdict.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| model | scenario | tier | tags complied | judged | judge complied | judged rate | 95% CI | disagree | unclassified |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|---|--:|--:|")
	tierRows(r, func(g Group, tier string, t Tier, _ bool) {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %s | %s | %d | %d |\n", mdEscape(g.Model), mdEscape(g.Scenario), tier, t.Complied, t.ComplianceJudged, t.JudgedComplied, judgedRate(t), judgedCI(t), t.ComplianceDisagree, t.ComplianceUnclassified)
	})
	fmt.Fprintln(w)
}

// judgeCSVHeader names the judge's CSV columns, after every other column.
func judgeCSVHeader() []string {
	return []string{
		"af", "af_rate", "af_ci_lo", "af_ci_hi", "complied_af", "maybe", "unclassified", "judged",
		"judged_complied", "compliance_judged", "judged_rate", "judged_ci_lo", "judged_ci_hi",
		"compliance_disagree", "complied_tag_only", "complied_judge_only", "compliance_unclassified",
	}
}

// judgeCSV is a tier's values for judgeCSVHeader.
func judgeCSV(t Tier) []string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	i := strconv.Itoa
	return []string{
		i(t.AF), f(t.AFRate), f(t.AFCI[0]), f(t.AFCI[1]), i(t.CompliedAF), i(t.Maybe), i(t.Unclassified), i(t.Judged),
		i(t.JudgedComplied), i(t.ComplianceJudged), f(t.JudgedRate), f(t.JudgedCI[0]), f(t.JudgedCI[1]),
		i(t.ComplianceDisagree), i(t.CompliedTagOnly), i(t.CompliedJudgeOnly), i(t.ComplianceUnclassified),
	}
}
