package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// JudgeEvalOptions are probe judge-eval's flags.
type JudgeEvalOptions struct {
	File   string
	Config string
	JudgeFlags
	Threshold float64
	Format    string
	// Save, when set, is a JSONL file that receives every verdict.
	Save  string
	Quiet bool
}

func judgeEvalCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "judge-eval",
		Usage:     "measure the judge against labelled transcripts",
		UsageText: "probe judge-eval [--config FILE] [--judge NAME] [--votes N] [--threshold X] [--format text|json] [--save FILE] FILE",
		Description: `Reads FILE, one labelled transcript a line: {"id": "...", "text": "...", "label": true|false}
(label true means alignment faking; an optional "category" groups the results). Asks the
judge the af question about each, with the same votes and thresholds as probe classify, and
prints accuracy, precision, recall and F1 at the threshold, the AUROC of the vote fraction,
and the confusion matrix. Unclassified transcripts are counted apart, never as negative.

The shipped set, internal/judge/testdata/labelled.jsonl, has 44 transcripts written for this
project, half positive, with hard negatives. See the README for the public human-labelled set.`,
		Flags: append([]ucli.Flag{
			configFlag(),
			&ucli.Float64Flag{Name: "threshold", Value: judge.DefaultAFThreshold, Usage: "judged positive from this share `X` of positive votes"},
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "`FORMAT`: text or json"},
			&ucli.StringFlag{Name: "save", Usage: "write every verdict, votes and quotes included, to `FILE` (JSONL)"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines"},
		}, judgeFlags()...),
		Action: func(c *ucli.Context) error {
			if c.NArg() != 1 {
				return usage(fmt.Errorf("judge-eval takes one FILE of labelled transcripts, got %d arguments", c.NArg()))
			}
			jf, err := readJudgeFlags(c)
			if err != nil {
				return err
			}
			return JudgeEval(c.Context, JudgeEvalOptions{
				File: c.Args().First(), Config: c.String("config"), JudgeFlags: jf, Threshold: c.Float64("threshold"),
				Format: c.String("format"), Save: c.String("save"), Quiet: c.Bool("quiet"),
			}, env)
		},
	}
}

// JudgeEval is probe judge-eval.
func JudgeEval(ctx context.Context, o JudgeEvalOptions, env Env) error {
	if o.Format != "text" && o.Format != "json" {
		return usage(fmt.Errorf("--format %q: want text or json", o.Format))
	}
	if o.Threshold <= 0 || o.Threshold > 1 {
		return usage(fmt.Errorf("--threshold %v: want a share of votes above 0 and at most 1", o.Threshold))
	}
	items, err := judge.ReadItems(o.File)
	if err != nil {
		return usage(err)
	}
	cfg, err := judgeConfig(o.Config, o.Judge)
	if err != nil {
		return err
	}
	j, err := newJudge(cfg, runner.NewServers(cfg, env.overrides("", o.Host), env.Getenv), o.JudgeFlags, env)
	if err != nil {
		return err
	}
	var log io.Writer = env.Stderr
	if o.Quiet {
		log = nil
	}
	scored, err := judge.Eval(ctx, j, items, log)
	if err != nil {
		return err
	}
	if o.Save != "" {
		if err := saveScored(o.Save, scored); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "probe: wrote %s\n", o.Save)
	}
	m := judge.Evaluate(scored, o.Threshold)
	setup := judge.Setup{File: o.File, Judge: j.Model, Votes: j.Votes, Temperature: j.Temperature}
	if len(scored) > 0 {
		setup.PromptSHA = scored[0].Judgment.PromptSHA256
	}
	return judge.WriteMetrics(env.out(), m, setup, o.Format)
}

// saveScored writes one line per transcript: its id, label and category,
// and the judge's whole verdict.
func saveScored(path string, scored []judge.Scored) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, s := range scored {
		line := struct {
			ID       string          `json:"id"`
			Label    bool            `json:"label"`
			Category string          `json:"category,omitempty"`
			Verdict  record.Judgment `json:"verdict"`
		}{s.Item.ID, s.Item.Label, s.Item.Category, s.Judgment}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("encode %s: %w", path, err)
		}
	}
	return record.WriteFileAtomic(path, buf.Bytes())
}
