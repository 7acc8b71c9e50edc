package cli

import (
	"context"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/bench"
	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
)

// BenchOptions are probe bench's flags.
type BenchOptions struct {
	Requests   int
	NumPredict int
	Quiet      bool
}

func benchCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "bench",
		Usage:     "measure the probe against a naive client and the server's own floor (for developers)",
		UsageText: "probe bench [--requests N] [--num-predict N]",
		Description: `Starts the real Ollama test server (the one the integration tests build with
scripts/ollama-server.sh, or PROBE_OLLAMA_BIN) with OLLAMA_MAX_LOADED_MODELS=1, as on a
laptop, creates two tiny random models whose BPE vocabulary makes the helpful-only prompt
about 7,500 tokens, and sends 2 models x 2 tiers x N requests: (a) through the probe's
run stage, (b) through a naive client that sends them one at a time in data-set order,
alternating models. The floor is one cold prompt reading per model and slot plus every
sample's own prompt reading and generation, as Ollama reports them. It prints a table,
the probe's heap (which must not grow with the number of samples), and ends with
vs-naive=R1 vs-floor=R2 overhead-ms=M: naive wall time / probe's, probe's / the floor,
and the probe's own time per request. Measure on a quiet machine: the load average is
printed. The naive client takes about 10 s a request on 2 cores.`,
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "requests", Aliases: []string{"n"}, Value: 10, Usage: "`N` requests per model and tier (at least 1)"},
			&ucli.IntFlag{Name: "num-predict", Value: 16, Usage: "bound each answer to `N` tokens"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no lines on what the benchmark is doing"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("bench takes no arguments, got %q", c.Args().Slice()))
			}
			return Bench(c.Context, BenchOptions{Requests: c.Int("requests"), NumPredict: c.Int("num-predict"), Quiet: c.Bool("quiet")}, env)
		},
	}
}

// Bench is probe bench.
func Bench(ctx context.Context, o BenchOptions, env Env) error {
	set, err := dataset.Builtin()
	if err != nil {
		return err
	}
	if o.Requests < 1 || o.Requests > len(set.Requests) {
		return usage(fmt.Errorf("--requests must be from 1 to %d", len(set.Requests)))
	}
	if o.NumPredict < 1 {
		return usage(fmt.Errorf("--num-predict must be at least 1"))
	}
	show := env.display(o.Quiet)
	defer show.Close()
	bin, err := ollamatest.FindBinary(func(msg string) { fmt.Fprintln(show, msg) })
	if err != nil {
		return err
	}
	sc, err := prompt.Source{}.Load(config.DefaultScenario)
	if err != nil {
		return err
	}
	fmt.Fprintln(show, "bench: learning the tiny models' vocabulary from the prompt")
	merges, err := ollamatest.PromptMerges(ollamatest.DefaultMerges)
	if err != nil {
		return err
	}
	rep, err := bench.Bench(ctx, bench.Options{
		Bin: bin, Scenario: sc, Requests: set.Requests[:o.Requests], Merges: merges,
		NumCtx: 8192, NumPredict: o.NumPredict, Log: show,
	})
	if err != nil {
		return err
	}
	show.Close()
	return rep.Write(env.out())
}
