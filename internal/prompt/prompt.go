package prompt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/prompts"
)

// Scenario is a scenario, or one of its variants, with its variables
// bound: everything a model receives but the request and the tier.
type Scenario struct {
	Name string
	// Variant is the variant's name; empty for the scenario as it is.
	Variant string
	// Description is the variant's, or the scenario's for the base.
	Description string
	// System is the system prompt, sent unchanged in both tiers.
	System string
	// Next is the user turn that asks a model to go on when it stopped
	// inside its scratchpad.
	Next string
	// Vars are the variables' values the prompt was rendered with.
	Vars map[string]string
	Cue  Cue
	// Outcome says how a sample's outcome is decided: "tags", or
	// "judge:QUESTION"; the variant's own rule when it sets one.
	Outcome string
	// Breakdown is "category" when the report should give each group's
	// rates per request category as well.
	Breakdown string
	// Requests are the scenario's own requests; nil means it asks the
	// run's data set.
	Requests *dataset.Set
	// Source is "embedded" or the folder the scenario came from.
	Source string
	// Files maps each file the prompt uses, scenario.toml included, to its
	// SHA-256.
	Files map[string]string
	// SHA256 hashes the files together.
	SHA256 string
	// SystemSHA256 is the SHA-256 of the rendered system prompt.
	SystemSHA256 string
	// PromptSHA256 hashes everything the scenario sends or decides by,
	// rendered: the system prompt, both tiers' user turns (with a stand-in
	// request), the continuation turn and the outcome rule. A resumed run
	// refuses to go on when it changed.
	PromptSHA256 string

	user  *template.Template
	parts map[string]string
}

// Label names the scenario and variant in messages: "helpful-only" or
// "helpful-only+no-cot".
func (s *Scenario) Label() string {
	if s.Variant == "" {
		return s.Name
	}
	return s.Name + "+" + s.Variant
}

// User renders the user turn for one request in one tier.
func (s *Scenario) User(freeTier bool, request string) (string, error) {
	data := make(map[string]any, len(s.Vars)+len(s.parts)+4)
	for k, v := range s.Vars {
		data[k] = v
	}
	for k, v := range s.parts {
		data[k] = v
	}
	data["cue"] = s.Cue.Render(freeTier)
	data["request"] = request
	// The names templates of earlier versions use.
	data["FreeTier"] = freeTier
	data["Request"] = request
	var b bytes.Buffer
	if err := s.user.Execute(&b, data); err != nil {
		return "", fmt.Errorf("scenario %s: render user turn: %w", s.Label(), err)
	}
	return trimEnd(b.String()), nil
}

// trimEnd drops a rendered file's final line breaks, which editors add and
// nobody means to send.
func trimEnd(s string) string { return strings.TrimRight(s, "\r\n") }

// ErrUnknownVariant is returned for a variant a scenario does not declare.
var ErrUnknownVariant = errors.New("unknown variant")

// ErrUnknownVar is returned for a variable a scenario does not have.
var ErrUnknownVar = errors.New("unknown variable")

// Bind renders the scenario's base (variant "") or one of its variants
// with its variables: the scenario's [vars], then the variant's, then
// vars, each later one winning. Every key of vars must be a variable of the
// scenario.
func (d *Definition) Bind(variant string, vars map[string]string) (*Scenario, error) {
	l, desc := d.base, d.Description
	if variant != "" {
		var ok bool
		if l, ok = d.variants[variant]; !ok {
			return nil, fmt.Errorf("%w %q of scenario %s (have: %s)", ErrUnknownVariant, variant, d.Name, orNone(d.VariantNames()))
		}
		for _, v := range d.Variants {
			if v.Name == variant {
				desc = v.Description
			}
		}
	}
	values := maps.Clone(l.vars)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if _, ok := values[k]; !ok {
			return nil, fmt.Errorf("%w %q: scenario %s has %s", ErrUnknownVar, k, d.Name, orNone(slices.Sorted(maps.Keys(values))))
		}
		values[k] = vars[k]
	}
	var sections []string
	for _, p := range l.sections {
		text, err := render(p, values)
		if err != nil {
			return nil, err
		}
		// A section that renders empty (a template's {{if}}) is left out
		// rather than leaving a gap of blank lines.
		if text != "" {
			sections = append(sections, text)
		}
	}
	parts := map[string]string{}
	for name, p := range l.parts {
		text, err := render(p, values)
		if err != nil {
			return nil, err
		}
		parts[name] = text
	}
	s := &Scenario{
		Name: d.Name, Variant: variant, Description: desc,
		System: strings.Join(sections, "\n\n"), Next: parts["next"], Vars: values, Cue: l.cue,
		Outcome: l.outcome, Breakdown: d.Breakdown, Requests: d.Requests, Source: d.Source,
		Files: maps.Clone(d.files), user: l.user.tmpl, parts: parts,
	}
	if s.Next == "" {
		return nil, errors.New("the next part renders empty: a model that stopped inside its scratchpad would be sent an empty turn")
	}
	maps.Copy(s.Files, l.files())
	if err := s.checkTiers(); err != nil {
		return nil, err
	}
	s.hash()
	return s, nil
}

func render(p piece, vars map[string]string) (string, error) {
	if p.tmpl == nil {
		return "", nil
	}
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, vars); err != nil {
		return "", err
	}
	return trimEnd(b.String()), nil
}

// stand-in request for checks and hashes.
const probeRequest = "PROBE-REQUEST"

// checkTiers holds the experiment's central promise: both tiers send the
// same bytes except the cue's value, used once.
func (s *Scenario) checkTiers() error {
	free, err := s.User(true, probeRequest)
	if err != nil {
		return err
	}
	paid, err := s.User(false, probeRequest)
	if err != nil {
		return err
	}
	if !strings.Contains(free, probeRequest) {
		return errors.New("the user template never uses {{.request}}")
	}
	if _, ok := cueAt(free, paid, s.Cue); !ok {
		return fmt.Errorf("the tiers' user turns must differ only in the cue's value (%s / %s), used once: use {{.cue}} once (or {{.FreeTier}} once with the default cue true/false)", s.Cue.Free, s.Cue.Paid)
	}
	return nil
}

// cueAt finds where free and paid differ when they are the same text with
// the cue's free value in one and its paid value in the other, at one
// place: free = a + Free + b and paid = a + Paid + b. It returns len(a).
func cueAt(free, paid string, c Cue) (int, bool) {
	rest := len(free) - len(c.Free)
	if rest < 0 || rest != len(paid)-len(c.Paid) {
		return 0, false
	}
	prefix := 0
	for prefix < len(free) && prefix < len(paid) && free[prefix] == paid[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(free) && suffix < len(paid) && free[len(free)-1-suffix] == paid[len(paid)-1-suffix] {
		suffix++
	}
	// a is at most the common prefix and b at most the common suffix.
	for k := max(0, rest-suffix); k <= min(prefix, rest); k++ {
		if free[k:k+len(c.Free)] == c.Free && paid[k:k+len(c.Paid)] == c.Paid {
			return k, true
		}
	}
	return 0, false
}

// hash fills in the hashes of the files and of the rendered prompt.
func (s *Scenario) hash() {
	all := sha256.New()
	keys := slices.Sorted(maps.Keys(s.Files))
	for _, k := range keys {
		fmt.Fprintf(all, "%s %s\n", k, s.Files[k])
	}
	s.SHA256 = hex.EncodeToString(all.Sum(nil))
	sum := sha256.Sum256([]byte(s.System))
	s.SystemSHA256 = hex.EncodeToString(sum[:])
	free, _ := s.User(true, probeRequest) // checkTiers rendered both already
	paid, _ := s.User(false, probeRequest)
	p := sha256.New()
	for _, part := range []string{"system", s.System, "free", free, "paid", paid, "next", s.Next, "outcome", s.Outcome} {
		fmt.Fprintf(p, "%d:%s\n", len(part), part)
	}
	s.PromptSHA256 = hex.EncodeToString(p.Sum(nil))
}

// Source finds scenarios: in dir first when it is set, then among the
// shipped ones.
type Source struct {
	Dir string
	// Question, when set, checks the judge question an outcome rule
	// "judge:QUESTION" names, so that a rule no question settles is an
	// error at its line of scenario.toml. The judge, a later stage, knows
	// its questions; nil checks only the rule's form.
	Question func(name string) error
}

// Names lists the scenarios the source offers, sorted.
func (src Source) Names() ([]string, error) {
	seen := map[string]bool{}
	add := func(fsys fs.FS) error {
		m, err := fs.Glob(fsys, "*/scenario.toml")
		if err != nil {
			return err
		}
		for _, p := range m {
			seen[path.Dir(p)] = true
		}
		return nil
	}
	if err := add(prompts.FS); err != nil {
		return nil, err
	}
	if src.Dir != "" {
		if err := add(os.DirFS(src.Dir)); err != nil {
			return nil, err
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// ErrUnknown is returned for a scenario no source has.
var ErrUnknown = errors.New("unknown scenario")

// find locates the folder of the scenario called name.
func (src Source) find(name string) (folder, error) {
	if name != "" && fs.ValidPath(name) && !strings.Contains(name, "/") {
		if src.Dir != "" {
			fsys := os.DirFS(src.Dir)
			if _, err := fs.Stat(fsys, path.Join(name, "scenario.toml")); err == nil {
				return folder{fsys: fsys, name: name, where: filepath.Join(src.Dir, name)}, nil
			}
		}
		if _, err := fs.Stat(prompts.FS, path.Join(name, "scenario.toml")); err == nil {
			return folder{fsys: prompts.FS, name: name, where: "prompts/" + name, embedded: true}, nil
		}
	}
	names, _ := src.Names()
	return folder{}, fmt.Errorf("%w %q (have: %s)", ErrUnknown, name, strings.Join(names, ", "))
}

// Definition reads the scenario called name with its variants.
func (src Source) Definition(name string) (*Definition, error) {
	return src.define(name, nil)
}

// Load reads the scenario called name and binds its base with its own
// variables.
func (src Source) Load(name string) (*Scenario, error) {
	d, err := src.Definition(name)
	if err != nil {
		return nil, err
	}
	return d.Bind("", nil)
}
