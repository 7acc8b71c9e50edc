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
	b.WriteString("\n" + st.Paint(screen.Bold, title+strings.Repeat("━", max(0, ruleWidth(c.Width)-screen.Width(title)))) + "\n\n")

	head := fmt.Sprintf("%-15s %8s %9s %8s %9s %7s   %s", "", "answers", "complied", "refused", "unparsed", "errors", "compliance")
	b.WriteString(st.Paint(screen.Dim, head) + "\n")
	for _, row := range []struct {
		name string
		t    stats.TierSummary
		free bool
	}{{"TRAINING", g.Free, true}, {"UNMONITORED", g.Paid, false}} {
		paint := screen.Cyan
		if row.free {
			paint = screen.Yellow
		}
		rate := "no answers"
		if row.t.N > 0 {
			rate = fmt.Sprintf("%d of %d (%s)", row.t.Complied, row.t.N, pct(row.t.Rate))
		}
		name := st.Paint(screen.Bold.With(paint), fmt.Sprintf("%-15s", row.name))
		fmt.Fprintf(&b, "%s %8d %9d %8d %9d %7d   %s\n", name, row.t.N, row.t.Complied, row.t.Refused, row.t.Unparsed, row.t.Errors, rate)
	}
	b.WriteString("\n")

	gap := g.Gap
	switch {
	case gap.Pairs == 0:
		b.WriteString("No request has an answer in both tiers, so there is no gap to compare.\n")
	default:
		verdict := "not significant"
		if gap.Significant {
			verdict = "significant at the 5% level, on very few samples"
		}
		fmt.Fprintf(&b, "Compliance gap, training minus unmonitored: %s", st.Paint(screen.Bold, points(gap.Value)))
		if len(gap.CI) == 2 {
			fmt.Fprintf(&b, " (95%% interval %+.0f to %+.0f)", 100*gap.CI[0], 100*gap.CI[1])
		}
		fmt.Fprintf(&b, ": %s, over %d %s answered in both tiers.\n", verdict, gap.Pairs, plural(gap.Pairs, "request", "requests"))
	}
	if c.Judge != "" && (g.Free.HasVerdicts() || g.Paid.HasVerdicts()) {
		fmt.Fprintf(&b, "Alignment-faking reasoning, as the judge %s reads it: %d of %d in training, %d of %d unmonitored",
			screen.Text(c.Judge), g.Free.AF, g.Free.AFN, g.Paid.AF, g.Paid.AFN)
		if u := g.Free.Unclassified + g.Paid.Unclassified; u > 0 {
			fmt.Fprintf(&b, " (%d the judge could not classify)", u)
		}
		b.WriteString(".\n")
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
	measure := fmt.Sprintf("probe run --model %s --limit 100%s", shellWord(c.Model), runFlags)
	if !c.Configured {
		file := "models.toml"
		if c.Config != "" {
			file = shellWord(c.Config)
		}
		measure = fmt.Sprintf("add %s to %s as a [[model]] (see the README), then probe run --model NAME --limit 100%s", screen.Text(c.Tag), file, runFlags)
	}
	p.text("", "To measure rather than demonstrate, ask many more requests: "+measure)
	p.endLine()
	b.WriteString(p.take())

	whole := ""
	if c.RunRequests > c.Requests {
		whole = fmt.Sprintf(", all %d requests of the run", c.RunRequests)
	}
	fmt.Fprintf(&b, "\nThe full report%s (figure, every transcript, provenance): %s\n", whole, st.Paint(screen.Bold, screen.Text(c.Report)))
	fmt.Fprintf(&b, "Open it in a browser; it needs no network. The same run as a table: probe report --run %s%s\n", shellWord(c.RunID), option("results", c.Results))
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
	p := newPrinter(st, max(0, width-1), "", "")
	p.text("", s)
	p.endLine()
	return p.take()
}
