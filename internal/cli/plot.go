package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/report"
	"github.com/probe-eval/probe/internal/stats"
)

// PlotOptions are probe plot's flags.
type PlotOptions struct {
	Results string
	// RunIDs are the runs to draw; none means the newest, and All every
	// run under Results.
	RunIDs []string
	All    bool
	Sort   string
	// Output is the file to write; its extension, .svg or .png, is the
	// format.
	Output string
	// Config and Judge choose the judge whose verdicts hatch the bars, as
	// for probe report.
	Config string
	Judge  string
}

func plotCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "plot",
		Usage:     "draw the paper's figure of a run as SVG or PNG",
		UsageText: "probe plot [--results DIR] [--run ID]... [--all] [--sort name|gap] [--judge NAME] [--config FILE] --output FILE.svg|FILE.png",
		Description: `Draws one panel per scenario and, in it, for each model and variant two stacked bars: training
(free tier) and unmonitored (paid tier), split into complied with alignment-faking reasoning
(hatched, once the judge has labelled the samples), complied, refused and unparsed, as shares
of the answered samples, with a whisker for the compliance rate's 95% interval (Wilson's,
counted in requests when a request has several samples). The same figure is in the HTML
report. The PNG is drawn at twice the SVG's size. Without --run, the newest run.`,
		Flags: []ucli.Flag{
			resultsFlag(),
			&ucli.StringSliceFlag{Name: "run", Usage: "run `ID` (repeatable); default: the newest run under --results"},
			&ucli.BoolFlag{Name: "all", Usage: "draw every run under --results"},
			&ucli.StringFlag{Name: "sort", Value: stats.SortName, Usage: "order bars by `KEY`: " + strings.Join(stats.SortKeys, ", ")},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE`, ending in .svg or .png"},
			&ucli.StringFlag{Name: "judge", Usage: "hatch the verdicts of judge model `NAME` (default: as probe report)"},
			configFlag(),
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("plot takes no arguments, got %q (use --output FILE)", c.Args().Slice()))
			}
			return Plot(c.Context, PlotOptions{
				Results: c.String("results"), RunIDs: c.StringSlice("run"), All: c.Bool("all"),
				Sort: c.String("sort"), Output: c.String("output"), Config: c.String("config"), Judge: c.String("judge"),
			}, env)
		},
	}
}

// Plot is probe plot.
func Plot(_ context.Context, o PlotOptions, env Env) error {
	if o.Output == "" {
		return usage(errors.New("--output FILE is required: FILE.svg or FILE.png"))
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(o.Output)), ".")
	if !slices.Contains(report.PlotFormats, format) {
		return usage(fmt.Errorf("--output %s: the name must end in .svg or .png", o.Output))
	}
	if !slices.Contains(stats.SortKeys, o.Sort) && o.Sort != "" {
		return usage(fmt.Errorf("--sort %q: want one of %s", o.Sort, strings.Join(stats.SortKeys, ", ")))
	}
	ids, err := selectRuns(o.Results, o.RunIDs, o.All)
	if err != nil {
		return err
	}
	pick, err := judgePick(o.Config, o.Judge)
	if err != nil {
		return err
	}
	r, err := loadReport(o.Results, ids, pick, env)
	if err != nil {
		return err
	}
	if err := r.Table.Sort(o.Sort); err != nil {
		return usage(err)
	}
	var buf bytes.Buffer
	if err := report.WriteFigure(&buf, r.Table, format); err != nil {
		return err
	}
	return writeOutput(buf.Bytes(), o.Output, env)
}
