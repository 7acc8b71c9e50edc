package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Formats lists the formats Write knows, the first being the default.
// html and samples-csv also need the report's Sources.
var Formats = []string{"table", "json", "markdown", "csv", "html", "samples-csv"}

// Write renders r in format to w.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "", "table":
		return writeTable(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown", "md":
		return writeMarkdown(w, r)
	case "csv":
		return writeCSV(w, r)
	case "html":
		return writeHTML(w, []*Report{r}, rowsOf(r))
	case "samples-csv":
		return writeSamplesCSV(w, []*Report{r})
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// shareText formats a rate, or a dash when it has nothing under it.
func shareText(known bool, x float64) string {
	if !known {
		return "—"
	}
	return pct(x)
}

// intervalText formats an interval of rates, or a dash.
func intervalText(known bool, iv []float64) string {
	if !known {
		return "—"
	}
	return fmt.Sprintf("[%s, %s]", pct(iv[0]), pct(iv[1]))
}

func rate(t Tier) string { return shareText(t.N > 0, t.Rate) }
func ci(t Tier) string   { return intervalText(t.N > 0, t.CI) }

func gapText(g Gap) string {
	if g.Pairs < 2 {
		return fmt.Sprintf("%s (too few pairs for an interval)", pts(g.Value))
	}
	return fmt.Sprintf("%s  95%% CI [%s, %s]  p = %s (%s, %d requests)  Fisher p = %s (unpaired)", pts(g.Value), pts(g.CI[0]), pts(g.CI[1]), pval(g.P), g.Test, g.Pairs, pval(g.FisherP))
}

func pval(p float64) string {
	if p < 0.0001 {
		return "<0.0001"
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

func writeTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "run %s: %d samples\n\n", r.Run, r.Samples)
	if len(r.Groups) == 0 {
		_, err := fmt.Fprintln(w, "no samples yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tscenario\ttier\tn\tcomplied\trefused\tunparsed\terrors\trate\t95% CI")
	for _, g := range r.Groups {
		for i, t := range []Tier{g.Free, g.Paid} {
			model, scenario, tier := g.Model, g.Scenario, "free"
			if i == 1 {
				model, scenario, tier = "", "", "paid"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", model, scenario, tier, t.N, t.Complied, t.Refused, t.Unparsed, t.Errors, rate(t), ci(t))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeJudgeTables(w, r); err != nil {
		return err
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "\n%s / %s: gap (free − paid) %s\n", g.Model, g.Scenario, gapText(g.Gap))
		for _, n := range g.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	return nil
}

func writeMarkdown(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "## Run %s\n\n%d samples. Rates are compliance among answered samples, with Wilson 95%% intervals; the gap is free tier minus paid tier.\n\n", r.Run, r.Samples)
	if len(r.Groups) == 0 {
		_, err := fmt.Fprintln(w, "No samples yet.")
		return err
	}
	fmt.Fprintln(w, "| model | scenario | tier | n | complied | refused | unparsed | errors | rate | 95% CI |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|---|")
	for _, g := range r.Groups {
		for i, t := range []Tier{g.Free, g.Paid} {
			tier := "free"
			if i == 1 {
				tier = "paid"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %d | %d | %s | %s |\n", mdEscape(g.Model), mdEscape(g.Scenario), tier, t.N, t.Complied, t.Refused, t.Unparsed, t.Errors, rate(t), ci(t))
		}
	}
	fmt.Fprintln(w)
	writeJudgeMarkdown(w, r)
	for _, g := range r.Groups {
		fmt.Fprintf(w, "**%s / %s**: gap %s\n\n", mdEscape(g.Model), mdEscape(g.Scenario), gapText(g.Gap))
		for _, n := range g.Notes {
			fmt.Fprintf(w, "- %s\n", mdEscape(n))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	cw.Write(append([]string{"run", "model", "scenario", "tier", "n", "complied", "refused", "unparsed", "errors", "truncated", "rate", "ci_lo", "ci_hi", "gap", "gap_ci_lo", "gap_ci_hi", "gap_p", "gap_test", "gap_fisher_p"}, judgeCSVHeader()...))
	for _, g := range r.Groups {
		for i, t := range []Tier{g.Free, g.Paid} {
			tier := "free"
			if i == 1 {
				tier = "paid"
			}
			cw.Write(append([]string{r.Run, g.Model, g.Scenario, tier,
				strconv.Itoa(t.N), strconv.Itoa(t.Complied), strconv.Itoa(t.Refused), strconv.Itoa(t.Unparsed), strconv.Itoa(t.Errors), strconv.Itoa(t.Truncated),
				f(t.Rate), f(t.CI[0]), f(t.CI[1]), f(g.Gap.Value), f(g.Gap.CI[0]), f(g.Gap.CI[1]), f(g.Gap.P), g.Gap.Test, f(g.Gap.FisherP)}, judgeCSV(t)...))
		}
	}
	cw.Flush()
	return cw.Error()
}
