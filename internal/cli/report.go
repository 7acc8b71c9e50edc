package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/report"
)

// ReportOptions are probe report's flags.
type ReportOptions struct {
	Results string
	RunID   string
	Format  string
	Output  string
}

func reportCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "report",
		Usage:     "summarise a run: compliance per tier, intervals, the gap",
		UsageText: "probe report [--results DIR] [--run ID] [--format table|json|markdown|csv] [--output FILE]",
		Description: `For each model and scenario: per tier the samples with an answer (n), complied, refused,
unparsed and errors, the compliance rate with a Wilson 95% interval; and the gap, free minus
paid, with a paired bootstrap 95% interval and an exact McNemar p-value. Errors (no model
answer) are shown but never counted in n. Without --run, the newest run.`,
		Flags: []ucli.Flag{
			resultsFlag(),
			&ucli.StringFlag{Name: "run", Usage: "run `ID`; default: the newest run under --results"},
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "`FORMAT`: " + strings.Join(report.Formats, ", ")},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("report takes no arguments, got %q (use --run ID)", c.Args().Slice()))
			}
			return Report(c.Context, ReportOptions{Results: c.String("results"), RunID: c.String("run"), Format: c.String("format"), Output: c.String("output")}, env)
		},
	}
}

// Report is probe report.
func Report(_ context.Context, o ReportOptions, env Env) error {
	if !validFormat(o.Format) {
		return usage(fmt.Errorf("--format %q: want one of %s", o.Format, strings.Join(report.Formats, ", ")))
	}
	id := o.RunID
	if id == "" {
		var err error
		if id, err = newestRun(o.Results); err != nil {
			return err
		}
	}
	dir := filepath.Join(o.Results, id)
	if _, err := os.Stat(dir); err != nil {
		return usage(fmt.Errorf("no run %q under %s", id, o.Results))
	}
	s, err := record.ReadSamples(dir)
	if err != nil {
		return err
	}
	if s.Torn {
		fmt.Fprintf(env.Stderr, "probe: %s ends in a torn line (a run was killed while writing); it is ignored\n", filepath.Join(dir, record.SamplesFile))
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, report.Build(id, s.All(), nil), o.Format); err != nil {
		return err
	}
	if o.Output == "" {
		_, err := env.Stdout.Write(buf.Bytes())
		return err
	}
	if err := record.WriteFileAtomic(o.Output, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "probe: wrote %s\n", o.Output)
	return nil
}

func validFormat(f string) bool {
	for _, k := range report.Formats {
		if f == k {
			return true
		}
	}
	return false
}

// newestRun finds the run under results created last, by run.json's
// creation time, falling back to the folder's modification time.
func newestRun(results string) (string, error) {
	entries, err := os.ReadDir(results)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", usage(fmt.Errorf("no results folder %s: run probe run first, or pass --results", results))
		}
		return "", err
	}
	var best string
	var bestT time.Time
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(results, e.Name())
		t := time.Time{}
		if r, ok, err := record.ReadRun(dir); err == nil && ok {
			t = r.CreatedAt
		} else if st, err := os.Stat(filepath.Join(dir, record.SamplesFile)); err == nil {
			t = st.ModTime()
		} else {
			continue
		}
		if best == "" || t.After(bestT) || (t.Equal(bestT) && e.Name() > best) {
			best, bestT = e.Name(), t
		}
	}
	if best == "" {
		return "", usage(fmt.Errorf("no runs under %s: run probe run first", results))
	}
	return best, nil
}
