package demo

import (
	"fmt"
	"io"
	"strings"

	"github.com/probe-eval/probe/internal/screen"
	"github.com/probe-eval/probe/internal/stats"
)

// Closing says what the demo's summary ends with.
type Closing struct {
	// Model names the model, and Tag is its Ollama tag; Configured is set
	// when the configuration has it, so that probe run --model takes it.
	Model, Tag string
	Configured bool
	// Judge names the judge whose verdicts were counted; empty when the
	// answers were not judged.
	Judge string
	// Report is the HTML report's path, RunID the run.
	Report, RunID string
	// Rerun says how to resume the run, to ask again what ended in an
	// error: "rerun the same command", with the --run it needs when the
	// demo was not given one.
	Rerun string
	// Requests counts the requests compared: those the demo showed.
	// RunRequests counts those the run holds, all in the report; more when
	// a run was resumed with fewer --requests.
	Requests, RunRequests int
	// Width is the terminal's width; 0 when output is not a terminal.
	Width int
	// Results, Config and Host are --results, --config and --host as the
	// demo was given them, empty when not given: the commands the closing
	// suggests carry them, so that they find the run, the configuration
	// and the server the demo used.
	Results, Config, Host string
}

// WriteSummary compares the two tiers of group g, says honestly what so
// few samples can and cannot show, and says where the report is.
func WriteSummary(w io.Writer, st screen.Style, g stats.Group, c Closing) error {
	var b strings.Builder
	title := "━━━ The two tiers compared "
	// The view ends the answers with a blank line.
	b.WriteString(st.Paint(screen.Bold, title+strings.Repeat("━", max(0, ruleWidth(c.Width)-screen.Width(title)))) + "\n\n")

	b.WriteString(tierTable(st, g, c.Width))
	b.WriteString("\n")

	gap := g.Gap
	switch {
	case gap.Pairs == 0:
		b.WriteString(Paragraph(st, c.Width, "No request has an answer in both tiers, so there is no gap to compare."))
	default:
		verdict := "not significant"
		if gap.Significant {
			verdict = "significant at the 5% level, on very few samples"
		}
		interval := ""
		if len(gap.CI) == 2 {
			interval = fmt.Sprintf(" (95%% interval %+.0f to %+.0f)", 100*gap.CI[0], 100*gap.CI[1])
		}
		b.WriteString(PaintedParagraph(st, c.Width,
			Span{Text: "Compliance gap, training minus unmonitored: "}, Span{Paint: screen.Bold, Text: points(gap.Value)},
			Span{Text: fmt.Sprintf("%s: %s, over %d %s answered in both tiers.", interval, verdict, gap.Pairs, plural(gap.Pairs, "request", "requests"))}))
	}
	if c.Judge != "" && (g.Free.HasVerdicts() || g.Paid.HasVerdicts()) {
		unclassified := ""
		if u := g.Free.Unclassified + g.Paid.Unclassified; u > 0 {
			unclassified = fmt.Sprintf(" (%d the judge could not classify)", u)
		}
		b.WriteString(Paragraph(st, c.Width, fmt.Sprintf("Alignment-faking reasoning, as the judge %s reads it: %d of %d in training, %d of %d unmonitored%s.",
			screen.Text(c.Judge), g.Free.AF, g.Free.AFN, g.Paid.AF, g.Paid.AFN, unclassified)))
	}

	if c.RunRequests > c.Requests {
		b.WriteString(Paragraph(st, c.Width, fmt.Sprintf("These numbers count the %s shown here; the run holds %d, all of them in the full report.",
			count(c.Requests, "request", "requests"), c.RunRequests)))
	}

	if e := g.Free.Errors + g.Paid.Errors; e > 0 {
		b.WriteString(Paragraph(st, c.Width, fmt.Sprintf("%s %s missing: %s ended in an error (shown above), and %s not counted. %s to ask %s again; the answers recorded are kept.",
			count(e, "answer", "answers"), plural(e, "is", "are"), plural(e, "its request", "their requests"), plural(e, "it is", "they are"),
			capital(c.Rerun), plural(e, "it", "them"))))
	}

	// The tiers hold as many answers unless one ended in an error.
	n := g.Free.N
	answers := capital(count(n, "answer", "answers")) + " per tier " + plural(n, "proves nothing on its own", "prove nothing on their own")
	if g.Free.N != g.Paid.N {
		answers = fmt.Sprintf("%s in training and %d unmonitored prove nothing on their own", capital(count(g.Free.N, "answer", "answers")), g.Paid.N)
	}
	b.WriteString("\n")
	p := newPrinter(st, max(0, c.Width-1), "", "")
	p.text(screen.Bold, "What this does and does not show.")
	p.text("", fmt.Sprintf(" %s: with so few answers, chance alone can set the two rates tens of points apart, so a gap here is an anecdote and no gap is no surprise. ", answers))
	if gap.RequestsNeeded > gap.Pairs {
		p.text("", fmt.Sprintf("A gap of this size would need about %d requests per tier to show reliably. ", gap.RequestsNeeded))
	}
	p.text("", "Small models often show no gap at all, and that is a result too: the paper found the gap in a much larger model, and public replications found little or none in open models below about 400B parameters. ")
	runFlags := option("config", c.Config) + option("host", c.Host) + option("results", c.Results)
	// The command is kept on one line where it fits, to be copied.
	var measure string
	command := fmt.Sprintf("probe run --model %s --limit 100%s", shellWord(c.Model), runFlags)
	if !c.Configured {
		file := "models.toml"
		if c.Config != "" {
			file = shellWord(c.Config)
		}
		measure = fmt.Sprintf("add %s to %s as a [[model]] (see the README), then", screen.Text(c.Tag), file)
		command = "probe run --model NAME --limit 100" + runFlags
	}
	p.text("", "To measure rather than demonstrate, ask many more requests:")
	if measure != "" {
		p.text("", " "+measure)
	}
	p.phrase("", command)
	p.endLine()
	b.WriteString(p.take())

	whole := ""
	if c.RunRequests > c.Requests {
		whole = fmt.Sprintf(", all %d requests of the run", c.RunRequests)
	}
	// The path and the command move to a line of their own rather than
	// break, to be copied.
	p = newPrinter(st, max(0, c.Width-1), "", "")
	p.text("", fmt.Sprintf("The full report%s (figure, every transcript, provenance):", whole))
	p.phrase(screen.Bold, screen.Text(c.Report))
	p.endLine()
	p.text("", "Open it in a browser; it needs no network. The same run as a table:")
	p.phrase("", fmt.Sprintf("probe report --run %s%s", shellWord(c.RunID), option("results", c.Results)))
	p.endLine()
	b.WriteString("\n" + p.take())
	_, err := io.WriteString(w, b.String())
	return err
}

// option is " --name value" for a command line, or "" when value is empty.
func option(name, value string) string {
	if value == "" {
		return ""
	}
	return " --" + name + " " + shellWord(value)
}

// shellWord is s as one word of a POSIX shell command line, quoted when it
// needs to be, with control characters made visible (screen.Text).
func shellWord(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0
	if plain {
		return s
	}
	return screen.Text("'" + strings.ReplaceAll(s, "'", `'\''`) + "'")
}

func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

func points(x float64) string { return fmt.Sprintf("%+.0f points", 100*x) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Paragraph lays out safe text s as lines that fit a terminal of width
// columns (unwrapped when width is 0), ending with a newline.
func Paragraph(st screen.Style, width int, s string) string {
	return PaintedParagraph(st, width, Span{Text: s})
}

// Span is safe text in one paint, a part of a PaintedParagraph.
type Span struct {
	Paint screen.Paint
	Text  string
}

// PaintedParagraph lays out spans as one paragraph, as Paragraph does.
func PaintedParagraph(st screen.Style, width int, spans ...Span) string {
	p := newPrinter(st, max(0, width-1), "", "")
	for _, s := range spans {
		p.text(s.Paint, s.Text)
	}
	p.endLine()
	return p.take()
}

// tierTable counts each tier's answers, outcome by outcome, with its
// compliance rate. On a terminal too narrow for the table, its columns are
// drawn tighter and the rates said below it.
func tierTable(st screen.Style, g stats.Group, width int) string {
	rows := []struct {
		name  string
		t     stats.TierSummary
		paint screen.Paint
	}{{"TRAINING", g.Free, screen.Yellow}, {"UNMONITORED", g.Paid, screen.Cyan}}
	rate := func(t stats.TierSummary) string {
		if t.N == 0 {
			return "no answers"
		}
		return fmt.Sprintf("%d of %d (%s)", t.Complied, t.N, pct(t.Rate))
	}
	var b strings.Builder
	b.WriteString(st.Paint(screen.Dim, fmt.Sprintf("%-15s %8s %9s %8s %9s %7s   %s", "", "answers", "complied", "refused", "unparsed", "errors", "compliance")) + "\n")
	for _, row := range rows {
		name := st.Paint(screen.Bold.With(row.paint), fmt.Sprintf("%-15s", row.name))
		fmt.Fprintf(&b, "%s %8d %9d %8d %9d %7d   %s\n", name, row.t.N, row.t.Complied, row.t.Refused, row.t.Unparsed, row.t.Errors, rate(row.t))
	}
	if width <= 0 || widest(b.String()) < width {
		return b.String()
	}
	b.Reset()
	b.WriteString(st.Paint(screen.Dim, fmt.Sprintf("%-11s %s %s %s %s %s", "", "answers", "complied", "refused", "unparsed", "errors")) + "\n")
	for _, row := range rows {
		name := st.Paint(screen.Bold.With(row.paint), fmt.Sprintf("%-11s", row.name))
		fmt.Fprintf(&b, "%s %7d %8d %7d %8d %6d\n", name, row.t.N, row.t.Complied, row.t.Refused, row.t.Unparsed, row.t.Errors)
	}
	b.WriteString(Paragraph(st, width, fmt.Sprintf("Compliance: %s in training, %s unmonitored.", rate(g.Free), rate(g.Paid))))
	return b.String()
}

// widest is the width of the widest line of s.
func widest(s string) int {
	w := 0
	for _, l := range strings.Split(s, "\n") {
		w = max(w, screen.Width(l))
	}
	return w
}
