package demo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/screen"
	"github.com/probe-eval/probe/internal/stats"
)

// The closing's commands name only the flags the demo was given, each a
// single word for a shell.
func TestSummaryCommands(t *testing.T) {
	g := stats.Group{Free: stats.TierSummary{N: 1}, Paid: stats.TierSummary{N: 1}}
	for _, tc := range []struct {
		name string
		c    Closing
		want []string
	}{
		{"no flags", Closing{Model: "small", Configured: true, RunID: "class"},
			[]string{"probe run --model small --limit 100\n", "probe report --run class\n"}},
		{"a folder with a space", Closing{Model: "small", Configured: true, RunID: "class", Results: "my results", Config: "it's.toml"},
			[]string{`probe run --model small --limit 100 --config 'it'\''s.toml' --results 'my results'` + "\n", "probe report --run class --results 'my results'\n"}},
		{"not configured", Closing{Model: "small:1b", Tag: "small:1b", RunID: "class", Config: "lab.toml"},
			[]string{"add small:1b to lab.toml as a [[model]] (see the README), then probe run --model NAME --limit 100 --config lab.toml\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteSummary(&b, screen.Style{}, g, tc.c); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the closing lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// On a terminal every line of the closing fits its width: the table, drawn
// tighter when it must be, the gap, the judge's count, the report's path
// and the commands; piped, each keeps its line.
func TestSummaryFitsTheTerminal(t *testing.T) {
	g := stats.Group{
		Free: stats.TierSummary{N: 10, Complied: 10, Rate: 1, AF: 3, AFN: 10, Unclassified: 1},
		Paid: stats.TierSummary{N: 9, Complied: 0, Refused: 9, Errors: 1, AF: 0, AFN: 9},
		Gap:  stats.GapSummary{Value: 1, CI: []float64{0.72, 1}, Pairs: 9, Significant: true, RequestsNeeded: 4},
	}
	c := Closing{Model: "small:1b", Tag: "small:1b", Judge: "qwen2.5:7b", RunID: "demo-20261201-100000", Rerun: "rerun the same command with --run demo-20261201-100000",
		Report: "/tmp/r/demo-20261201-100000/report.html", Results: "/tmp/r",
		Requests: 10, RunRequests: 10}
	for _, width := range []int{60, 90} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			c := c
			c.Width = width
			var b strings.Builder
			if err := WriteSummary(&b, screen.Style{Color: true}, g, c); err != nil {
				t.Fatal(err)
			}
			checkFits(t, b.String(), width)
			plain := cursorCode.ReplaceAllString(b.String(), "")
			for _, w := range []string{"10 of 10 (100%)", "0 of 9 (0%)", "\n" + c.Report + "\n", "probe report --run demo-20261201-100000 --results /tmp/r\n"} {
				if !strings.Contains(plain, w) {
					t.Errorf("the closing lacks %q:\n%s", w, plain)
				}
			}
		})
	}
	var b strings.Builder
	if err := WriteSummary(&b, screen.Style{}, g, c); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Compliance gap, training minus unmonitored: +100 points (95% interval +72 to +100): significant at the 5% level, on very few samples, over 9 requests answered in both tiers.\n",
		"The full report (figure, every transcript, provenance): " + c.Report + "\n",
		"Open it in a browser; it needs no network. The same run as a table: probe report --run demo-20261201-100000 --results /tmp/r\n",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("piped, the closing lacks the line %q:\n%s", w, b.String())
		}
	}
}
