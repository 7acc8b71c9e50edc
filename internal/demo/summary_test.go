package demo

import (
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
