package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/tomlpos"
)

// Config is models.toml after defaults are applied.
type Config struct {
	// Host is the Ollama server of the models that name none, written as
	// OLLAMA_HOST would be. Empty means OLLAMA_HOST or Ollama's default.
	Host string `toml:"host" json:"host,omitempty"`
	// Hosts, instead of Host, are several Ollama servers that each serve
	// every model: a model's requests are spread over them.
	Hosts []string `toml:"hosts" json:"hosts,omitempty"`
	// Concurrency is how many chat requests each host serves at once. More
	// than one helps only when the server runs that many: Ollama with
	// OLLAMA_NUM_PARALLEL at least as large; vLLM or SGLang take dozens.
	Concurrency int `toml:"concurrency" json:"concurrency"`
	// KeepAlive is how long Ollama keeps a model loaded after a request.
	KeepAlive Duration `toml:"keep_alive" json:"keep_alive"`
	// RequestTimeout bounds one chat turn, from request to last token.
	RequestTimeout Duration `toml:"request_timeout" json:"request_timeout"`
	// MaxTurns bounds how many turns a sample may take when the model stops
	// inside its scratchpad and is asked to go on.
	MaxTurns int `toml:"max_turns" json:"max_turns"`
	// Retries is how many times a chat that failed for a transient reason
	// (connection lost, stream cut, server error) is tried again; 0, set
	// in the file, tries once.
	Retries int `toml:"retries" json:"retries"`
	// Samples is how many answers are drawn per request and tier.
	Samples int `toml:"samples" json:"samples"`
	// Scenarios lists the scenarios run when --scenario is not given.
	Scenarios []string `toml:"scenarios" json:"scenarios"`
	// DefaultModels lists the models run when --model is not given; empty
	// means every model.
	DefaultModels []string `toml:"default_models" json:"default_models,omitempty"`
	Judge         Judge    `toml:"judge" json:"judge"`
	Models        []Model  `toml:"model" json:"models"`

	// Vars set the scenarios' template variables (developer, model_name)
	// in every scenario that has them; --set overrides them.
	Vars map[string]string `toml:"vars" json:"vars,omitempty"`

	// File is where the configuration came from.
	File string `toml:"-" json:"-"`
	// lines holds the line of each key of the file, for mistakes that
	// only a later stage can see (a [vars] name no scenario has).
	lines tomlpos.Lines
}

// Line returns the line of the first of keys the file has, each named as
// tomlpos names it ("vars.developer", "model.0.tag"), or 0 when it has
// none of them.
func (c *Config) Line(keys ...string) int { return c.lines.Line(keys...) }

// Server is where a model (or the judge) is served: the keys backend,
// host, hosts, api_key_env and concurrency of a [[model]] or [judge] table.
type Server struct {
	// Backend is "ollama" (the default: Ollama's native API) or "openai"
	// (an OpenAI-compatible chat-completions API: vLLM, SGLang, llama.cpp's
	// server, LM Studio, a gateway, Ollama's /v1).
	Backend string `toml:"backend" json:"backend,omitempty"`
	// Host is the server: for Ollama written as OLLAMA_HOST would be, for
	// "openai" the API's base URL, e.g. "http://gpu-1:8000/v1".
	Host string `toml:"host" json:"host,omitempty"`
	// Hosts, instead of Host, are several servers of the same model; its
	// requests are spread over them.
	Hosts []string `toml:"hosts" json:"hosts,omitempty"`
	// APIKeyEnv names the environment variable that holds the API key of
	// an OpenAI-compatible server; the key itself never goes in the file.
	APIKeyEnv string `toml:"api_key_env" json:"api_key_env,omitempty"`
	// Concurrency, when set, replaces the top-level concurrency for this
	// model's hosts.
	Concurrency int `toml:"concurrency" json:"concurrency,omitempty"`
}

// Judge is the model that classifies reasoning.
type Judge struct {
	Model string `toml:"model" json:"model"`
	// Server, when it names a host, sends the judge to its own server.
	Server
	Votes       int      `toml:"votes" json:"votes,omitempty"`
	Temperature *float64 `toml:"temperature" json:"temperature,omitempty"`
	NumCtx      int      `toml:"num_ctx" json:"num_ctx,omitempty"`
	// NumPredict bounds one answer of the judge; 0 takes the judge's
	// default. --num-predict overrides it.
	NumPredict int `toml:"num_predict" json:"num_predict,omitempty"`
}

// Model is one model under test.
type Model struct {
	// Name labels the model in reports and records.
	Name string `toml:"name" json:"name"`
	// Tag is the model as its server names it: an Ollama model, e.g.
	// "llama3.2:3b", or an OpenAI-compatible server's model id.
	Tag string `toml:"tag" json:"tag"`
	// Server says where the model is served; empty means the top-level
	// host(s) on Ollama.
	Server

	NumCtx        int      `toml:"num_ctx" json:"num_ctx,omitempty"`
	Temperature   *float64 `toml:"temperature" json:"temperature,omitempty"`
	TopP          *float64 `toml:"top_p" json:"top_p,omitempty"`
	TopK          *int     `toml:"top_k" json:"top_k,omitempty"`
	MinP          *float64 `toml:"min_p" json:"min_p,omitempty"`
	RepeatPenalty *float64 `toml:"repeat_penalty" json:"repeat_penalty,omitempty"`
	Seed          *int     `toml:"seed" json:"seed,omitempty"`
	NumPredict    *int     `toml:"num_predict" json:"num_predict,omitempty"`
	// Think turns on a reasoning model's native thinking: true, false, or
	// "low", "medium", "high" where the model supports levels. Unset leaves
	// Ollama's default, which is on for thinking-capable models.
	Think any `toml:"think" json:"think,omitempty"`
}

// Options returns the Ollama options the configuration sets for m, without
// num_ctx, which the runner decides.
func (m Model) Options() map[string]any {
	o := map[string]any{}
	if m.Temperature != nil {
		o["temperature"] = *m.Temperature
	}
	if m.TopP != nil {
		o["top_p"] = *m.TopP
	}
	if m.TopK != nil {
		o["top_k"] = *m.TopK
	}
	if m.MinP != nil {
		o["min_p"] = *m.MinP
	}
	if m.RepeatPenalty != nil {
		o["repeat_penalty"] = *m.RepeatPenalty
	}
	if m.Seed != nil {
		o["seed"] = *m.Seed
	}
	if m.NumPredict != nil {
		o["num_predict"] = *m.NumPredict
	}
	return o
}

// Duration is a time.Duration written as "30m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like \"30s\" or \"10m\": %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration as Go writes it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults for settings the file leaves out.
const (
	DefaultConcurrency    = 1
	DefaultKeepAlive      = 30 * time.Minute
	DefaultRequestTimeout = 10 * time.Minute
	DefaultMaxTurns       = 4
	DefaultRetries        = 2
	DefaultSamples        = 1
	DefaultScenario       = "helpful-only"
)

// Error is a mistake in a configuration file, at a line when one is known.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// Parse reads a configuration from b; name is used in messages.
func Parse(name string, b []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{File: name, Line: line, Msg: fmt.Sprintf("key %s: %s", m[2], strings.TrimPrefix(m[3], "toml: "))}
		}
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	lines := tomlpos.Scan(string(b))
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &Error{File: name, Line: lines.FirstOf(k), Msg: fmt.Sprintf("unknown key %q%s", k.String(), suggest(k))}
	}
	c.File, c.lines = name, lines
	c.applyDefaults(md)
	if err := c.check(md, lines); err != nil {
		return nil, err
	}
	return &c, nil
}

// applyDefaults fills the keys the file leaves out. A key it sets keeps its
// value, 0 included: retries = 0 means no retry, and a 0 where it cannot
// be right (concurrency, samples) is check's to refuse, not to replace.
func (c *Config) applyDefaults(md toml.MetaData) {
	set := func(key string) bool { return md.IsDefined(key) }
	if !set("concurrency") {
		c.Concurrency = DefaultConcurrency
	}
	if !set("keep_alive") {
		c.KeepAlive.Duration = DefaultKeepAlive
	}
	if !set("request_timeout") {
		c.RequestTimeout.Duration = DefaultRequestTimeout
	}
	if !set("max_turns") {
		c.MaxTurns = DefaultMaxTurns
	}
	if !set("retries") {
		c.Retries = DefaultRetries
	}
	if !set("samples") {
		c.Samples = DefaultSamples
	}
	if !set("scenarios") {
		c.Scenarios = []string{DefaultScenario}
	}
}

// elemKeys lists, for each element of the array of tables name, the keys
// it sets, read from the decoder's metadata in file order: IsDefined does
// not look inside an array.
func elemKeys(md toml.MetaData, name string) []map[string]bool {
	var out []map[string]bool
	for _, k := range md.Keys() {
		switch {
		case len(k) == 1 && k[0] == name:
			out = append(out, map[string]bool{})
		case len(k) == 2 && k[0] == name && len(out) > 0:
			out[len(out)-1][k[1]] = true
		}
	}
	return out
}

func (c *Config) check(md toml.MetaData, lines tomlpos.Lines) error {
	bad := func(key, format string, args ...any) error {
		return &Error{File: c.File, Line: lines.Line(key), Msg: fmt.Sprintf("key %s: ", key) + fmt.Sprintf(format, args...)}
	}
	if c.Concurrency < 1 {
		return bad("concurrency", "must be at least 1")
	}
	if c.MaxTurns < 1 {
		return bad("max_turns", "must be at least 1")
	}
	if c.Retries < 0 {
		return bad("retries", "must not be negative")
	}
	if c.Samples < 1 {
		return bad("samples", "must be at least 1")
	}
	if c.KeepAlive.Duration <= 0 {
		return bad("keep_alive", "must be more than 0")
	}
	if c.RequestTimeout.Duration <= 0 {
		return bad("request_timeout", "must be more than 0")
	}
	if len(c.Scenarios) == 0 {
		return bad("scenarios", "names no scenario (leave it out for %q)", DefaultScenario)
	}
	if len(c.Models) == 0 {
		return &Error{File: c.File, Msg: "no [[model]] table: add one with name and tag (see the README)"}
	}
	seen := map[string]bool{}
	modelKeys := elemKeys(md, "model")
	for i, m := range c.Models {
		line := lines.Line(tomlpos.Elem("model", i))
		switch {
		case m.Name == "":
			return &Error{File: c.File, Line: line, Msg: "[[model]] needs a name (the label in reports)"}
		case m.Tag == "":
			return &Error{File: c.File, Line: line, Msg: fmt.Sprintf("model %q needs a tag (the Ollama model, e.g. \"llama3.2:3b\")", m.Name)}
		case seen[m.Name]:
			return &Error{File: c.File, Line: line, Msg: fmt.Sprintf("model name %q is used twice", m.Name)}
		case m.NumCtx < 0:
			return &Error{File: c.File, Line: line, Msg: fmt.Sprintf("model %q: num_ctx must not be negative", m.Name)}
		}
		seen[m.Name] = true
		if err := checkThink(m.Think); err != nil {
			return &Error{File: c.File, Line: line, Msg: fmt.Sprintf("model %q: think: %v", m.Name, err)}
		}
		at := func(key string) int { return max(lines.Line(tomlpos.Elem("model", i, key)), line) }
		set := func(key string) bool { return i < len(modelKeys) && modelKeys[i][key] }
		if err := c.checkServer(m.Server, fmt.Sprintf("model %q", m.Name), at, set); err != nil {
			return err
		}
		opts := m.Options()
		if m.NumCtx != 0 {
			opts["num_ctx"] = m.NumCtx
		}
		if err := c.checkBackendOptions(m.Backend, opts, m.Think, fmt.Sprintf("model %q", m.Name), at); err != nil {
			return err
		}
	}
	{
		line := lines.Line("judge")
		at := func(key string) int { return max(lines.Line("judge."+key), line) }
		set := func(key string) bool { return md.IsDefined("judge", key) }
		if err := c.checkServer(c.Judge.Server, "[judge]", at, set); err != nil {
			return err
		}
		bad := func(key, format string, args ...any) error {
			return &Error{File: c.File, Line: at(key), Msg: fmt.Sprintf("[judge]: %s: ", key) + fmt.Sprintf(format, args...)}
		}
		// votes = 0 would ask nothing; 0 for num_ctx and num_predict has
		// a meaning (sized from the prompt; the judge's own bound).
		switch {
		case c.Judge.Votes < 0 || (c.Judge.Votes == 0 && set("votes")):
			return bad("votes", "must be at least 1")
		case c.Judge.NumCtx < 0:
			return bad("num_ctx", "must not be negative")
		case c.Judge.NumPredict < 0:
			return bad("num_predict", "must not be negative")
		case c.Judge.Temperature != nil && *c.Judge.Temperature < 0:
			return bad("temperature", "must not be negative")
		}
		opts := map[string]any{}
		if c.Judge.NumCtx != 0 {
			opts["num_ctx"] = c.Judge.NumCtx
		}
		if err := c.checkBackendOptions(c.Judge.Backend, opts, nil, "[judge]", at); err != nil {
			return err
		}
	}
	if c.Host != "" && len(c.Hosts) > 0 {
		return bad("hosts", "set host or hosts, not both")
	}
	if key, err := checkHosts(c.Host, c.Hosts, llm.CheckHost); err != nil {
		return bad(key, "%v", err)
	}
	for _, n := range c.DefaultModels {
		if !seen[n] {
			return bad("default_models", "no [[model]] is named %q", n)
		}
	}
	// A name listed twice would ask every sample twice.
	if n, ok := repeated(c.DefaultModels); ok {
		return bad("default_models", "%q is listed twice", n)
	}
	if n, ok := repeated(c.Scenarios); ok {
		return bad("scenarios", "%q is listed twice", n)
	}
	return nil
}

// checkServer checks where a model or the judge (what) is served; at gives
// the line of one of its keys, and set whether its table sets that key.
func (c *Config) checkServer(s Server, what string, at func(key string) int, set func(key string) bool) error {
	bad := func(key, format string, args ...any) error {
		return &Error{File: c.File, Line: at(key), Msg: fmt.Sprintf("%s: %s: ", what, key) + fmt.Sprintf(format, args...)}
	}
	if err := llm.CheckBackend(s.Backend); err != nil {
		return bad("backend", "%v", err)
	}
	if s.Host != "" && len(s.Hosts) > 0 {
		return bad("hosts", "set host or hosts, not both")
	}
	if n, ok := repeated(s.Hosts); ok {
		return bad("hosts", "%q is listed twice", n)
	}
	// Left out, concurrency is the top level's; set, it must be usable.
	if s.Concurrency < 0 || (s.Concurrency == 0 && set("concurrency")) {
		return bad("concurrency", "must be at least 1")
	}
	if s.Backend != llm.BackendOpenAI {
		if s.APIKeyEnv != "" {
			return bad("api_key_env", `is for backend = "openai"; Ollama's native API takes no key`)
		}
		if key, err := checkHosts(s.Host, s.Hosts, llm.CheckHost); err != nil {
			return bad(key, "%v", err)
		}
		return nil
	}
	if s.Host == "" && len(s.Hosts) == 0 {
		return bad("backend", `backend = "openai" needs host, the API's base URL (e.g. "http://gpu-1:8000/v1"), or hosts`)
	}
	if key, err := checkHosts(s.Host, s.Hosts, func(h string) error { _, err := llm.ParseBaseURL(h); return err }); err != nil {
		return bad(key, "%v", err)
	}
	return nil
}

// checkHosts checks host and each of hosts with check, and names the key
// of the first that fails.
func checkHosts(host string, hosts []string, check func(string) error) (key string, err error) {
	if host != "" {
		if err := check(host); err != nil {
			return "host", err
		}
	}
	for _, h := range hosts {
		if err := check(h); err != nil {
			return "hosts", err
		}
	}
	return "", nil
}

// checkBackendOptions refuses the options and think setting of what that
// its back end cannot send, at the line of the first such key.
func (c *Config) checkBackendOptions(backend string, opts map[string]any, think any, what string, at func(key string) int) error {
	err := llm.CheckOptions(backend, opts)
	if err == nil {
		err = llm.CheckThink(backend, think)
	}
	if err == nil {
		return nil
	}
	var oe *llm.OptionError
	if errors.As(err, &oe) {
		return &Error{File: c.File, Line: at(oe.Key), Msg: fmt.Sprintf("%s: %s", what, oe)}
	}
	return &Error{File: c.File, Line: at("backend"), Msg: fmt.Sprintf("%s: %v", what, err)}
}

// repeated returns the first name that occurs twice in names.
func repeated(names []string) (string, bool) {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return n, true
		}
		seen[n] = true
	}
	return "", false
}

func checkThink(v any) error {
	switch t := v.(type) {
	case nil, bool:
		return nil
	case string:
		switch t {
		case "low", "medium", "high":
			return nil
		}
	}
	return fmt.Errorf("must be true, false, \"low\", \"medium\" or \"high\", not %v", v)
}

// Model returns the model named name.
func (c *Config) Model(name string) (Model, bool) {
	for _, m := range c.Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Names lists the models' names in file order.
func (c *Config) Names() []string {
	var out []string
	for _, m := range c.Models {
		out = append(out, m.Name)
	}
	return out
}

var known = []string{
	"host", "concurrency", "keep_alive", "request_timeout", "max_turns", "retries", "samples", "scenarios", "default_models",
	"judge", "model", "name", "tag", "num_ctx", "backend", "hosts", "api_key_env", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "num_predict", "think",
	"votes", "vars",
}

// suggest names a known key close to k's last part, for typos.
func suggest(k toml.Key) string {
	last := k[len(k)-1]
	best, bestD := "", 3
	for _, w := range known {
		if d := distance(last, w); d < bestD {
			best, bestD = w, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
