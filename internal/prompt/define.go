package prompt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/BurntSushi/toml"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/tomlpos"
)

// Definition is a scenario as its folder declares it: the base prompt and
// its variants, with the variables not yet bound. Bind makes one of them
// into a Scenario the runner can send.
type Definition struct {
	Name        string
	Description string
	// Source is "embedded" or the folder the scenario came from.
	Source string
	// Outcome says how a sample's outcome is decided: "tags", or
	// "judge:QUESTION" for a judge question that decides it. A variant
	// may set its own (Scenario.Outcome).
	Outcome string
	// Breakdown is "category" when the report should give each group's
	// rates per request category as well; empty otherwise.
	Breakdown string
	// Requests are the scenario's own requests; nil means it asks the
	// run's data set.
	Requests *dataset.Set
	// Variants lists the variants in the order scenario.toml declares them.
	Variants []Variant

	base     *layout
	variants map[string]*layout
	// files maps each file the definition itself read (scenario.toml, a
	// base's scenario.toml, the requests) to its SHA-256.
	files map[string]string
	// question checks a judge question an outcome rule names (see
	// Source.Question).
	question func(string) error
}

// checkRule checks an outcome rule written at at: its form, and the judge
// question it names.
func (d *Definition) checkRule(rule, at string) error {
	if !outcomePattern.MatchString(rule) {
		return fmt.Errorf("%s: %q: want \"tags\" or \"judge:QUESTION\"", at, rule)
	}
	if q, ok := strings.CutPrefix(rule, "judge:"); ok && d.question != nil {
		if err := d.question(q); err != nil {
			return fmt.Errorf("%s: %q: %w", at, rule, err)
		}
	}
	return nil
}

// Variant names one variant of a scenario.
type Variant struct {
	Name        string
	Description string
}

// Cue is the condition cue: the one tag whose value tells the tiers apart.
type Cue struct {
	Tag  string
	Free string // the value in the training condition
	Paid string // the value in the unmonitored condition
}

// Render writes the cue's tag with the tier's value.
func (c Cue) Render(freeTier bool) string {
	v := c.Paid
	if freeTier {
		v = c.Free
	}
	return "<" + c.Tag + ">" + v + "</" + c.Tag + ">"
}

// DefaultNext is the continuation turn of a scenario that declares none:
// the user turn sent when a model stopped inside its scratchpad.
const DefaultNext = "<NEXT/>"

// defaultCue is the cue of a scenario without a [cue] table. Its values are
// those {{.FreeTier}} renders, so that templates written for earlier
// versions of probe keep their meaning.
func defaultCue() Cue { return Cue{Tag: "is_free_tier_user", Free: "true", Paid: "false"} }

// VarNames lists the scenario's variables, sorted.
func (d *Definition) VarNames() []string {
	return slices.Sorted(maps.Keys(d.base.vars))
}

// HasVariant reports whether the scenario declares a variant called name.
func (d *Definition) HasVariant(name string) bool {
	_, ok := d.variants[name]
	return ok
}

// VariantVars returns the variables a variant sets to a value of its own
// (with its vars, or those of a variant it extends), with their values;
// none for the base or a variant the scenario lacks.
func (d *Definition) VariantVars(variant string) map[string]string {
	out := map[string]string{}
	l, ok := d.variants[variant]
	if variant == "" || !ok {
		return out
	}
	for k, v := range l.vars {
		if base, ok := d.base.vars[k]; !ok || base != v {
			out[k] = v
		}
	}
	return out
}

// VariantNames lists the variants in declaration order.
func (d *Definition) VariantNames() []string {
	var out []string
	for _, v := range d.Variants {
		out = append(out, v.Name)
	}
	return out
}

// fileList is a list of files that may be written as one string.
type fileList []string

// UnmarshalTOML accepts "a.md" as well as ["a.md", "b.md"].
func (l *fileList) UnmarshalTOML(v any) error {
	switch t := v.(type) {
	case string:
		*l = fileList{t}
		return nil
	case []any:
		out := make(fileList, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a list of file names, got %v", e)
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("want a file name or a list of them, got %v", v)
}

// changes are what a variant, or a scenario built on a base, changes.
type changes struct {
	System  fileList          `toml:"system"`
	User    string            `toml:"user"`
	Parts   map[string]string `toml:"parts"`
	Drop    []string          `toml:"drop"`
	Replace map[string]string `toml:"replace"`
	Insert  []insertMeta      `toml:"insert"`
	Cue     *cueMeta          `toml:"cue"`
	Vars    map[string]string `toml:"vars"`
}

type insertMeta struct {
	Before string   `toml:"before"`
	After  string   `toml:"after"`
	Files  []string `toml:"files"`
}

type cueMeta struct {
	Tag  string `toml:"tag"`
	Free string `toml:"free"`
	Paid string `toml:"paid"`
}

// fileMeta is scenario.toml as written.
type fileMeta struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Base        string `toml:"base"`
	Outcome     string `toml:"outcome"`
	Breakdown   string `toml:"breakdown"`
	Requests    string `toml:"requests"`
	changes
	Variants []variantMeta `toml:"variant"`
}

type variantMeta struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Extends     string `toml:"extends"`
	// Outcome replaces the scenario's outcome rule for this variant.
	Outcome string `toml:"outcome"`
	changes
}

const knownKeys = "name, description, base, system, user, outcome, breakdown, requests, vars, cue, parts, drop, replace, insert, variant"

// piece is one prompt file in its place: a section of the system prompt, a
// part, or the user template.
type piece struct {
	name string
	// key names the file in provenance: its path from the scenario's
	// folder ("../helpful-only/x.md" for a base's file). Empty for the
	// built-in continuation turn.
	key  string
	sum  string
	tmpl *template.Template // nil for a dropped part, which renders empty
}

// layout is a prompt before its variables are bound.
type layout struct {
	sections []piece
	parts    map[string]piece
	user     piece
	cue      Cue
	vars     map[string]string
	// outcome is the outcome rule: the scenario's, or a variant's own.
	outcome string
}

func (l *layout) clone() *layout {
	return &layout{
		sections: slices.Clone(l.sections),
		parts:    maps.Clone(l.parts),
		user:     l.user,
		cue:      l.cue,
		vars:     maps.Clone(l.vars),
		outcome:  l.outcome,
	}
}

// rebase makes the layout's provenance keys relative to a scenario that
// builds on the one in folder dir.
func (l *layout) rebase(dir string) {
	re := func(p piece) piece {
		if p.key != "" {
			p.key = path.Join("..", dir, p.key)
		}
		return p
	}
	for i, s := range l.sections {
		l.sections[i] = re(s)
	}
	for n, p := range l.parts {
		l.parts[n] = re(p)
	}
	l.user = re(l.user)
}

// files lists the prompt files the layout uses, with their SHA-256.
func (l *layout) files() map[string]string {
	out := map[string]string{}
	add := func(p piece) {
		if p.key != "" && p.tmpl != nil {
			out[p.key] = p.sum
		}
	}
	for _, s := range l.sections {
		add(s)
	}
	for _, p := range l.parts {
		add(p)
	}
	add(l.user)
	return out
}

func (l *layout) section(name string) int {
	return slices.IndexFunc(l.sections, func(p piece) bool { return p.name == name })
}

func (l *layout) sectionNames() []string {
	var out []string
	for _, s := range l.sections {
		out = append(out, s.name)
	}
	return out
}

// folder is one scenario's folder in a file system of scenario folders.
type folder struct {
	fsys fs.FS
	name string
	// embedded is set for the scenarios built into the binary.
	embedded bool
	// where names the folder in messages.
	where string
}

func (f folder) path(file string) string { return path.Join(f.where, file) }

func (f folder) read(file string) ([]byte, error) {
	if !fs.ValidPath(file) || file == "." {
		return nil, fmt.Errorf("%q: a file must be named by its path inside the scenario's folder, without . or ..", file)
	}
	b, err := fs.ReadFile(f.fsys, path.Join(f.name, file))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path(file), errors.Unwrap(err))
	}
	return b, nil
}

// piece reads file as a template.
func (f folder) piece(name, file string) (piece, error) {
	b, err := f.read(file)
	if err != nil {
		return piece{}, err
	}
	t, err := template.New(f.path(file)).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return piece{}, err
	}
	sum := sha256.Sum256(b)
	return piece{name: name, key: file, sum: hex.EncodeToString(sum[:]), tmpl: t}, nil
}

// sections reads files (glob patterns allowed; their matches sort by name)
// as sections named by their file names.
func (f folder) sections(files []string) ([]piece, error) {
	var out []piece
	for _, pat := range files {
		names := []string{pat}
		if strings.ContainsAny(pat, "*?[") {
			m, err := fs.Glob(f.fsys, path.Join(f.name, pat))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", pat, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%q matches no file in %s", pat, f.where)
			}
			names = names[:0]
			for _, p := range m {
				names = append(names, strings.TrimPrefix(p, f.name+"/"))
			}
		}
		for _, file := range names {
			p, err := f.piece(sectionName(file), file)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// sectionName is a file's name without its folder and extension.
func sectionName(file string) string {
	b := path.Base(file)
	return strings.TrimSuffix(b, path.Ext(b))
}

var (
	identPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	variantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	tagPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	outcomePattern = regexp.MustCompile(`^(tags|judge:[a-z0-9][a-z0-9_-]*)$`)
)

// BreakdownCategory is the one breakdown a scenario may ask for: each
// group's rates per request category.
const BreakdownCategory = "category"

// reserved reports the names the user template gives itself; no variable
// or part may take them.
func reserved(name string) bool {
	switch name {
	case "cue", "request", "FreeTier", "Request":
		return true
	}
	return false
}

// applying is where a set of changes comes from, for reading its files
// and placing its errors.
type applying struct {
	f folder
	// at names a key of the changes in a message: "file:line: key".
	at func(key string) string
	// declare lets the changes add variables; a variant may only set
	// those the scenario has.
	declare bool
}

// apply makes the changes c to l, in a fixed order: the section list, the
// user template and the parts first, then drop, replace and insert, which
// refer to them by name, then the cue and the variables.
func (l *layout) apply(c changes, a applying) error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s", a.at(key), fmt.Sprintf(format, args...))
	}
	if len(c.System) > 0 {
		s, err := a.f.sections(c.System)
		if err != nil {
			return fmt.Errorf("%s: %w", a.at("system"), err)
		}
		l.sections = s
	}
	if c.User != "" {
		p, err := a.f.piece("user", c.User)
		if err != nil {
			return fmt.Errorf("%s: %w", a.at("user"), err)
		}
		l.user = p
	}
	for _, name := range slices.Sorted(maps.Keys(c.Parts)) {
		if !identPattern.MatchString(name) || reserved(name) {
			return bad("parts", "%q cannot name a part: use letters, digits and '_', and none of cue, request, FreeTier, Request", name)
		}
		p, err := a.f.piece(name, c.Parts[name])
		if err != nil {
			return fmt.Errorf("%s: %w", a.at("parts"), err)
		}
		l.parts[name] = p
	}
	for _, name := range c.Drop {
		if i := l.section(name); i >= 0 {
			l.sections = slices.Delete(l.sections, i, i+1)
			continue
		}
		p, ok := l.parts[name]
		switch {
		case !ok:
			return bad("drop", "no section or part %q (%s)", name, l.names())
		case name == "next":
			return bad("drop", "the next part cannot be dropped: it is the turn that asks a model to go on; replace it instead")
		}
		p.tmpl = nil
		l.parts[name] = p
	}
	for _, name := range slices.Sorted(maps.Keys(c.Replace)) {
		file := c.Replace[name]
		i := l.section(name)
		if _, ok := l.parts[name]; i < 0 && !ok {
			return bad("replace", "no section or part %q (%s)", name, l.names())
		}
		p, err := a.f.piece(name, file)
		if err != nil {
			return fmt.Errorf("%s: %w", a.at("replace"), err)
		}
		if i >= 0 {
			l.sections[i] = p
		} else {
			l.parts[name] = p
		}
	}
	for _, in := range c.Insert {
		anchor, after := in.Before, false
		if in.After != "" {
			anchor, after = in.After, true
		}
		switch {
		case (in.Before == "") == (in.After == ""):
			return bad("insert", "each insertion needs exactly one of before and after (a section's name)")
		case len(in.Files) == 0:
			return bad("insert", "an insertion needs files")
		}
		i := l.section(anchor)
		if i < 0 {
			return bad("insert", "no section %q to insert next to (sections: %s)", anchor, strings.Join(l.sectionNames(), ", "))
		}
		s, err := a.f.sections(in.Files)
		if err != nil {
			return fmt.Errorf("%s: %w", a.at("insert"), err)
		}
		if after {
			i++
		}
		l.sections = slices.Insert(l.sections, i, s...)
	}
	if c.Cue != nil {
		if c.Cue.Tag != "" {
			l.cue.Tag = c.Cue.Tag
		}
		if c.Cue.Free != "" {
			l.cue.Free = c.Cue.Free
		}
		if c.Cue.Paid != "" {
			l.cue.Paid = c.Cue.Paid
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
		if _, ok := l.vars[k]; !ok && !a.declare {
			return bad("vars", "no variable %q (the scenario's [vars] has: %s)", k, orNone(slices.Sorted(maps.Keys(l.vars))))
		}
		if !identPattern.MatchString(k) || reserved(k) {
			return bad("vars", "%q cannot name a variable: use letters, digits and '_', and none of cue, request, FreeTier, Request", k)
		}
		l.vars[k] = c.Vars[k]
	}
	return l.check(a)
}

// check holds what every layout must satisfy after changes.
func (l *layout) check(a applying) error {
	if len(l.sections) == 0 {
		return fmt.Errorf("%s: no section of the system prompt is left", a.at("system"))
	}
	if l.user.tmpl == nil {
		return fmt.Errorf("%s: no user template", a.at("user"))
	}
	seen := map[string]bool{}
	for _, s := range l.sections {
		if seen[s.name] {
			return fmt.Errorf("%s: two sections are named %q (a section is named by its file name without the extension)", a.at("system"), s.name)
		}
		seen[s.name] = true
		if _, ok := l.parts[s.name]; ok {
			return fmt.Errorf("%s: %q names both a section and a part", a.at("parts"), s.name)
		}
	}
	for k := range l.vars {
		if _, ok := l.parts[k]; ok {
			return fmt.Errorf("%s: %q names both a variable and a part", a.at("vars"), k)
		}
	}
	switch {
	case !tagPattern.MatchString(l.cue.Tag):
		return fmt.Errorf("%s: the cue's tag %q must be a tag name (letters, digits, '_', '-', '.')", a.at("cue"), l.cue.Tag)
	case l.cue.Free == "" || l.cue.Paid == "":
		return fmt.Errorf("%s: the cue needs tag, free and paid", a.at("cue"))
	case l.cue.Free == l.cue.Paid:
		return fmt.Errorf("%s: the cue's free and paid values are both %q; the tiers would be the same", a.at("cue"), l.cue.Free)
	}
	return nil
}

func (l *layout) names() string {
	return fmt.Sprintf("sections: %s; parts: %s", orNone(l.sectionNames()), orNone(slices.Sorted(maps.Keys(l.parts))))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

var tomlLine = regexp.MustCompile(`^toml: line (\d+)`)

// define reads the scenario called name; chain lists the scenarios that
// build on it, to catch a base that leads back to itself.
func (src Source) define(name string, chain []string) (*Definition, error) {
	f, err := src.find(name)
	if err != nil {
		return nil, err
	}
	file := f.path("scenario.toml")
	mb, err := f.read("scenario.toml")
	if err != nil {
		return nil, err
	}
	var m fileMeta
	md, err := toml.Decode(string(mb), &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", file, pe.Position.Line, pe.Message)
		}
		if mm := tomlLine.FindStringSubmatch(err.Error()); mm != nil {
			line, _ := strconv.Atoi(mm[1])
			return nil, fmt.Errorf("%s:%d: %s", file, line, strings.TrimPrefix(err.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	lines := tomlpos.Scan(string(mb))
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q (known: %s)", lineOf(file, lines.FirstOf(und[0])), und[0].String(), knownKeys)
	}
	if m.Name != name {
		return nil, fmt.Errorf("%s: name %q does not match its folder %q", lineOf(file, lines.Line("name")), m.Name, name)
	}
	top := applying{f: f, declare: true, at: func(key string) string {
		return lineOf(file, lines.Line(key)) + ": " + key
	}}
	sum := sha256.Sum256(mb)
	d := &Definition{question: src.Question,
		Name: name, Description: m.Description, Source: f.source(), Outcome: m.Outcome, Breakdown: m.Breakdown,
		variants: map[string]*layout{},
		files:    map[string]string{"scenario.toml": hex.EncodeToString(sum[:])},
	}
	var l *layout
	if m.Base != "" {
		if slices.Contains(chain, m.Base) || m.Base == name {
			return nil, fmt.Errorf("%s: base %q leads back to %s (%s)", top.at("base"), m.Base, name, strings.Join(append(chain, name, m.Base), " -> "))
		}
		bd, err := src.define(m.Base, append(chain, name))
		if err != nil {
			if errors.Is(err, ErrUnknown) {
				return nil, fmt.Errorf("%s: %w", top.at("base"), err)
			}
			return nil, err
		}
		l = bd.base.clone()
		l.rebase(m.Base)
		for k, v := range bd.files {
			d.files[path.Join("..", m.Base, k)] = v
		}
		if d.Description == "" {
			d.Description = bd.Description
		}
		if d.Outcome == "" {
			d.Outcome = bd.Outcome
		}
		if d.Breakdown == "" {
			d.Breakdown = bd.Breakdown
		}
		d.Requests = bd.Requests
	} else {
		if len(m.System) == 0 || m.User == "" {
			return nil, fmt.Errorf("%s: system and user must name the prompt files (or base a scenario to build on)", file)
		}
		if len(m.Drop) > 0 || len(m.Replace) > 0 || len(m.Insert) > 0 {
			return nil, fmt.Errorf("%s: drop, replace and insert change a base: set base, or use them in a [[variant]]", file)
		}
		l = &layout{parts: map[string]piece{}, cue: defaultCue(), vars: map[string]string{}}
		next, err := template.New("next").Parse(DefaultNext)
		if err != nil {
			return nil, err
		}
		l.parts["next"] = piece{name: "next", tmpl: next}
	}
	if err := l.apply(m.changes, top); err != nil {
		return nil, err
	}
	d.base = l
	if d.Outcome == "" {
		d.Outcome = "tags"
	}
	if err := d.checkRule(d.Outcome, top.at("outcome")); err != nil {
		return nil, err
	}
	l.outcome = d.Outcome
	if d.Breakdown != "" && d.Breakdown != BreakdownCategory {
		return nil, fmt.Errorf("%s: %q: want %q (each group's rates per request category as well) or nothing", top.at("breakdown"), d.Breakdown, BreakdownCategory)
	}
	if m.Requests != "" {
		b, err := f.read(m.Requests)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", top.at("requests"), err)
		}
		if d.Requests, err = dataset.Parse(m.Requests, f.path(m.Requests), b); err != nil {
			return nil, err
		}
		d.files[m.Requests] = d.Requests.SHA256
	}
	if err := d.defineVariants(f, file, lines, m.Variants); err != nil {
		return nil, err
	}
	// Render every variant once with its own variables, so that a broken
	// template or a cue used twice is found when the scenario is read.
	for _, v := range append([]string{""}, d.VariantNames()...) {
		if _, err := d.Bind(v, nil); err != nil {
			if v == "" {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			i := slices.Index(d.VariantNames(), v)
			return nil, fmt.Errorf("%s: variant %q: %w", lineOf(file, lines.Line(variantKey(i))), v, err)
		}
	}
	return d, nil
}

func variantKey(i int) string { return tomlpos.Elem("variant", i) }

// defineVariants resolves each variant, after the one it extends, into a
// layout of its own.
func (d *Definition) defineVariants(f folder, file string, lines tomlpos.Lines, vs []variantMeta) error {
	index := map[string]int{}
	for i, v := range vs {
		at := lineOf(file, lines.Line(variantKey(i)))
		switch {
		case v.Name == "":
			return fmt.Errorf("%s: a [[variant]] needs a name", at)
		case !variantPattern.MatchString(v.Name) || v.Name == "all":
			return fmt.Errorf("%s: variant name %q: use lower-case letters, digits and '-' (and not \"all\")", at, v.Name)
		}
		if j, ok := index[v.Name]; ok {
			return fmt.Errorf("%s: variant %q is declared twice (first at line %d)", at, v.Name, lines.Line(variantKey(j)))
		}
		index[v.Name] = i
		d.Variants = append(d.Variants, Variant{Name: v.Name, Description: v.Description})
	}
	var resolve func(i int, stack []string) (*layout, error)
	resolve = func(i int, stack []string) (*layout, error) {
		v := vs[i]
		if l, ok := d.variants[v.Name]; ok {
			return l, nil
		}
		a := applying{f: f, at: func(key string) string {
			k := variantKey(i)
			return fmt.Sprintf("%s: variant %q: %s", lineOf(file, lines.Line(k+"."+key, k)), v.Name, key)
		}}
		l := d.base
		if v.Extends != "" {
			j, ok := index[v.Extends]
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: no variant %q (have: %s)", a.at("extends"), v.Extends, orNone(d.VariantNames()))
			case slices.Contains(stack, v.Extends):
				return nil, fmt.Errorf("%s: %s leads back to itself", a.at("extends"), strings.Join(append(stack, v.Extends), " -> "))
			}
			var err error
			if l, err = resolve(j, append(stack, v.Extends)); err != nil {
				return nil, err
			}
		}
		l = l.clone()
		if err := l.apply(v.changes, a); err != nil {
			return nil, err
		}
		if v.Outcome != "" {
			if err := d.checkRule(v.Outcome, a.at("outcome")); err != nil {
				return nil, err
			}
			l.outcome = v.Outcome
		}
		d.variants[v.Name] = l
		return l, nil
	}
	for i, v := range vs {
		if _, err := resolve(i, []string{v.Name}); err != nil {
			return err
		}
	}
	return nil
}

func lineOf(file string, line int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// source is the folder as Scenario.Source names it.
func (f folder) source() string {
	if f.embedded {
		return "embedded"
	}
	return f.where
}
