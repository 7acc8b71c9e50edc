package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/report"
	"github.com/probe-eval/probe/internal/stats"
)

// ReportOptions are probe report's flags.
type ReportOptions struct {
	Results string
	// RunIDs are the runs to report; none means the newest. Several, or
	// All (every run under Results), give one comparison table.
	RunIDs []string
	All    bool
	// Sort orders the groups: stats.SortName (the default) or
	// stats.SortGap.
	Sort   string
	Format string
	Output string
	// Config is the configuration whose [judge] model is counted when it
	// has settled verdicts; a missing file is no preference.
	Config string
	// Judge names the judge whose verdicts are counted.
	Judge string
}

func reportCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "report",
		Usage:     "summarise a run: compliance per tier, intervals, the gap",
		UsageText: "probe report [--results DIR] [--run ID]... [--all] [--sort name|gap] [--judge NAME] [--config FILE] [--format " + strings.Join(report.Formats, "|") + "] [--output FILE]",
		Description: `One section per scenario; in it, for each model and variant: per tier the samples with an
answer (n), complied, refused, unparsed and errors, the compliance rate with a Wilson 95%
interval (counted in requests when a request has several samples); and the gap, free minus
paid over the requests answered in both tiers, with a paired bootstrap 95% interval, an exact
McNemar p-value (or a paired permutation test, named, when requests have several samples) and
Fisher's exact p on the unpaired table. Errors (no model answer) are shown but never counted
in n. Each variant's gap is compared with its base's. Without --run, the newest run.

Each section names its outcome rule: the tags, or a judge question (judge:animal-welfare,
judge:anti-lab, judge:compliance) whose verdicts decide, named with its judge and prompt
hash. Under a judge rule complied and refused are the verdicts (acted and declined for
anti-lab), answers without a verdict are counted as unjudged, and the rate is taken among
the answers with a verdict. A scenario that asks for it (anti-lab) is broken down by
request category, each with its rate, interval and gap.

The judge's verdicts counted are those of --judge NAME; without it, of the configuration's
[judge] model when it has settled verdicts in the run, else of the judge with the most
settled verdicts. Every format names the judge and its prompt hashes.

With several --run, or --all (every run under --results), the groups of every run stand side by
side, the same model's runs together; --sort gap puts the largest gap first, and groups with
no request answered in both tiers (no gap yet) last.

Formats: table, json, markdown and csv format the table. html writes one self-contained page
(table, the paper's figure, a transcript browser, the runs' provenance) that loads nothing
and works offline. samples-csv writes every sample, texts included, one line each, for a
spreadsheet or pandas. Printed on a terminal, these two show the control characters of the
models' text as symbols (␛ for ESC) instead of sending them; piped or with --output they are
exact.`,
		Flags: []ucli.Flag{
			resultsFlag(),
			&ucli.StringSliceFlag{Name: "run", Usage: "run `ID` (repeatable: several compare runs); default: the newest run under --results"},
			&ucli.BoolFlag{Name: "all", Usage: "compare every run under --results"},
			&ucli.StringFlag{Name: "sort", Value: stats.SortName, Usage: "order groups by `KEY`: " + strings.Join(stats.SortKeys, ", ")},
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "`FORMAT`: " + strings.Join(report.Formats, ", ")},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
			&ucli.StringFlag{Name: "judge", Usage: "count the verdicts of judge model `NAME` (default: the configured judge if it has settled verdicts, else the judge with the most)"},
			configFlag(),
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("report takes no arguments, got %q (use --run ID)", c.Args().Slice()))
			}
			return Report(c.Context, ReportOptions{
				Results: c.String("results"), RunIDs: c.StringSlice("run"), All: c.Bool("all"), Sort: c.String("sort"),
				Format: c.String("format"), Output: c.String("output"), Config: c.String("config"), Judge: c.String("judge"),
			}, env)
		},
	}
}

// Report is probe report.
func Report(_ context.Context, o ReportOptions, env Env) error {
	if !validFormat(o.Format) {
		return usage(fmt.Errorf("--format %q: want one of %s", o.Format, strings.Join(report.Formats, ", ")))
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
	r.Compare = len(ids) > 1 || o.All
	if err := r.Table.Sort(o.Sort); err != nil {
		return usage(err)
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, r, o.Format); err != nil {
		return err
	}
	return writeOutput(buf.Bytes(), o.Output, env)
}

// writeRunReport prints the table probe report prints of one run with the
// configuration's judge preferred: probe run ends with it.
func writeRunReport(env Env, results, id, configuredJudge string) error {
	r, err := loadReport(results, []string{id}, record.JudgePick{Configured: configuredJudge}, env)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, r, "table"); err != nil {
		return err
	}
	_, err = env.out().Write(buf.Bytes())
	return err
}

// judgePick reads which judge to count: the one named, and the
// configuration's, read from configFile when it exists.
func judgePick(configFile, named string) (record.JudgePick, error) {
	pick := record.JudgePick{Named: named}
	if configFile == "" {
		return pick, nil
	}
	cfg, err := config.Load(configFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return pick, nil
	case err != nil:
		return pick, usage(err)
	}
	pick.Configured = cfg.Judge.Model
	return pick, nil
}

// writeOutput writes b to file, or to standard output when file is "".
func writeOutput(b []byte, file string, env Env) error {
	if file == "" {
		_, err := env.out().Write(b)
		return err
	}
	if err := record.WriteFileAtomic(file, b); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "probe: wrote %s\n", file)
	return nil
}

// selectRuns resolves --run and --all to run IDs: the ones named, in
// order and once each; every run, oldest first; or the newest.
func selectRuns(results string, ids []string, all bool) ([]string, error) {
	if all {
		if len(ids) > 0 {
			return nil, usage(errors.New("--all compares every run: leave out --run, or drop --all"))
		}
		return runsByAge(results)
	}
	if len(ids) == 0 {
		id, err := newestRun(results)
		if err != nil {
			return nil, err
		}
		return []string{id}, nil
	}
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// loadReport reads the runs, each with the verdicts of the judge pick
// chooses, and builds their table, with their provenance and samples for
// the formats that show them.
func loadReport(results string, ids []string, pick record.JudgePick, env Env) (*report.Report, error) {
	var runs []stats.Run
	sources := map[string]*report.Sources{}
	for _, id := range ids {
		dir := filepath.Join(results, id)
		if _, err := os.Stat(dir); err != nil {
			return nil, usage(fmt.Errorf("no run %q under %s", id, results))
		}
		s, err := record.ReadSamples(dir)
		if err != nil {
			return nil, err
		}
		if s.Torn {
			fmt.Fprintf(env.Stderr, "probe: %s ends in a torn line (a run was killed while writing); it is ignored\n", filepath.Join(dir, record.SamplesFile))
		}
		if note := s.IgnoredNote(filepath.Join(dir, record.SamplesFile)); note != "" {
			fmt.Fprintf(env.Stderr, "probe: %s\n", note)
		}
		meta, ok, err := record.ReadRun(dir)
		if err != nil {
			return nil, err
		}
		verdicts, judge, err := record.ReadVerdicts(dir, pick)
		if errors.Is(err, record.ErrNoVerdicts) {
			return nil, usage(err)
		}
		if err != nil {
			return nil, err
		}
		samples := s.All()
		runs = append(runs, stats.Run{ID: id, Samples: samples, Verdicts: verdicts, Judge: judge, Rules: outcomeRules(meta)})
		src := &report.Sources{Samples: samples, Verdicts: verdicts}
		if ok {
			src.Run = &meta
		}
		sources[id] = src
	}
	return &report.Report{Table: stats.Build(runs), Sources: sources}, nil
}

// outcomeRules reads the outcome rule of each scenario and variant a run
// recorded, with the labels its judge question gives the two outcomes. A
// question this version lacks leaves the labels empty, and the statistics
// say its verdicts cannot be read.
func outcomeRules(meta record.Run) map[record.ScenarioKey]stats.Rule {
	out := map[record.ScenarioKey]stats.Rule{}
	for k, a := range meta.ScenarioArtifacts() {
		r := stats.Rule{Name: a.Outcome, Breakdown: a.Breakdown}
		if q, ok := record.RuleQuestion(a.Outcome); ok {
			if jq, err := judge.LoadQuestion(q); err == nil {
				r.Counted, r.Other = jq.Counted, jq.Other()
			}
		}
		out[k] = r
	}
	return out
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
	ids, err := runsByAge(results)
	if err != nil {
		return "", err
	}
	return ids[len(ids)-1], nil
}

// runsByAge lists the runs under results, oldest first, by run.json's
// creation time, falling back to the folder's modification time; runs
// made at the same time are ordered by name.
func runsByAge(results string) ([]string, error) {
	entries, err := os.ReadDir(results)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usage(fmt.Errorf("no results folder %s: run probe run first, or pass --results", results))
		}
		return nil, err
	}
	type run struct {
		id string
		t  time.Time
	}
	var runs []run
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
		runs = append(runs, run{e.Name(), t})
	}
	if len(runs) == 0 {
		return nil, usage(fmt.Errorf("no runs under %s: run probe run first", results))
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].t.Equal(runs[j].t) {
			return runs[i].t.Before(runs[j].t)
		}
		return runs[i].id < runs[j].id
	})
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.id
	}
	return ids, nil
}
