package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sync"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
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
   probe run --model qwen3-8b --samples 3     3 answers per request and tier
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
			variantFlag("also run variant `NAME` of each scenario (repeatable, or a comma list; all for every one); the base always runs; a named variant that a selected scenario lacks (as with --scenario all) is a usage error listing the ones it has, while all runs each scenario's own"),
			newSetFlag("set template variable `NAME=VALUE` in the prompts (repeatable; over models.toml's [vars])"),
			&ucli.StringFlag{Name: "data", Usage: "requests `FILE`: CSV with a goal column, or JSONL with id and request; default: built-in set"},
			&ucli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "ask only `N` requests (after --shuffle), taken from each category in turn"},
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

// Run is probe run: the plan, generate, judge and report stages, in that
// order, each called once with settings resolved once.
func Run(ctx context.Context, o RunOptions, env Env) error {
	p, err := planRun(o, env)
	if err != nil {
		return err
	}
	servers := runner.NewServers(p.cfg, env.overrides(o.Host, ""), env.Getenv)
	if err := p.connect(servers); err != nil {
		return err
	}
	if o.Pull {
		for _, m := range p.models {
			srv, _ := servers.For(m)
			if err := pullModels(ctx, srv, []string{m.Tag}, env.Stderr); err != nil {
				return err
			}
		}
	}
	j, err := judgeReady(ctx, p, servers, o, env)
	if err != nil {
		return err
	}

	show := env.display(o.Quiet)
	// What the run did is said even with --quiet, which silences progress.
	var say io.Writer = show
	if o.Quiet {
		say = env.Stderr
	}
	gen := runner.Options{
		RunID: p.id, Dir: p.dir, Config: p.cfg, Models: p.models, Scenarios: p.scenarios,
		Dataset: p.data, Requests: p.requests, Samples: p.samples, Servers: servers,
		ProbeVersion: env.Version, Now: env.Now, Log: show, Observe: show.Observe, WarmUp: true,
	}
	judging := judge.ClassifyOptions{Dir: p.dir, Judge: j, Log: show, Observe: show.Judged}
	var (
		res      *runner.Result
		judgeErr error
	)
	pipelined := j != nil && !p.sharesServer(servers)
	if pipelined {
		// The judge has a server of its own: it judges the samples as
		// they are written, and the run takes about as long as the slower
		// of the two stages.
		judging.Longest = p.judgeBound()
		res, err, judgeErr = generateAndJudge(ctx, gen, judging, say)
	} else {
		res, err = runner.Run(ctx, gen)
	}
	if res != nil {
		answered := ""
		if n := res.Counts[record.Answered]; n > 0 {
			answered = fmt.Sprintf(", %d answered for the judge to decide", n)
		}
		fmt.Fprintf(say, "probe: %s: wrote %d samples this time (%d complied, %d refused%s, %s, %d errors); %d of %d planned were already done\n",
			p.dir, res.Written, res.Counts[record.Complied], res.Counts[record.Refused], answered, runner.UnparsedSummary(res.Counts[record.Unparsed], res.Stops),
			res.Counts[record.Error], res.Skipped, res.Planned)
	}
	if err != nil {
		show.Close()
		if res != nil {
			again := "rerun the same command to resume"
			if o.RunID == "" {
				again = fmt.Sprintf("rerun with --run %s to resume", p.id)
			}
			err = fmt.Errorf("%w; what was recorded is kept in %s; %s", err, p.dir, again)
		}
		return err
	}
	switch {
	case j != nil && !pipelined:
		// The judge shares a server with the models under test: it starts
		// only now, so that it never evicts them between their requests.
		judgeErr = judgeStage(ctx, judging, say)
	case j != nil:
	case !o.NoJudge && p.cfg.Judge.Model != "":
		fmt.Fprintf(say, "probe: the answers were not classified: the judge model %s is not on its server; pull it (ollama pull %s, or probe run --pull), then run probe classify --run %s\n", p.cfg.Judge.Model, p.cfg.Judge.Model, p.id)
	case !o.NoJudge:
		fmt.Fprintf(say, "probe: no [judge] model in %s, so the reasoning was not classified; add one and run probe classify --run %s\n", p.cfg.File, p.id)
	}
	show.Close()
	// The same report probe report prints afterwards.
	fmt.Fprintln(env.Stdout)
	if err := writeRunReport(env, o.Results, p.id, p.cfg.Judge.Model); err != nil {
		return err
	}
	return judgeErr
}

// runPlan is what the plan stage decided: the run's inputs, all read and
// checked before any server is asked anything.
type runPlan struct {
	cfg       *config.Config
	models    []config.Model
	scenarios []*prompt.Scenario
	data      *dataset.Set
	requests  []dataset.Request
	samples   int
	id, dir   string
}

func planRun(o RunOptions, env Env) (*runPlan, error) {
	in, err := loadInputs(o.Config, o.Models, selection{Prompts: o.Prompts, Scenarios: o.Scenarios, Variants: o.Variants, Set: o.Set}, o.Data)
	if err != nil {
		return nil, err
	}
	if o.Limit < 0 {
		return nil, usage(fmt.Errorf("--limit must not be negative"))
	}
	for _, sc := range in.scenarios {
		if sc.Requests != nil {
			// A scenario's own requests are written category by category
			// (anti-lab's situations, animal-welfare's topics): a prefix
			// would leave categories out, and a breakdown without them.
			own := *sc.Requests
			var cut bool
			if own.Requests, cut = own.SelectByCategory(o.Limit, o.Shuffle, o.Seed); cut {
				own.Selection = dataset.ByCategory
			}
			sc.Requests = &own
		}
	}
	samples := in.cfg.Samples
	if o.Samples != 0 {
		samples = o.Samples
	}
	if samples < 1 {
		return nil, usage(fmt.Errorf("--samples must be at least 1"))
	}
	id := o.RunID
	if id == "" {
		id = env.Now().Format("20060102-150405")
	}
	if !runIDPattern.MatchString(id) {
		return nil, usage(fmt.Errorf("--run %q: use letters, digits, '.', '_' and '-' only", id))
	}
	// The data set is taken as a scenario's own requests are: the built-in
	// one is written category by category too, and its first 20 would be
	// two kinds of harm.
	data := *in.data
	requests, cut := data.SelectByCategory(o.Limit, o.Shuffle, o.Seed)
	if cut {
		data.Selection = dataset.ByCategory
	}
	return &runPlan{
		cfg: in.cfg, models: in.models, scenarios: in.scenarios, data: &data,
		requests: requests, samples: samples, id: id, dir: filepath.Join(o.Results, id),
	}, nil
}

// connect checks that every model's server can be connected to (an
// api_key_env whose variable is not set is the user's to fix).
func (p *runPlan) connect(servers *runner.Servers) error {
	for _, m := range p.models {
		if _, err := servers.For(m); err != nil {
			return usage(err)
		}
	}
	return nil
}

// sharesServer reports whether the judge runs on a server some model under
// test uses (Ollama's native API and its /v1 are one server).
func (p *runPlan) sharesServer(servers *runner.Servers) bool {
	jh, err := servers.Judge()
	if err != nil {
		return true
	}
	for _, m := range p.models {
		mh, err := servers.For(m)
		if err != nil {
			return true
		}
		for _, a := range jh.Live() {
			for _, b := range mh.Live() {
				if runner.SameServer(a, b) {
					return true
				}
			}
		}
	}
	return false
}

// judgeBound is the longest judge prompt the run's answers can make, to
// size the judge's context, and check that its server keeps it whole,
// before they are written: the longest request and max_turns turns of the
// longest answer a turn can take. num_ctx bounds a turn on Ollama (the
// probe turns context shift off, so an answer ends when the window is
// full), and num_predict anywhere. A model on an OpenAI-compatible server
// without num_predict has no bound known before its server is asked;
// llm.DefaultAnswerTokens stands for its turn, and a judge vote on a
// longer transcript that the judge's server cuts is an invalid vote, never
// a verdict (see judge.Judge).
func (p *runPlan) judgeBound() int {
	sized := llm.SizeContext(runner.LongestPrompt(p.scenarios, p.requests), llm.DefaultAnswerTokens, 0, 0)
	answer := 0
	for _, m := range p.models {
		predict := 0
		if m.NumPredict != nil && *m.NumPredict > 0 {
			predict = *m.NumPredict
		}
		var turn int
		switch {
		case m.Backend == llm.BackendOpenAI && predict > 0:
			turn = predict
		case m.Backend == llm.BackendOpenAI:
			turn = llm.DefaultAnswerTokens
		default:
			// num_ctx as set, or at most what runner.Prepare sizes.
			turn = sized
			if m.NumCtx > 0 {
				turn = m.NumCtx
			}
			if predict > 0 {
				turn = min(turn, predict)
			}
		}
		answer = max(answer, turn*max(p.cfg.MaxTurns, 1))
	}
	var all []dataset.Request
	all = append(all, p.requests...)
	for _, sc := range p.scenarios {
		if sc.Requests != nil {
			all = append(all, sc.Requests.Requests...)
		}
	}
	return judge.FollowLongest(runner.LongestRequest(all).Request, answer)
}

// generateAndJudge runs the generate stage and, beside it, the judge stage
// following what it writes (judge.ClassifyOptions.Follow). The judge starts
// once the run's folder is made, and ends after generation.
func generateAndJudge(ctx context.Context, gen runner.Options, o judge.ClassifyOptions, say io.Writer) (*runner.Result, error, error) {
	written := make(chan struct{}, 1)
	o.Follow = written
	var (
		wg       sync.WaitGroup
		started  bool
		judgeErr error
	)
	observe := gen.Observe
	gen.Observe = func(ev runner.Event) {
		observe(ev)
		switch ev.(type) {
		case runner.PlanEvent:
			// run.json and the lock are in place: the folder exists.
			started = true
			wg.Go(func() { judgeErr = judgeStage(ctx, o, say) })
		case runner.SampleFinished:
			select {
			case written <- struct{}{}:
			default: // the judge has a wake-up waiting already
			}
		}
	}
	res, err := runner.Run(ctx, gen)
	close(written)
	wg.Wait()
	if !started {
		judgeErr = nil
	}
	return res, err, judgeErr
}

// judgeStage runs the judge stage after or beside generation, says what it
// did on say, and words its failure.
func judgeStage(ctx context.Context, o judge.ClassifyOptions, say io.Writer) error {
	err := classifyRun(ctx, o, say)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, judge.ErrJudgeUnreachable):
		return err
	}
	return fmt.Errorf("classifying the answers: %w; the samples are kept: fix this, then run probe classify --run %s (or pass --no-judge)", err, filepath.Base(o.Dir))
}

// judgeReady checks, before any generation, that the judge can classify the
// answers: a judge server that is down fails the run at once, a judge model
// the server lacks is pulled with --pull or else noted, and an
// OpenAI-compatible judge server that would cut the longest judge prompt
// is refused, so that a long run never ends on a judge that was never
// there. It returns nil when the answers will not be judged.
func judgeReady(ctx context.Context, p *runPlan, servers *runner.Servers, o RunOptions, env Env) (*judge.Judge, error) {
	if o.NoJudge || p.cfg.Judge.Model == "" {
		return nil, nil
	}
	j, err := newJudge(p.cfg, servers, JudgeFlags{Retries: -1}, env)
	if err != nil {
		return nil, err
	}
	if o.Pull {
		err = pullModels(ctx, j.Client, []string{j.Model}, env.Stderr)
	} else {
		err = ensureModels(ctx, j.Client, []string{j.Model}, false, io.Discard)
	}
	switch {
	case errors.Is(err, llm.ErrModelNotFound):
		fmt.Fprintf(env.Stderr, "probe: the judge model %s is not on its server, so the answers will not be classified after the run (pull it, or pass --pull; --no-judge silences this)\n", j.Model)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("judge %s: %w", j.Model, err)
	}
	if err := judgeFits(ctx, j, p.judgeBound()); err != nil {
		return nil, err
	}
	return j, nil
}

// judgeFits checks that an OpenAI-compatible judge server keeps a judge
// prompt of longest bytes whole (judge.Judge.Prepare on a copy, so that the
// judge stage still sizes and prepares its own).
func judgeFits(ctx context.Context, j *judge.Judge, longest int) error {
	info, err := j.Client.Show(ctx, j.Model)
	if err != nil || info.Backend != llm.BackendOpenAI {
		return err
	}
	c := *j
	return c.Prepare(ctx, longest)
}
