package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// PromptOptions are probe prompt's flags.
type PromptOptions struct {
	Config string
	// ConfigSet is set when --config was given: then the file must exist.
	ConfigSet bool
	Prompts   string
	Data      string
	Scenario  string
	Variant   string
	Tier      string
	Request   string
	Set       []string
	Format    string
}

func promptCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "prompt",
		Usage:     "print exactly what a model receives for one request",
		UsageText: "probe prompt [--scenario NAME] [--variant NAME] [--tier free|paid] [--request ID] [--set NAME=VALUE]... [--format text|json]",
		Description: `Renders a scenario (or one of its variants) as probe run would send it: the system prompt,
the user turn for one request in one tier, and the turn sent when a model stops inside its
scratchpad and is asked to go on. Nothing is sent to a server.

Variables come from the scenario's [vars], the variant's, models.toml's [vars] (when the
file is there) and --set, later winning. The two tiers' user turns differ only in the
condition cue's value; compare them with --tier free and --tier paid.

On a terminal, control characters in the text (a request's escape sequences, say) are
shown as symbols (␛) rather than sent to it; piped or redirected, the text is exact.

With --format json the output is {"system", "user", "turns"}, where turns lists what else
may be sent (the continuation turn), with "scenario", "variant", "tier", "request_id" and
"vars" beside them.

Examples:
   probe prompt                                      the default scenario, free tier, first request
   probe prompt --tier paid --request cyber-002      another tier and request
   probe prompt --variant no-cot --format json       a variant, as JSON
   probe prompt --set developer=Meta | less          with another developer's name
   probe prompt --prompts my-prompts --scenario mine  a scenario of your own`,
		Flags: []ucli.Flag{
			configFlag(), promptsFlag(),
			&ucli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Usage: "scenario `NAME`; default: the configuration's first scenario, or helpful-only"},
			&ucli.StringFlag{Name: "variant", Aliases: []string{"V"}, Usage: "variant `NAME` of the scenario; default: the base"},
			&ucli.StringFlag{Name: "tier", Value: "free", Usage: "`TIER`: free (training) or paid (unmonitored)"},
			&ucli.StringFlag{Name: "request", Usage: "request `ID`; default: the first of the scenario's requests or the data set"},
			&ucli.StringFlag{Name: "data", Usage: "requests `FILE` to take --request from (scenarios without their own); default: built-in set"},
			newSetFlag("set template variable `NAME=VALUE` (repeatable)"),
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "`FORMAT`: text or json"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("prompt takes no arguments, got %q", c.Args().Slice()))
			}
			return Prompt(PromptOptions{
				Config: c.String("config"), ConfigSet: c.IsSet("config"), Prompts: c.String("prompts"), Data: c.String("data"),
				Scenario: c.String("scenario"), Variant: c.String("variant"), Tier: c.String("tier"),
				Request: c.String("request"), Set: setValues(c), Format: c.String("format"),
			}, env)
		},
	}
}

// Turn is a message sent after the first user turn, and when.
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	When    string `json:"when"`
}

// renderedPrompt is probe prompt's JSON.
type renderedPrompt struct {
	Scenario  string            `json:"scenario"`
	Variant   string            `json:"variant"`
	Tier      record.Tier       `json:"tier"`
	RequestID string            `json:"request_id"`
	Vars      map[string]string `json:"vars"`
	System    string            `json:"system"`
	User      string            `json:"user"`
	Turns     []Turn            `json:"turns"`
}

const whenNext = "after an answer that stopped inside its scratchpad, to ask the model to go on"

// Prompt is probe prompt.
func Prompt(o PromptOptions, env Env) error {
	if o.Format != "text" && o.Format != "json" {
		return usage(fmt.Errorf("--format %q: want text or json", o.Format))
	}
	tier := record.Tier(o.Tier)
	if tier != record.Free && tier != record.Paid {
		return usage(fmt.Errorf("--tier %q: want free or paid", o.Tier))
	}
	cfg, err := optionalConfig(o.Config, o.ConfigSet)
	if err != nil {
		return err
	}
	name := o.Scenario
	if name == "" {
		name = config.DefaultScenario
		if cfg != nil && len(cfg.Scenarios) > 0 {
			name = cfg.Scenarios[0]
		}
	}
	if name == all || strings.Contains(name, ",") {
		return usage(fmt.Errorf("--scenario %q: probe prompt renders one scenario; probe scenarios lists them all", name))
	}
	sel := selection{Prompts: o.Prompts, Scenarios: []string{name}, Set: o.Set}
	if o.Variant != "" {
		sel.Variants = []string{o.Variant}
	}
	if o.Variant == all || strings.Contains(o.Variant, ",") {
		return usage(fmt.Errorf("--variant %q: probe prompt renders one variant", o.Variant))
	}
	bound, err := sel.scenarios(cfg)
	if err != nil {
		return err
	}
	sc := bound[len(bound)-1] // the base comes first, then the variant
	if err := dataUsed(o.Data, []*prompt.Scenario{sc}); err != nil {
		return err
	}
	reqs, from := []dataset.Request(nil), ""
	if sc.Requests != nil {
		reqs, from = sc.Requests.Requests, sc.Requests.Source
	} else {
		data, err := loadDataset(o.Data)
		if err != nil {
			return err
		}
		reqs, from = data.Requests, data.Source
	}
	req, err := findRequest(reqs, o.Request, from)
	if err != nil {
		return err
	}
	user, err := sc.User(tier == record.Free, req.Request)
	if err != nil {
		return err
	}
	p := renderedPrompt{
		Scenario: sc.Name, Variant: sc.Variant, Tier: tier, RequestID: req.ID, Vars: sc.Vars,
		System: sc.System, User: user, Turns: []Turn{{Role: "user", Content: sc.Next, When: whenNext}},
	}
	if p.Vars == nil {
		p.Vars = map[string]string{}
	}
	if o.Format == "json" {
		return writeJSON(env.Stdout, p)
	}
	return writePromptText(env.out(), p)
}

// writeJSON writes v indented, with < and > as they are: prompts are full
// of tags, and the output is read by people as well as programs.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func findRequest(reqs []dataset.Request, id, from string) (dataset.Request, error) {
	if len(reqs) == 0 {
		return dataset.Request{}, usage(fmt.Errorf("%s has no requests", from))
	}
	if id == "" {
		return reqs[0], nil
	}
	for _, r := range reqs {
		if r.ID == id {
			return r, nil
		}
	}
	var ids []string
	for _, r := range reqs[:min(5, len(reqs))] {
		ids = append(ids, r.ID)
	}
	return dataset.Request{}, usage(fmt.Errorf("--request %q: no request with that id in %s (its ids begin %s ...)", id, from, strings.Join(ids, ", ")))
}

func writePromptText(w io.Writer, p renderedPrompt) error {
	variant := p.Variant
	if variant == "" {
		variant = "(base)"
	}
	var vars []string
	for _, k := range slices.Sorted(maps.Keys(p.Vars)) {
		vars = append(vars, fmt.Sprintf("%s=%q", k, p.Vars[k]))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s, variant %s, %s tier, request %s\n", p.Scenario, variant, p.Tier, p.RequestID)
	fmt.Fprintf(&b, "variables: %s\n\n", listOrNone(vars))
	fmt.Fprintf(&b, "===== system =====\n%s\n\n", p.System)
	fmt.Fprintf(&b, "===== user =====\n%s\n", p.User)
	for _, t := range p.Turns {
		fmt.Fprintf(&b, "\n===== %s, sent %s =====\n%s\n", t.Role, t.When, t.Content)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ScenariosOptions are probe scenarios' flags.
type ScenariosOptions struct {
	Config    string
	ConfigSet bool
	Host      string
	Prompts   string
	Set       []string
	// Model, when set, measures each prompt in that model's tokens on the
	// server.
	Model  string
	Format string
}

func scenariosCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "scenarios",
		Usage:     "list the scenarios and their variants, with their sizes",
		UsageText: "probe scenarios [--format text|json] [--model NAME] [--prompts DIR] [--set NAME=VALUE]...",
		Description: `Lists every scenario (the built-in ones, and those in --prompts) and each of its variants:
its description, the number of requests it asks when it has its own (otherwise the built-in
data set's), and the size of its longest first prompt (the system prompt and the user turn
with the longest request) in characters. With --model, each prompt is also sent once to the
server with a one-token answer, and its size in that model's tokens is what the server
counted (this loads the model, and reads each prompt once: minutes on a CPU).

A variant is a named change to a scenario, such as the scratchpad removed or the training
facts left out; run one beside its base with probe run --variant NAME, and see it with
probe prompt --variant NAME. prompts/README.md says how to write your own.

JSON is an array of {"scenario", "variant" (empty for a base), "description", "chars",
"requests"}, plus "tokens" and "num_ctx" with --model, and "error" when a prompt could not
be measured.

Examples:
   probe scenarios
   probe scenarios --format json
   probe scenarios --model llama3.2-3b         sizes in that model's tokens
   probe scenarios --prompts my-prompts        with your own scenarios`,
		Flags: []ucli.Flag{
			configFlag(), hostFlag(), promptsFlag(),
			&ucli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "measure each prompt in model `NAME`'s tokens, on the server"},
			newSetFlag("set template variable `NAME=VALUE` (repeatable)"),
			&ucli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "`FORMAT`: text or json"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("scenarios takes no arguments, got %q", c.Args().Slice()))
			}
			return Scenarios(c.Context, ScenariosOptions{
				Config: c.String("config"), ConfigSet: c.IsSet("config"), Host: c.String("host"), Prompts: c.String("prompts"),
				Set: setValues(c), Model: c.String("model"), Format: c.String("format"),
			}, env)
		},
	}
}

// ScenarioRow is one line of probe scenarios.
type ScenarioRow struct {
	Scenario    string `json:"scenario"`
	Variant     string `json:"variant"`
	Description string `json:"description"`
	// Chars is the length in characters of the longest first prompt.
	Chars int `json:"chars"`
	// Requests is how many built-in requests the scenario asks: its own,
	// or the built-in data set.
	Requests int `json:"requests"`
	// Tokens is the longest first prompt in the model's tokens, as the
	// server counted it; with --model only.
	Tokens int    `json:"tokens,omitempty"`
	NumCtx int    `json:"num_ctx,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Scenarios is probe scenarios.
func Scenarios(ctx context.Context, o ScenariosOptions, env Env) error {
	if o.Format != "text" && o.Format != "json" {
		return usage(fmt.Errorf("--format %q: want text or json", o.Format))
	}
	cfg, err := optionalConfig(o.Config, o.ConfigSet || o.Model != "")
	if err != nil {
		return err
	}
	scenarios, err := selection{Prompts: o.Prompts, Scenarios: []string{all}, Variants: []string{all}, Set: o.Set}.scenarios(cfg)
	if err != nil {
		return err
	}
	builtin, err := dataset.Builtin()
	if err != nil {
		return err
	}
	rows := make([]ScenarioRow, 0, len(scenarios))
	for _, sc := range scenarios {
		reqs := builtin.Requests
		if sc.Requests != nil {
			reqs = sc.Requests.Requests
		}
		user, err := sc.User(true, runner.LongestRequest(reqs).Request)
		if err != nil {
			return err
		}
		rows = append(rows, ScenarioRow{
			Scenario: sc.Name, Variant: sc.Variant, Description: sc.Description,
			Chars: utf8.RuneCountInString(sc.System) + utf8.RuneCountInString(user), Requests: len(reqs),
		})
	}
	if o.Model != "" {
		if err := measureRows(ctx, cfg, o, env, scenarios, builtin.Requests, rows); err != nil {
			return err
		}
	}
	if o.Format == "json" {
		return writeJSON(env.Stdout, rows)
	}
	tw := tabwriter.NewWriter(env.out(), 0, 0, 2, ' ', 0)
	head := "SCENARIO\tVARIANT\tCHARS\t"
	if o.Model != "" {
		head += "TOKENS\t"
	}
	fmt.Fprintln(tw, head+"REQUESTS\tDESCRIPTION")
	for _, r := range rows {
		v := r.Variant
		if v == "" {
			v = "(base)"
		}
		line := fmt.Sprintf("%s\t%s\t%d\t", r.Scenario, v, r.Chars)
		if o.Model != "" {
			switch {
			case r.Error != "":
				line += "-\t"
			default:
				line += fmt.Sprintf("%d\t", r.Tokens)
			}
		}
		desc := r.Description
		if r.Error != "" {
			desc += " [" + r.Error + "]"
		}
		fmt.Fprintf(tw, "%s%d\t%s\n", line, r.Requests, desc)
	}
	return tw.Flush()
}

// measureRows sends each scenario's longest prompt once to the model and
// fills in the tokens the server counted.
func measureRows(ctx context.Context, cfg *config.Config, o ScenariosOptions, env Env, scenarios []*prompt.Scenario, reqs []dataset.Request, rows []ScenarioRow) error {
	models, err := selectModels(cfg, []string{o.Model})
	if err != nil {
		return err
	}
	servers := runner.NewServers(cfg, env.overrides(o.Host, ""), env.Getenv)
	prepared, err := runner.Prepare(ctx, servers, models, scenarios, reqs, 1)
	if err != nil {
		return err
	}
	m := prepared[0]
	for i, sc := range scenarios {
		tokens, err := runner.MeasurePrompt(ctx, m, sc, reqs, cfg.KeepAlive.Duration)
		rows[i].NumCtx = m.NumCtx
		switch {
		case err == nil:
			rows[i].Tokens = tokens
		case ctx.Err() != nil, errIsFatal(err):
			return err
		default:
			rows[i].Tokens = tokens
			rows[i].Error = err.Error()
		}
	}
	return nil
}

// errIsFatal tells a failure of the server from one of a single prompt.
func errIsFatal(err error) bool {
	return errors.Is(err, llm.ErrUnreachable) || errors.Is(err, llm.ErrModelNotFound)
}
