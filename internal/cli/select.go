package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// selection says which scenarios and variants a command renders, and with
// which variables.
type selection struct {
	// Prompts is --prompts: a folder of scenarios that override the
	// built-in ones.
	Prompts string
	// Scenarios are names, or "all" for every scenario there is.
	Scenarios []string
	// Variants are names, comma-separated lists of names, or "all"; the
	// base of each scenario is always included.
	Variants []string
	// Set holds --set's NAME=VALUE pairs, in order.
	Set []string
}

// all selects every scenario, or every variant.
const all = "all"

// setFlag collects --set NAME=VALUE, repeatable. Unlike a string slice flag
// it never splits at commas, which a value may hold.
type setFlag []string

func (f *setFlag) Set(s string) error { *f = append(*f, s); return nil }
func (f *setFlag) String() string     { return strings.Join(*f, " ") }

func newSetFlag(usage string) *ucli.GenericFlag {
	return &ucli.GenericFlag{Name: "set", Value: &setFlag{}, Usage: usage}
}

// setValues reads --set from the command's context.
func setValues(c *ucli.Context) []string {
	if f, ok := c.Generic("set").(*setFlag); ok {
		return *f
	}
	return nil
}

func variantFlag(usage string) *ucli.StringSliceFlag {
	return &ucli.StringSliceFlag{Name: "variant", Aliases: []string{"V"}, Usage: usage}
}

// parseSet reads NAME=VALUE pairs; a later pair for a name wins.
func parseSet(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usage(fmt.Errorf("--set %q: want NAME=VALUE, e.g. --set developer=Meta", p))
		}
		out[k] = v
	}
	return out, nil
}

// splitList reads names given repeatedly or as comma-separated lists.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// source is where the selection's scenarios are read from, with the judge
// questions an outcome rule may name.
func (sel selection) source() prompt.Source {
	return prompt.Source{Dir: sel.Prompts, Question: func(q string) error {
		_, err := judge.LoadQuestion(record.Kind(q))
		return err
	}}
}

// definitions reads the selected scenarios with their variants.
func (sel selection) definitions() ([]*prompt.Definition, error) {
	src := sel.source()
	names := splitList(sel.Scenarios)
	if slices.Contains(names, all) {
		var err error
		if names, err = src.Names(); err != nil {
			return nil, fmt.Errorf("list scenarios: %w", err)
		}
	}
	var out []*prompt.Definition
	for _, n := range names {
		d, err := src.Definition(n)
		if err != nil {
			return nil, usage(err)
		}
		out = append(out, d)
	}
	return out, nil
}

// variables merges models.toml's [vars] and --set, later winning, and
// checks every name against the scenarios: a --set name that no selected
// scenario has is a usage error listing the ones they have; a [vars] name
// that no scenario at all has is a mistake in models.toml (one that only
// other scenarios have is left for them).
func (sel selection) variables(cfg *config.Config, defs []*prompt.Definition) (map[string]string, error) {
	set, err := parseSet(sel.Set)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, d := range defs {
		for _, k := range d.VarNames() {
			known[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !known[k] {
			return nil, usage(fmt.Errorf("--set %s: no selected scenario has a variable %q (known: %s)", k, k, listOrNone(slices.Sorted(maps.Keys(known)))))
		}
	}
	out := map[string]string{}
	if cfg != nil {
		for _, k := range slices.Sorted(maps.Keys(cfg.Vars)) {
			if !known[k] && !sel.anyScenarioHas(k) {
				return nil, &config.Error{File: cfg.File, Line: cfg.Line("vars."+k, "vars"), Msg: fmt.Sprintf("[vars] %s: no scenario has a variable %q (the selected ones have: %s)", k, k, listOrNone(slices.Sorted(maps.Keys(known))))}
			}
			out[k] = cfg.Vars[k]
		}
	}
	maps.Copy(out, set)
	return out, nil
}

// anyScenarioHas looks through every scenario there is for a variable.
// Scenarios that do not load are skipped: they are not this run's.
func (sel selection) anyScenarioHas(name string) bool {
	src := sel.source()
	names, err := src.Names()
	if err != nil {
		return false
	}
	for _, n := range names {
		if d, err := src.Definition(n); err == nil && slices.Contains(d.VarNames(), name) {
			return true
		}
	}
	return false
}

// bind makes the selected scenarios and variants ready to send: each
// scenario's base, then each selected variant, with the variables that
// scenario has. A variant that sets a variable which models.toml's [vars]
// (cfg's) or --set sets as well is refused (see overrides).
func (sel selection) bind(cfg *config.Config, defs []*prompt.Definition, vars map[string]string) ([]*prompt.Scenario, error) {
	wanted := splitList(sel.Variants)
	var out []*prompt.Scenario
	for _, d := range defs {
		variants := wanted
		if slices.Contains(wanted, all) {
			variants = d.VariantNames()
		}
		for _, v := range variants {
			if !d.HasVariant(v) {
				return nil, usage(fmt.Errorf("--variant %s: scenario %s has no variant %q (have: %s; probe scenarios lists them)", v, d.Name, v, listOrNone(d.VariantNames())))
			}
		}
		own := map[string]string{}
		for k, v := range vars {
			if slices.Contains(d.VarNames(), k) {
				own[k] = v
			}
		}
		for _, v := range variants {
			if err := sel.overrides(cfg, d, v, own); err != nil {
				return nil, err
			}
		}
		for _, v := range append([]string{""}, variants...) {
			sc, err := d.Bind(v, own)
			if err != nil {
				// A value from --set can still break a prompt, e.g. one that
				// holds the cue's value; the definition itself rendered.
				return nil, usage(fmt.Errorf("scenario %s: %w", label(d.Name, v), err))
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// overrides refuses a variant that sets a variable the user sets too: the
// user's value wins, so the variant would send the base's value, and a
// variant that changes only that variable the base's very prompt, its
// ablation comparing the base with itself, without a word. The user drops
// one of the two.
func (sel selection) overrides(cfg *config.Config, d *prompt.Definition, variant string, vars map[string]string) error {
	set, err := parseSet(sel.Set)
	if err != nil {
		return err
	}
	own := d.VariantVars(variant)
	for _, k := range slices.Sorted(maps.Keys(own)) {
		if _, ok := vars[k]; !ok {
			continue
		}
		what := fmt.Sprintf("variant %s of scenario %s sets %s itself (to %q), and %%s would replace its value, so the variant would not change it", variant, d.Name, k, own[k])
		if _, ok := set[k]; ok {
			return usage(fmt.Errorf("--set %s: "+what+"; drop the --set or the variant", k, "--set"))
		}
		return &config.Error{File: cfg.File, Line: cfg.Line("vars."+k, "vars"),
			Msg: fmt.Sprintf("[vars] %s: "+what+"; drop %s from [vars] or the variant from the run", k, "[vars]", k)}
	}
	return nil
}

// scenarios reads, checks and binds the selection in one step.
func (sel selection) scenarios(cfg *config.Config) ([]*prompt.Scenario, error) {
	defs, err := sel.definitions()
	if err != nil {
		return nil, err
	}
	vars, err := sel.variables(cfg, defs)
	if err != nil {
		return nil, err
	}
	return sel.bind(cfg, defs, vars)
}

func label(scenario, variant string) string {
	if variant == "" {
		return scenario
	}
	return scenario + "+" + variant
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// optionalConfig reads the configuration for commands that work without
// one: a missing file is no error unless the user named it (explicit).
func optionalConfig(path string, explicit bool) (*config.Config, error) {
	cfg, err := config.Load(path)
	switch {
	case err == nil:
		return cfg, nil
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, nil
	}
	return nil, usage(err)
}
