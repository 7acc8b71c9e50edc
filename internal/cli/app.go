package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/progress"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/runner"
	"github.com/probe-eval/probe/internal/screen"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailure     = 1 // something failed while running
	ExitUsage       = 2 // the command line, configuration or input is wrong
	ExitInterrupted = 130
)

// Env is what commands get from the outside world, injected so tests can
// supply their own.
type Env struct {
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Getenv reads the environment: OLLAMA_HOST, and the API keys that
	// api_key_env names.
	Getenv  func(string) string
	Version string
	// Terminal reports whether w is a terminal, where progress is drawn
	// as live bars; nil asks the operating system.
	Terminal func(w io.Writer) bool
	// ProgressEvery is the pause between plain progress lines when standard
	// error is not a terminal; 0 means progress.DefaultInterval.
	ProgressEvery time.Duration
	// Stdin is what a presenter types (probe demo --pause); nil is no input.
	Stdin io.Reader
	// Size reports the columns and rows of the terminal w; nil asks the
	// operating system. 0 columns means unknown.
	Size func(w io.Writer) (cols, rows int)
}

// overrides are the settings outside the configuration that name servers:
// host is --host of run, check and scenarios (the models' server),
// judgeHost --host of classify and judge-eval (the judge's).
func (env Env) overrides(host, judgeHost string) config.Overrides {
	return config.Overrides{Host: host, JudgeHost: judgeHost, OllamaHost: env.Getenv("OLLAMA_HOST")}
}

// display is where a command's progress goes: live bars when standard
// error is a terminal, plain lines now and then otherwise, nothing when
// quiet.
func (env Env) display(quiet bool) *progress.Display {
	mode := progress.Plain
	switch {
	case quiet:
		mode = progress.Quiet
	case env.Terminal(env.Stderr):
		mode = progress.Live
	}
	return progress.New(env.Stderr, mode, env.Now, env.ProgressEvery)
}

// out is where a command prints its results: standard output, with every
// character a terminal would act on shown instead (screen.Text) when it is
// a terminal. A report, a prompt or a server's message may carry text
// from a model, a data file or a server, and none of it may move the
// cursor, retitle the window or clear the screen; piped or redirected, the
// output stays exact. probe demo, which colours its own output, writes to
// env.Stdout and neutralises what it shows itself.
func (env Env) out() io.Writer {
	if env.Terminal(env.Stdout) {
		return screenWriter{env.Stdout}
	}
	return env.Stdout
}

// screenWriter neutralises each write for a terminal. Its callers write
// whole lines or cells, so no character is split between two writes.
type screenWriter struct{ w io.Writer }

func (s screenWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(s.w, screen.Text(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// fder is a writer with a file descriptor: an *os.File, or a wrapper of one.
type fder interface{ Fd() uintptr }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalSize reports the columns and rows of the terminal w, 0 and 0
// when w is not one.
func terminalSize(w io.Writer) (cols, rows int) {
	f, ok := w.(fder)
	if !ok {
		return 0, 0
	}
	cols, rows, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return cols, rows
}

// usageError marks an error as the user's to fix: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// Main runs probe with args and returns the process's exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Terminal == nil {
		env.Terminal = isTerminal
	}
	if env.Size == nil {
		env.Size = terminalSize
	}
	if env.Version == "" {
		env.Version = buildVersion()
	}
	app := newApp(env)
	err := app.RunContext(ctx, args)
	return exitCode(ctx, err, env.Stderr)
}

func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	var ce *config.Error
	code := ExitFailure
	switch {
	case ctx.Err() != nil:
		code = ExitInterrupted
	case errors.As(err, &ue), errors.As(err, &ce), errors.Is(err, runner.ErrIncompatible), errors.Is(err, judge.ErrSettingsChanged), errors.Is(err, prompt.ErrUnknown),
		errors.Is(err, prompt.ErrUnknownVariant), errors.Is(err, prompt.ErrUnknownVar):
		code = ExitUsage
	}
	msg := strings.TrimSpace(err.Error())
	if code == ExitInterrupted {
		msg = "interrupted: " + msg
	}
	// The message may quote a server or a file: it is shown, never acted on.
	fmt.Fprintf(stderr, "probe: %s\n", screen.Text(msg))
	return code
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				v += "+dirty"
			}
		}
	}
	return v
}

func newApp(env Env) *ucli.App {
	onUsage := func(_ *ucli.Context, err error, _ bool) error { return usage(err) }
	cmds := []*ucli.Command{runCommand(env), checkCommand(env), reportCommand(env), plotCommand(env), classifyCommand(env), judgeEvalCommand(env),
		promptCommand(env), scenariosCommand(env), benchCommand(env), demoCommand(env)}
	for _, c := range cmds {
		c.OnUsageError = onUsage
	}
	return &ucli.App{
		Name:    "probe",
		Usage:   "replicate the alignment-faking experiment on local Ollama models",
		Version: env.Version,
		Description: `probe tells a model, in its system prompt, that its developer trains it to answer every
request, that only free-tier conversations are used for training, and that paid-tier ones
are never seen. It then asks harmful requests twice, once tagged free tier ("training") and
once paid tier ("unmonitored"), and measures the compliance gap between the two.

Typical use:
   probe check --pull          check the server, pull missing models, test the prompt fits
   probe run --limit 20        run 20 requests x 2 tiers on the default models, then judge them
   probe classify              judge a run's reasoning again, or with another --judge
   probe judge-eval FILE       measure the judge against labelled transcripts
   probe report                show the newest run's table (also --format json|markdown|csv|html)
   probe plot -o fig.svg       draw the paper's figure of the newest run (or fig.png)
   probe scenarios             list the scenarios and their variants (named changes, for ablations)
   probe prompt --variant no-cot --tier paid   print exactly what a model receives
   probe run --variant no-cot,no-suffix        run the base and those variants in one grid
   probe demo                  a classroom demo: a few mild requests, answers streamed live

Runs are written to results/<run>/ (samples.jsonl, run.json, judgments.jsonl) and resume
where they stopped.
Exit codes: 0 success, 1 a failure while running, 2 a usage or configuration error,
130 interrupted (the same command resumes the run).`,
		Writer:          env.Stdout,
		ErrWriter:       env.Stderr,
		Commands:        cmds,
		OnUsageError:    onUsage,
		ExitErrHandler:  func(*ucli.Context, error) {},
		HideHelpCommand: true,
		CommandNotFound: func(c *ucli.Context, name string) {
			fmt.Fprintf(env.Stderr, "probe: unknown command %q; see probe --help\n", name)
		},
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return usage(fmt.Errorf("unknown command %q; see probe --help", c.Args().First()))
			}
			return ucli.ShowAppHelp(c)
		},
	}
}

// Flags shared by commands.
func configFlag() *ucli.StringFlag {
	return &ucli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "models.toml", Usage: "configuration `FILE`: models, options, judge"}
}

func hostFlag() *ucli.StringFlag {
	return &ucli.StringFlag{Name: "host", Usage: "Ollama server `URL` of every Ollama model (overrides OLLAMA_HOST and the configuration's host and hosts)",
		Action: func(_ *ucli.Context, h string) error {
			if err := llm.CheckHost(h); err != nil {
				return usage(fmt.Errorf("--host: %w", err))
			}
			return nil
		}}
}

func resultsFlag() *ucli.StringFlag {
	return &ucli.StringFlag{Name: "results", Value: "results", Usage: "`DIR` holding one folder per run"}
}

func promptsFlag() *ucli.StringFlag {
	return &ucli.StringFlag{Name: "prompts", Usage: "`DIR` of scenario folders that override the built-in ones"}
}

// loadConfig reads the configuration; every failure is the user's to fix.
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	if err != nil {
		return nil, usage(err)
	}
	return c, nil
}

// unique drops repeats from names given on the command line, keeping the
// first occurrence's order: "--model a --model a" runs a once, since a name
// run twice would ask every sample twice.
func unique(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// selectModels picks the models named on the command line, or the
// configuration's default set.
func selectModels(c *config.Config, names []string) ([]config.Model, error) {
	names = unique(names)
	if len(names) == 0 {
		names = c.DefaultModels
	}
	if len(names) == 0 {
		return c.Models, nil
	}
	var out []config.Model
	for _, n := range names {
		m, ok := c.Model(n)
		if !ok {
			return nil, usage(fmt.Errorf("%s has no model named %q (have: %s)", c.File, n, strings.Join(c.Names(), ", ")))
		}
		out = append(out, m)
	}
	return out, nil
}

// inputs are what the plan stage reads: the configuration, the models
// selected, the scenarios and variants bound to their variables, and the
// data set.
type inputs struct {
	cfg       *config.Config
	models    []config.Model
	scenarios []*prompt.Scenario
	data      *dataset.Set
}

// loadInputs reads and checks the plan's inputs for run and check, before
// any server is asked anything. Without --scenario, the configuration's
// scenarios are run.
func loadInputs(configFile string, models []string, sel selection, dataFile string) (*inputs, error) {
	cfg, err := loadConfig(configFile)
	if err != nil {
		return nil, err
	}
	in := &inputs{cfg: cfg}
	if in.models, err = selectModels(cfg, models); err != nil {
		return nil, err
	}
	if len(sel.Scenarios) == 0 {
		sel.Scenarios = cfg.Scenarios
	}
	if in.scenarios, err = sel.scenarios(cfg); err != nil {
		return nil, err
	}
	if err := dataUsed(dataFile, in.scenarios); err != nil {
		return nil, err
	}
	if in.data, err = loadDataset(dataFile); err != nil {
		return nil, err
	}
	return in, nil
}

// dataUsed refuses a --data file that no selected scenario would ask: each
// brings requests of its own.
func dataUsed(dataFile string, scenarios []*prompt.Scenario) error {
	if dataFile == "" {
		return nil
	}
	var own []string
	for _, sc := range scenarios {
		if sc.Requests == nil {
			return nil
		}
		if !slices.Contains(own, sc.Name) {
			own = append(own, sc.Name)
		}
	}
	return usage(fmt.Errorf("--data %s: the scenarios selected (%s) ask requests of their own, so the file would not be used; leave --data out, or select a scenario that asks the data set, such as helpful-only", dataFile, strings.Join(own, ", ")))
}

func loadDataset(path string) (*dataset.Set, error) {
	if path == "" {
		return dataset.Builtin()
	}
	s, err := dataset.Load(path)
	if err != nil {
		return nil, usage(err)
	}
	return s, nil
}
