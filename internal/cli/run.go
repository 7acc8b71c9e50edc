package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// RunOptions are probe run's flags.
type RunOptions struct {
	Config    string
	Host      string
	Results   string
	RunID     string
	Models    []string
	Scenarios []string
	Prompts   string
	Data      string
	Limit     int
	Shuffle   bool
	Seed      uint64
	Samples   int
	Pull      bool
	Quiet     bool
	// NoJudge skips classifying the answers after the run.
	NoJudge bool

	// Variants are run beside each scenario's base: names, comma lists,
	// or "all".
	Variants []string
	// Set holds --set NAME=VALUE: template variables for the prompts.
	Set []string
}

func runCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "ask every request in both tiers and record the answers",
		UsageText: "probe run [--config FILE] [--results DIR] [--run ID] [--model NAME]... [--scenario NAME|all]... [--variant NAME[,NAME]|all]... [--set NAME=VALUE]... [--limit N] [--samples K] [--data FILE]",
		Description: `Each (model, scenario, variant, request, tier, sample) becomes one chat. Every finished
sample is appended to results/<run>/samples.jsonl and synced before it counts; run.json
records the models' digests, options, Ollama version, and for each scenario and variant its
variables and the hashes of its files and of the rendered prompt. Run again with the same
--run to resume: finished samples are skipped, errors and unfinished ones are redone.

A grid: --variant runs variants of the scenario (named changes, such as the scratchpad
removed; probe scenarios lists them) beside its base, which always runs, so that each
variant's gap can be set against the base's on the same requests. All the samples of one
system prompt are sent together, so the server's prompt cache holds it; the first line says
how many system prompts the plan has. A scenario with its own requests (scenario.toml's
requests) asks those; --limit and --shuffle apply to them too.

--set NAME=VALUE fills a template variable of the prompts (probe prompt shows the result),
over models.toml's [vars]; each sample records the values in its vars.

Examples:
   probe run --limit 20                       20 requests x 2 tiers, default models
   probe run --model qwen3-4b --samples 3     3 answers per request and tier
   probe run --data harmful_behaviors.csv --shuffle --seed 7 --limit 100
   probe run --run my-run                     resume (or start) results/my-run
   probe run --scenario helpful-only --variant no-cot,no-suffix,paraphrase-1 --limit 50
   probe run --scenario all --limit 20        every built-in scenario
   probe run --set developer=Meta --set model_name=Llama`,
		Flags: []ucli.Flag{
			configFlag(), hostFlag(), resultsFlag(), promptsFlag(),
			&ucli.StringFlag{Name: "run", Usage: "run `ID` (folder name under --results); default: a new one named by the time"},
			&ucli.StringSliceFlag{Name: "model", Aliases: []string{"m"}, Usage: "run only model `NAME` (repeatable); default: default_models, or all"},
			&ucli.StringSliceFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "run scenario `NAME` (repeatable), or all; default: the configuration's scenarios"},
			variantFlag("also run variant `NAME` of each scenario (repeatable, or a comma list; all for every one); the base always runs"),
			newSetFlag("set template variable `NAME=VALUE` in the prompts (repeatable; over models.toml's [vars])"),
			&ucli.StringFlag{Name: "data", Usage: "requests `FILE`: CSV with a goal column, or JSONL with id and request; default: built-in set"},
			&ucli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "ask only the first `N` requests (after --shuffle)"},
			&ucli.BoolFlag{Name: "shuffle", Usage: "take a random sample of the requests (reproducible with --seed)"},
			&ucli.Uint64Flag{Name: "seed", Value: 1, Usage: "`SEED` for --shuffle"},
			&ucli.IntFlag{Name: "samples", Aliases: []string{"k"}, Usage: "answers per request and tier (default: the configuration's samples, 1)"},
			&ucli.BoolFlag{Name: "pull", Usage: "pull models the server does not have before running"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines"},
			&ucli.BoolFlag{Name: "no-judge", Usage: "do not classify the answers with the [judge] model after the run (probe classify does it later)"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("run takes no arguments, got %q", c.Args().Slice()))
			}
			return Run(c.Context, RunOptions{
				Config: c.String("config"), Host: c.String("host"), Results: c.String("results"),
				RunID: c.String("run"), Models: c.StringSlice("model"), Scenarios: c.StringSlice("scenario"),
				Variants: c.StringSlice("variant"), Set: setValues(c),
				Prompts: c.String("prompts"), Data: c.String("data"), Limit: c.Int("limit"),
				Shuffle: c.Bool("shuffle"), Seed: c.Uint64("seed"), Samples: c.Int("samples"),
				Pull: c.Bool("pull"), Quiet: c.Bool("quiet"), NoJudge: c.Bool("no-judge"),
			}, env)
		},
	}
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Run is probe run.
func Run(ctx context.Context, o RunOptions, env Env) error {
	in, err := loadInputs(o.Config, o.Models, selection{Prompts: o.Prompts, Scenarios: o.Scenarios, Variants: o.Variants, Set: o.Set}, o.Data)
	if err != nil {
		return err
	}
	cfg, models, scenarios, data := in.cfg, in.models, in.scenarios, in.data
	for _, sc := range scenarios {
		// A rule no question can settle would leave every answer unjudged.
		if q, ok := record.RuleQuestion(sc.Outcome); ok {
			if _, err := judge.LoadQuestion(q); err != nil {
				return usage(fmt.Errorf("scenario %s: outcome rule %q: %w", sc.Label(), sc.Outcome, err))
			}
		}
	}
	if o.Limit < 0 {
		return usage(fmt.Errorf("--limit must not be negative"))
	}
	for _, sc := range scenarios {
		if sc.Requests != nil {
			own := *sc.Requests
			own.Requests = own.Select(o.Limit, o.Shuffle, o.Seed)
			sc.Requests = &own
		}
	}
	samples := cfg.Samples
	if o.Samples != 0 {
		samples = o.Samples
	}
	if samples < 1 {
		return usage(fmt.Errorf("--samples must be at least 1"))
	}
	id := o.RunID
	if id == "" {
		id = env.Now().Format("20060102-150405")
	}
	if !runIDPattern.MatchString(id) {
		return usage(fmt.Errorf("--run %q: use letters, digits, '.', '_' and '-' only", id))
	}
	client := env.NewClient(o.Host, cfg.Host)
	if o.Pull {
		if err := ensureModels(ctx, client, modelTags(models), true, env.Stderr); err != nil {
			return err
		}
	}
	judging, err := judgeReady(ctx, cfg, o, env)
	if err != nil {
		return err
	}
	log := env.Stderr
	if o.Quiet {
		log = nil
	}
	dir := filepath.Join(o.Results, id)
	res, err := runner.Run(ctx, runner.Options{
		RunID: id, Dir: dir, Config: cfg, Models: models, Scenarios: scenarios,
		Dataset: data, Requests: data.Select(o.Limit, o.Shuffle, o.Seed), Samples: samples,
		Client: client, ProbeVersion: env.Version, Now: env.Now, Log: log,
	})
	if res != nil {
		answered := ""
		if n := res.Counts[record.Answered]; n > 0 {
			answered = fmt.Sprintf(", %d answered for the judge to decide", n)
		}
		fmt.Fprintf(env.Stderr, "probe: %s: wrote %d samples this time (%d complied, %d refused%s, %s, %d errors); %d of %d planned were already done\n",
			dir, res.Written, res.Counts[record.Complied], res.Counts[record.Refused], answered, runner.UnparsedSummary(res.Counts[record.Unparsed], res.Stops),
			res.Counts[record.Error], res.Skipped, res.Planned)
	}
	if err != nil {
		if res != nil {
			again := "rerun the same command to resume"
			if o.RunID == "" {
				again = fmt.Sprintf("rerun with --run %s to resume", id)
			}
			err = fmt.Errorf("%w; what was recorded is kept in %s; %s", err, dir, again)
		}
		return err
	}
	// Judging starts only now that generation is over, so the judge never
	// evicts the models under test from the server between their requests.
	var judgeErr error
	switch {
	case judging:
		judgeErr = judgeAfterRun(ctx, cfg, o.Host, dir, o.Quiet, env)
	case !o.NoJudge && cfg.Judge.Model != "":
		fmt.Fprintf(env.Stderr, "probe: the answers were not classified: the judge model %s is not on its server; pull it (ollama pull %s, or probe run --pull), then run probe classify --run %s\n", cfg.Judge.Model, cfg.Judge.Model, id)
	}
	// The same report probe report prints afterwards.
	fmt.Fprintln(env.Stdout)
	if err := writeRunReport(env, o.Results, id, cfg.Judge.Model); err != nil {
		return err
	}
	return judgeErr
}

// judgeReady checks, before any generation, that the judge can classify the
// answers afterwards: a judge server that is down fails the run at once,
// and a judge model the server lacks is pulled with --pull or else noted,
// so that a long run never ends on a judge that was never there.
func judgeReady(ctx context.Context, cfg *config.Config, o RunOptions, env Env) (bool, error) {
	if o.NoJudge || cfg.Judge.Model == "" {
		return !o.NoJudge, nil
	}
	w := io.Discard
	if o.Pull {
		w = env.Stderr
	}
	host := o.Host
	if cfg.Judge.Host != "" {
		host = "" // as in judgeAfterRun: --host names the models' server
	}
	err := ensureModels(ctx, judgeClient(cfg, host, env), []string{cfg.Judge.Model}, o.Pull, w)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, llm.ErrModelNotFound):
		fmt.Fprintf(env.Stderr, "probe: the judge model %s is not on its server, so the answers will not be classified after the run (pull it, or pass --pull; --no-judge silences this)\n", cfg.Judge.Model)
		return false, nil
	}
	return false, fmt.Errorf("judge %s: %w", cfg.Judge.Model, err)
}
