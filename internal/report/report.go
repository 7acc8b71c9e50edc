package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// Report is what every format renders: the statistics stage's table, and
// what the HTML page and the samples CSV show beyond it.
type Report struct {
	Table *stats.Table
	// Compare is set when several runs were asked for (--run more than
	// once, or --all): JSON then prints the comparison document,
	// {"runs", "sort", "samples", "rows"}, rather than one run's
	// {"run", "samples", "groups"}.
	Compare bool
	// Sources are the runs' provenance and transcripts, by run; a run
	// without them shows neither.
	Sources map[string]*Sources
}

// Sources is what a run shows beyond its table: where its numbers come from
// and the transcripts behind them.
type Sources struct {
	// Run is the run's run.json; nil when the run folder has none.
	Run *record.Run
	// Samples are the run's latest samples, in record.Samples.All's order.
	Samples []record.Sample
	// Verdicts are the chosen judge's verdicts by sample; nil before
	// judging.
	Verdicts record.Verdicts
}

// Formats lists the formats Write knows, the first being the default.
// html and samples-csv also show the report's Sources.
var Formats = []string{"table", "json", "markdown", "csv", "html", "samples-csv"}

// Write renders r in format to w.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "", "table":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "markdown", "md":
		return writeMarkdown(w, r)
	case "csv":
		return writeCSV(w, r)
	case "html":
		return writeHTML(w, r)
	case "samples-csv":
		return writeSamplesCSV(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// runDoc is the JSON of one run's report.
type runDoc struct {
	Run       string             `json:"run"`
	Samples   int                `json:"samples"`
	Judge     record.JudgeChoice `json:"judge"`
	Groups    []stats.Group      `json:"groups"`
	Ablations []stats.Ablation   `json:"ablations"`
}

// compareDoc is the JSON of several runs' report.
type compareDoc struct {
	Runs      []string         `json:"runs"`
	Sort      string           `json:"sort"`
	Samples   int              `json:"samples"`
	Judges    []runJudge       `json:"judges"`
	Rows      []stats.Group    `json:"rows"`
	Ablations []stats.Ablation `json:"ablations"`
}

// runJudge names a run's judge in the comparison document.
type runJudge struct {
	Run string `json:"run"`
	record.JudgeChoice
}

func writeJSON(w io.Writer, r *Report) error {
	t := r.Table
	var doc any
	if r.Compare || len(t.Runs) != 1 {
		c := compareDoc{Runs: []string{}, Sort: t.Order, Samples: t.Samples(), Judges: []runJudge{}, Rows: t.Groups, Ablations: t.Ablations}
		for _, run := range t.Runs {
			c.Runs = append(c.Runs, run.Run)
			c.Judges = append(c.Judges, runJudge{Run: run.Run, JudgeChoice: run.Judge})
		}
		doc = c
	} else {
		doc = runDoc{Run: t.Runs[0].Run, Samples: t.Runs[0].Samples, Judge: t.Runs[0].Judge, Groups: t.Groups, Ablations: t.Ablations}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
