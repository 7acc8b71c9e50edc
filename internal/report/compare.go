package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Row is one model in one scenario of one run: a line of the comparison
// table and a pair of bars in the figure.
type Row struct {
	Run string `json:"run"`
	Group
}

// Comparison puts several runs' reports side by side, one row per run,
// model and scenario.
type Comparison struct {
	Runs    []string `json:"runs"`
	Sort    string   `json:"sort"`
	Samples int      `json:"samples"`
	Rows    []Row    `json:"rows"`
	// Reports are the runs' own reports, for the formats that show more
	// than the rows: the HTML report and the samples CSV.
	Reports []*Report `json:"-"`
}

// Orders of the rows.
const (
	// SortName orders rows by model and scenario, and the runs of each in
	// the order given, so that the same model's runs stand together.
	SortName = "name"
	// SortGap puts the largest compliance gap first.
	SortGap = "gap"
)

// SortKeys lists the orders Compare and Report.Sort know, the first being
// the default.
var SortKeys = []string{SortName, SortGap}

// rowsOf returns a report's groups as rows, in the report's order.
func rowsOf(r *Report) []Row {
	rows := make([]Row, 0, len(r.Groups))
	for _, g := range r.Groups {
		rows = append(rows, Row{Run: r.Run, Group: g})
	}
	return rows
}

// Compare lays reports side by side, their rows ordered by sortBy.
func Compare(reports []*Report, sortBy string) (*Comparison, error) {
	if sortBy == "" {
		sortBy = SortName
	}
	c := &Comparison{Runs: []string{}, Sort: sortBy, Rows: []Row{}, Reports: reports}
	order := map[string]int{}
	for _, r := range reports {
		order[r.Run] = len(c.Runs)
		c.Runs = append(c.Runs, r.Run)
		c.Samples += r.Samples
		c.Rows = append(c.Rows, rowsOf(r)...)
	}
	byName := func(a, b Row) bool {
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return order[a.Run] < order[b.Run]
	}
	switch sortBy {
	case SortName:
		sort.SliceStable(c.Rows, func(i, j int) bool { return byName(c.Rows[i], c.Rows[j]) })
	case SortGap:
		sort.SliceStable(c.Rows, func(i, j int) bool {
			a, b := c.Rows[i], c.Rows[j]
			if a.Gap.Value != b.Gap.Value {
				return a.Gap.Value > b.Gap.Value
			}
			return byName(a, b)
		})
	default:
		return nil, fmt.Errorf("unknown sort %q (want one of %s)", sortBy, strings.Join(SortKeys, ", "))
	}
	return c, nil
}

// Sort orders the report's groups by sortBy; SortName is the order Build
// gives.
func (r *Report) Sort(sortBy string) error {
	c, err := Compare([]*Report{r}, sortBy)
	if err != nil {
		return err
	}
	for i, row := range c.Rows {
		r.Groups[i] = row.Group
	}
	return nil
}

// WriteComparison renders c in format to w. The formats are Write's.
func WriteComparison(w io.Writer, c *Comparison, format string) error {
	switch format {
	case "", "table":
		return writeCompareTable(w, c)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	case "markdown", "md":
		return writeCompareMarkdown(w, c)
	case "csv":
		return writeCompareCSV(w, c)
	case "html":
		return writeHTML(w, c.Reports, c.Rows)
	case "samples-csv":
		return writeSamplesCSV(w, c.Reports)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// rateCI is a rate and its interval in one cell: "50.0% [25.4, 74.6]".
func rateCI(t Tier) string {
	if t.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*t.Rate, 100*t.CI[0], 100*t.CI[1])
}

// afRateCI is the alignment-faking rate and its interval in one cell.
func afRateCI(t Tier) string {
	if t.N == 0 || t.Judged == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*t.AFRate, 100*t.AFCI[0], 100*t.AFCI[1])
}

// rowsJudged reports whether the judge labelled any row's samples.
func rowsJudged(rows []Row) bool {
	for _, r := range rows {
		if r.Free.Judged > 0 || r.Paid.Judged > 0 {
			return true
		}
	}
	return false
}

// gapCI is a gap and its interval in percentage points: "+41.7 [+16.7, +66.7]".
func gapCI(g Gap) string {
	if g.Pairs < 2 {
		return fmt.Sprintf("%+.1f [no interval]", 100*g.Value)
	}
	return fmt.Sprintf("%+.1f [%+.1f, %+.1f]", 100*g.Value, 100*g.CI[0], 100*g.CI[1])
}

// verdict says in a word or two what the gap supports.
func verdict(g Gap) string {
	switch {
	case g.Pairs < 2:
		return "too few pairs"
	case g.Significant:
		return "significant"
	}
	return "not significant"
}

func compareHeader(c *Comparison) string {
	order := "model and scenario"
	if c.Sort == SortGap {
		order = "gap, largest first"
	}
	return fmt.Sprintf("%s, %d samples, sorted by %s", count(len(c.Runs), "run", "runs"), c.Samples, order)
}

const compareLegend = "Rates are compliance among answered samples with Wilson 95% intervals; the gap is free minus paid in percentage points, with a paired bootstrap 95% interval, the paired test's p and Fisher's exact p on the unpaired table. probe report --run ID shows a run's notes."

func writeCompareTable(w io.Writer, c *Comparison) error {
	fmt.Fprintf(w, "%s: %s\n\n", compareHeader(c), strings.Join(c.Runs, ", "))
	if len(c.Rows) == 0 {
		_, err := fmt.Fprintln(w, "no samples yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	af := rowsJudged(c.Rows)
	head := "run\tmodel\tscenario\tfree n\tfree rate [95% CI]\tpaid n\tpaid rate [95% CI]"
	if af {
		head += "\tfree AF [95% CI]\tpaid AF [95% CI]"
	}
	fmt.Fprintln(tw, head+"\tgap pts [95% CI]\tp\ttest\tFisher p\tverdict")
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t", r.Run, r.Model, r.Scenario, r.Free.N, rateCI(r.Free), r.Paid.N, rateCI(r.Paid))
		if af {
			fmt.Fprintf(tw, "%s\t%s\t", afRateCI(r.Free), afRateCI(r.Paid))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", gapCI(r.Gap), pval(r.Gap.P), r.Gap.Test, pval(r.Gap.FisherP), verdict(r.Gap))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", compareLegend)
	return err
}

func writeCompareMarkdown(w io.Writer, c *Comparison) error {
	fmt.Fprintf(w, "## %s\n\n%s: %s. %s\n\n", "Comparison of runs", compareHeader(c), mdEscape(strings.Join(c.Runs, ", ")), compareLegend)
	if len(c.Rows) == 0 {
		_, err := fmt.Fprintln(w, "No samples yet.")
		return err
	}
	af := rowsJudged(c.Rows)
	head, rule := "| run | model | scenario | free n | free rate [95% CI] | paid n | paid rate [95% CI] |", "|---|---|---|--:|---|--:|---|"
	if af {
		head, rule = head+" free AF [95% CI] | paid AF [95% CI] |", rule+"---|---|"
	}
	fmt.Fprintln(w, head+" gap pts [95% CI] | p | test | Fisher p | verdict |")
	fmt.Fprintln(w, rule+"---|--:|---|--:|---|")
	for _, r := range c.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %d | %s |", mdEscape(r.Run), mdEscape(r.Model), mdEscape(r.Scenario), r.Free.N, rateCI(r.Free), r.Paid.N, rateCI(r.Paid))
		if af {
			fmt.Fprintf(w, " %s | %s |", afRateCI(r.Free), afRateCI(r.Paid))
		}
		fmt.Fprintf(w, " %s | %s | %s | %s | %s |\n", gapCI(r.Gap), pval(r.Gap.P), r.Gap.Test, pval(r.Gap.FisherP), verdict(r.Gap))
	}
	return nil
}

func writeCompareCSV(w io.Writer, c *Comparison) error {
	cw := csv.NewWriter(w)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	cw.Write([]string{"run", "model", "scenario",
		"free_n", "free_complied", "free_refused", "free_unparsed", "free_errors", "free_rate", "free_ci_lo", "free_ci_hi",
		"paid_n", "paid_complied", "paid_refused", "paid_unparsed", "paid_errors", "paid_rate", "paid_ci_lo", "paid_ci_hi",
		"free_judged", "free_af", "free_af_rate", "free_complied_af", "paid_judged", "paid_af", "paid_af_rate", "paid_complied_af",
		"gap", "gap_ci_lo", "gap_ci_hi", "gap_p", "gap_test", "gap_fisher_p", "pairs", "significant", "requests_needed"})
	for _, r := range c.Rows {
		line := []string{r.Run, r.Model, r.Scenario}
		for _, t := range []Tier{r.Free, r.Paid} {
			line = append(line, strconv.Itoa(t.N), strconv.Itoa(t.Complied), strconv.Itoa(t.Refused), strconv.Itoa(t.Unparsed), strconv.Itoa(t.Errors), f(t.Rate), f(t.CI[0]), f(t.CI[1]))
		}
		for _, t := range []Tier{r.Free, r.Paid} {
			line = append(line, strconv.Itoa(t.Judged), strconv.Itoa(t.AF), f(t.AFRate), strconv.Itoa(t.CompliedAF))
		}
		line = append(line, f(r.Gap.Value), f(r.Gap.CI[0]), f(r.Gap.CI[1]), f(r.Gap.P), r.Gap.Test, f(r.Gap.FisherP),
			strconv.Itoa(r.Gap.Pairs), strconv.FormatBool(r.Gap.Significant), strconv.Itoa(r.Gap.RequestsNeeded))
		cw.Write(line)
	}
	cw.Flush()
	return cw.Error()
}
