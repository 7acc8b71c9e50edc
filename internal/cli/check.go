package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/runner"
)

// CheckOptions are probe check's flags.
type CheckOptions struct {
	Config    string
	Host      string
	Models    []string
	Scenarios []string
	Variants  []string
	Set       []string
	Prompts   string
	Data      string
	Pull      bool
	NoFit     bool
}

func checkCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "check",
		Usage:     "check the server, the models, the judge and that the prompt fits",
		UsageText: "probe check [--config FILE] [--host URL] [--model NAME]... [--scenario NAME|all]... [--variant NAME|all]... [--set NAME=VALUE]... [--pull] [--no-fit]",
		Description: `Checks, in order: the configuration; that Ollama answers (and its version); that every
model and the judge are on the server (--pull fetches missing ones, with progress); and, by
sending the longest prompt once with a one-token answer, that it fits each model's num_ctx.
The last step loads each model, so it takes as long as a first request would.`,
		Flags: []ucli.Flag{
			configFlag(), hostFlag(), promptsFlag(),
			&ucli.StringSliceFlag{Name: "model", Aliases: []string{"m"}, Usage: "check only model `NAME` (repeatable)"},
			&ucli.StringSliceFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "check scenario `NAME` (repeatable), or all"},
			variantFlag("also check variant `NAME` of each scenario (repeatable, or a comma list; all for every one)"),
			newSetFlag("set template variable `NAME=VALUE` as probe run would (repeatable)"),
			&ucli.StringFlag{Name: "data", Usage: "requests `FILE`, to size the longest prompt"},
			&ucli.BoolFlag{Name: "pull", Usage: "pull missing models"},
			&ucli.BoolFlag{Name: "no-fit", Usage: "skip sending the prompt to measure it"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("check takes no arguments, got %q", c.Args().Slice()))
			}
			return Check(c.Context, CheckOptions{
				Config: c.String("config"), Host: c.String("host"), Models: c.StringSlice("model"),
				Scenarios: c.StringSlice("scenario"), Variants: c.StringSlice("variant"), Set: setValues(c),
				Prompts: c.String("prompts"), Data: c.String("data"),
				Pull: c.Bool("pull"), NoFit: c.Bool("no-fit"),
			}, env)
		},
	}
}

// ErrCheckFailed means at least one check failed; each was reported.
var ErrCheckFailed = errors.New("check failed")

// Check is probe check. Every problem is a FAIL line, and the checks go
// on where they can; the error returned only says that some failed.
func Check(ctx context.Context, o CheckOptions, env Env) error {
	w := env.out()
	in, err := loadInputs(o.Config, o.Models, selection{Prompts: o.Prompts, Scenarios: o.Scenarios, Variants: o.Variants, Set: o.Set}, o.Data)
	if err != nil {
		return err
	}
	cfg, models, scenarios, data := in.cfg, in.models, in.scenarios, in.data
	fmt.Fprintf(w, "ok    configuration %s: %d models, judge %s\n", cfg.File, len(cfg.Models), orNone(cfg.Judge.Model))
	servers := runner.NewServers(cfg, env.overrides(o.Host, ""), env.Getenv)
	failed := 0

	// Each server once: it answers, and has its models.
	type server struct {
		hosts *llm.Hosts
		tags  []string
		down  bool
	}
	var list []*server
	byHosts := map[*llm.Hosts]*server{}
	add := func(h *llm.Hosts, tag string) {
		s := byHosts[h]
		if s == nil {
			s = &server{hosts: h}
			byHosts[h] = s
			list = append(list, s)
		}
		s.tags = append(s.tags, tag)
	}
	for _, m := range models {
		h, err := servers.For(m)
		if err != nil {
			return usage(err)
		}
		add(h, m.Tag)
	}
	var judgeHosts *llm.Hosts
	if cfg.Judge.Model != "" {
		if judgeHosts, err = servers.Judge(); err != nil {
			return usage(err)
		}
		add(judgeHosts, cfg.Judge.Model)
	}
	for _, s := range list {
		version, err := s.hosts.Version(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(w, "FAIL  server %s: %v\n", s.hosts.Host(), err)
			s.down = true
			failed++
			continue
		}
		fmt.Fprintf(w, "ok    server %s: %s\n", s.hosts.Host(), serverWords(s.hosts, version))
		if err := ensureModels(ctx, s.hosts, s.tags, o.Pull, w); err != nil {
			if ctx.Err() != nil {
				return err
			}
			failed++
		}
	}
	if failed == 0 && !o.NoFit {
		reqs := data.Requests
		prepared, err := runner.Prepare(ctx, servers, models, scenarios, reqs, 1)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(w, "FAIL  %v\n", err)
			failed++
		}
		for _, m := range prepared {
			for _, sc := range scenarios {
				if err := checkFit(ctx, m, sc, reqs, cfg, w); err != nil {
					if ctx.Err() != nil {
						return err
					}
					failed++
				}
			}
		}
		if judgeHosts != nil && failed == 0 {
			if err := checkJudgeFits(ctx, cfg, servers, models, scenarios, reqs, env, w); err != nil {
				failed++
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d problem(s) above", ErrCheckFailed, failed)
	}
	fmt.Fprintln(w, "all checks passed")
	return nil
}

// serverWords says what a server is.
func serverWords(h *llm.Hosts, version string) string {
	what := "Ollama " + version
	if strings.HasSuffix(h.Host(), "/v1") && version == "" {
		what = "an OpenAI-compatible API"
	}
	if n := len(h.Live()); n > 1 {
		what += fmt.Sprintf(" on %d hosts", n)
	}
	return what
}

// checkJudgeFits checks that an OpenAI-compatible judge server keeps the
// longest judge prompt the models' answers can make, as probe run does
// before it starts.
func checkJudgeFits(ctx context.Context, cfg *config.Config, servers *runner.Servers, models []config.Model, scenarios []*prompt.Scenario, reqs []dataset.Request, env Env, w io.Writer) error {
	j, err := newJudge(cfg, servers, JudgeFlags{Retries: -1}, env)
	if err != nil {
		return err
	}
	p := &runPlan{cfg: cfg, models: models, scenarios: scenarios, requests: reqs}
	if err := judgeFits(ctx, j, p.judgeBound()); err != nil {
		fmt.Fprintf(w, "FAIL  judge %s: %v\n", j.Model, err)
		return err
	}
	return nil
}

func checkFit(ctx context.Context, m *runner.Model, sc *prompt.Scenario, reqs []dataset.Request, cfg *config.Config, w io.Writer) error {
	tokens, err := runner.MeasurePrompt(ctx, m, sc, reqs, cfg.KeepAlive.Duration)
	label := fmt.Sprintf("%s / %s", m.Name, sc.Label())
	switch {
	case err != nil:
		fmt.Fprintf(w, "FAIL  %s: %v\n", label, err)
		return err
	case m.NumCtx == 0:
		fmt.Fprintf(w, "ok    %s: longest prompt is %d tokens, and the server keeps it whole\n", label, tokens)
		return nil
	}
	fmt.Fprintf(w, "ok    %s: longest prompt is %d tokens, num_ctx %d leaves %d for the answer\n",
		label, tokens, m.NumCtx, m.NumCtx-tokens)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func modelTags(ms []config.Model) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Tag)
	}
	return out
}

// ensureModels checks that the server has each tag, pulling missing ones
// when pull is set. Each model is reported on w as an ok, pull or FAIL
// line, probe check's report; the error returned is the first failure,
// which the check only counts.
func ensureModels(ctx context.Context, c llm.Client, tags []string, pull bool, w io.Writer) error {
	return haveModels(ctx, c, tags, pull, w, w)
}

// pullModels is ensureModels for a command that stops on a failure: it
// shows on w what it finds and pulls, and returns the first failure without
// printing it, for the caller to say once.
func pullModels(ctx context.Context, c llm.Client, tags []string, w io.Writer) error {
	return haveModels(ctx, c, tags, true, w, io.Discard)
}

// haveModels does ensureModels' work, with the FAIL lines on fail.
func haveModels(ctx context.Context, c llm.Client, tags []string, pull bool, w, fail io.Writer) error {
	var first error
	seen := map[string]bool{}
	for _, tag := range tags {
		if seen[tag] {
			continue
		}
		seen[tag] = true
		info, err := c.Show(ctx, tag)
		if err == nil {
			fmt.Fprintf(w, "ok    model %s: %s %s %s, context %d\n", tag, info.Family, info.Parameters, info.Quantization, info.ContextLength)
			continue
		}
		if !errors.Is(err, llm.ErrModelNotFound) || !pull {
			fmt.Fprintf(fail, "FAIL  model %s: %v\n", tag, err)
			if errors.Is(err, llm.ErrUnreachable) {
				return err
			}
			if first == nil {
				first = err
			}
			continue
		}
		fmt.Fprintf(w, "pull  model %s\n", tag)
		if err := c.Pull(ctx, tag, pullProgress(w, tag)); err != nil {
			fmt.Fprintf(fail, "FAIL  pull %s: %v\n", tag, err)
			if first == nil {
				first = fmt.Errorf("pull %s: %w", tag, err)
			}
			continue
		}
		fmt.Fprintf(w, "ok    model %s: pulled\n", tag)
	}
	return first
}

// pullProgress prints a line when the pull's status changes and at every
// tenth of a layer, enough to see it move without flooding a log.
func pullProgress(w io.Writer, tag string) func(llm.Progress) {
	last, lastTenth := "", -1
	return func(p llm.Progress) {
		tenth := -1
		if p.Total > 0 {
			tenth = int(10 * p.Completed / p.Total)
		}
		if p.Status == last && tenth == lastTenth {
			return
		}
		last, lastTenth = p.Status, tenth
		if p.Total > 0 {
			fmt.Fprintf(w, "      %s: %s %3d%% of %s\n", tag, p.Status, 100*p.Completed/p.Total, bytesText(p.Total))
		} else {
			fmt.Fprintf(w, "      %s: %s\n", tag, p.Status)
		}
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}
