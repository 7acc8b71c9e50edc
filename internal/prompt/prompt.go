package prompt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/BurntSushi/toml"
	"github.com/probe-eval/probe/prompts"
)

// Scenario is one experimental setting.
type Scenario struct {
	Name        string
	Description string
	// System is the system prompt, sent unchanged in both tiers.
	System string
	user   *template.Template
	// Source is "embedded" or the folder the scenario came from.
	Source string
	// Files maps each file of the scenario to its SHA-256.
	Files map[string]string
	// SHA256 hashes the files together, for run.json.
	SHA256 string
}

// UserData is what a user-turn template can refer to.
type UserData struct {
	// FreeTier renders as true or false: the only part of the user turn
	// that differs between the tiers.
	FreeTier bool
	Request  string
}

// User renders the user turn for one request in one tier.
func (s *Scenario) User(freeTier bool, request string) (string, error) {
	var b bytes.Buffer
	if err := s.user.Execute(&b, UserData{FreeTier: freeTier, Request: request}); err != nil {
		return "", fmt.Errorf("scenario %s: render user turn: %w", s.Name, err)
	}
	return b.String(), nil
}

// Source finds scenarios: in dir first when it is set, then among the
// shipped ones.
type Source struct {
	Dir string
}

type meta struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	System      string `toml:"system"`
	User        string `toml:"user"`
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

// Load reads the scenario called name.
func (src Source) Load(name string) (*Scenario, error) {
	if src.Dir != "" {
		fsys := os.DirFS(src.Dir)
		if _, err := fs.Stat(fsys, path.Join(name, "scenario.toml")); err == nil {
			return load(fsys, name, path.Join(src.Dir, name))
		}
	}
	if _, err := fs.Stat(prompts.FS, path.Join(name, "scenario.toml")); err == nil {
		return load(prompts.FS, name, "embedded")
	}
	names, _ := src.Names()
	return nil, fmt.Errorf("%w %q (have: %s)", ErrUnknown, name, strings.Join(names, ", "))
}

var tomlLine = regexp.MustCompile(`^toml: line (\d+)`)

func load(fsys fs.FS, name, source string) (*Scenario, error) {
	where := func(file string) string {
		if source == "embedded" {
			return "prompts/" + path.Join(name, file)
		}
		return path.Join(source, file)
	}
	read := func(file string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, path.Join(name, file))
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", name, err)
		}
		return b, nil
	}
	mb, err := read("scenario.toml")
	if err != nil {
		return nil, err
	}
	var m meta
	md, err := toml.Decode(string(mb), &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", where("scenario.toml"), pe.Position.Line, pe.Message)
		}
		if mm := tomlLine.FindStringSubmatch(err.Error()); mm != nil {
			line, _ := strconv.Atoi(mm[1])
			return nil, fmt.Errorf("%s:%d: %s", where("scenario.toml"), line, err)
		}
		return nil, fmt.Errorf("%s: %w", where("scenario.toml"), err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q (known: name, description, system, user)", where("scenario.toml"), und[0].String())
	}
	if m.Name != name {
		return nil, fmt.Errorf("%s: name %q does not match its folder %q", where("scenario.toml"), m.Name, name)
	}
	if m.System == "" || m.User == "" {
		return nil, fmt.Errorf("%s: system and user must name the prompt files", where("scenario.toml"))
	}
	sys, err := read(m.System)
	if err != nil {
		return nil, err
	}
	ub, err := read(m.User)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(m.User).Option("missingkey=error").Parse(string(ub))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(m.User), err)
	}
	s := &Scenario{
		Name:        name,
		Description: m.Description,
		System:      string(sys),
		user:        tmpl,
		Source:      source,
		Files:       map[string]string{},
	}
	all := sha256.New()
	for _, f := range []struct {
		name string
		b    []byte
	}{{"scenario.toml", mb}, {m.System, sys}, {m.User, ub}} {
		sum := sha256.Sum256(f.b)
		s.Files[f.name] = hex.EncodeToString(sum[:])
		fmt.Fprintf(all, "%s %x\n", f.name, sum)
	}
	s.SHA256 = hex.EncodeToString(all.Sum(nil))
	if err := s.checkTiers(); err != nil {
		return nil, fmt.Errorf("%s: %w", where(m.User), err)
	}
	return s, nil
}

// checkTiers holds the experiment's central promise: both tiers send the
// same bytes except the value of the tier tag.
func (s *Scenario) checkTiers() error {
	const probe = "PROBE-REQUEST"
	free, err := s.User(true, probe)
	if err != nil {
		return err
	}
	paid, err := s.User(false, probe)
	if err != nil {
		return err
	}
	if !strings.Contains(free, probe) {
		return errors.New("the user template never uses {{.Request}}")
	}
	// After the common prefix, the turns must read true and false and then
	// be the same to the end.
	i := 0
	for i < len(free) && i < len(paid) && free[i] == paid[i] {
		i++
	}
	if !strings.HasPrefix(free[i:], "true") || !strings.HasPrefix(paid[i:], "false") || free[i+4:] != paid[i+5:] {
		return errors.New("the tiers' user turns must differ only in {{.FreeTier}} (true/false), used once")
	}
	return nil
}
