package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestShippedConfig(t *testing.T) {
	c, err := Load("../../models.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Models) < 2 || c.Judge.Model == "" || len(c.DefaultModels) != 1 {
		t.Errorf("shipped config: %d models, judge %q, defaults %v", len(c.Models), c.Judge.Model, c.DefaultModels)
	}
	for _, m := range c.Models {
		if m.NumCtx < 8192 {
			t.Errorf("model %s: num_ctx %d cannot hold the ~6,500-token system prompt and an answer", m.Name, m.NumCtx)
		}
	}
}

func TestDefaultsAndOptions(t *testing.T) {
	c, err := Parse("m.toml", []byte("[[model]]\nname = \"a\"\ntag = \"a:1b\"\ntemperature = 1\nseed = 3\nthink = \"low\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != DefaultConcurrency || c.KeepAlive.Duration != DefaultKeepAlive || c.MaxTurns != DefaultMaxTurns ||
		c.Samples != 1 || c.Retries != DefaultRetries || c.RequestTimeout.Duration != DefaultRequestTimeout || c.Scenarios[0] != DefaultScenario {
		t.Errorf("defaults not applied: %+v", c)
	}
	opts := c.Models[0].Options()
	if opts["temperature"] != 1.0 || opts["seed"] != 3 || len(opts) != 2 {
		t.Errorf("options = %v, want temperature and seed only", opts)
	}
	if c.Models[0].Think != "low" {
		t.Errorf("think = %v", c.Models[0].Think)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown key with suggestion", "concurrency = 2\n[[model]]\nname = \"a\"\ntag = \"a\"\ntemprature = 0.5\n", `m.toml:5: unknown key "model.temprature" (did you mean "temperature"?)`},
		{"unknown top key", "colour = 1\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:1: unknown key "colour"`},
		{"unknown judge key", "[judge]\nmodle = \"x\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:2: unknown key "judge.modle" (did you mean "model"?)`},
		{"wrong type", "[[model]]\nname = \"a\"\ntag = \"a\"\nnum_ctx = \"big\"\n", "m.toml:4: key model.num_ctx: incompatible types"},
		{"syntax", "[[model]]\nname = = \"a\"\n", "m.toml:2:"},
		{"bad duration", "keep_alive = \"forever\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n", "m.toml:1:"},
		{"no models", "concurrency = 1\n", "no [[model]] table"},
		{"no tag", "[[model]]\nname = \"a\"\n[[model]]\nname = \"b\"\n", `m.toml:1: model "a" needs a tag`},
		{"no name", "[[model]]\nname = \"a\"\ntag = \"a\"\n\n[[model]]\ntag = \"b\"\n", "m.toml:5: [[model]] needs a name"},
		{"duplicate", "[[model]]\nname = \"a\"\ntag = \"a\"\n[[model]]\nname = \"a\"\ntag = \"b\"\n", `m.toml:4: model name "a" is used twice`},
		{"bad think", "[[model]]\nname = \"a\"\ntag = \"a\"\nthink = 3\n", "m.toml:1: model \"a\": think: must be"},
		{"bad concurrency", "concurrency = -1\n[[model]]\nname = \"a\"\ntag = \"a\"\n", "m.toml:1: key concurrency: must be at least 1"},
		{"default model twice", "samples = 1\ndefault_models = [\"a\", \"b\", \"a\"]\n[[model]]\nname = \"a\"\ntag = \"a\"\n[[model]]\nname = \"b\"\ntag = \"b\"\n", `m.toml:2: key default_models: "a" is listed twice`},
		{"scenario twice", "scenarios = [\n  \"tiny\",\n  \"tiny\",\n]\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:1: key scenarios: "tiny" is listed twice`},
		{"model name twice, far apart", "[[model]]\nname = \"a\"\ntag = \"a\"\n[[model]]\nname = \"b\"\ntag = \"b\"\n\n[[model]]\nname = \"a\"\ntag = \"c\"\n", `m.toml:8: model name "a" is used twice`},
		{"unknown backend", "[[model]]\nname = \"a\"\ntag = \"a\"\nbackend = \"vllm\"\n", `m.toml:4: model "a": backend: unknown backend "vllm"`},
		{"openai without host", "[[model]]\nname = \"a\"\ntag = \"a\"\nbackend = \"openai\"\n", `m.toml:4: model "a": backend: backend = "openai" needs host`},
		{"openai host not a URL", "[[model]]\nname = \"a\"\ntag = \"a\"\nbackend = \"openai\"\nhost = \"gpu-1:8000\"\n", `m.toml:5: model "a": host: host "gpu-1:8000" is not the base URL`},
		{"num_ctx on openai, second model", "[[model]]\nname = \"a\"\ntag = \"a\"\nnum_ctx = 4096\n[[model]]\nname = \"b\"\ntag = \"b\"\nbackend = \"openai\"\nhost = \"http://g:8000/v1\"\nnum_ctx = 8192\n", `m.toml:10: model "b": num_ctx: an OpenAI-compatible server cannot take a context length per request`},
		{"top_k on openai", "[[model]]\nname = \"a\"\ntag = \"a\"\nbackend = \"openai\"\nhosts = [\"http://g:8000/v1\"]\ntop_k = 40\n", `m.toml:6: model "a": top_k: the OpenAI chat-completions API has no such option`},
		{"think true on openai", "[[model]]\nname = \"a\"\ntag = \"a\"\nbackend = \"openai\"\nhost = \"http://g:8000/v1\"\nthink = true\n", `m.toml:6: model "a": think: true cannot be sent`},
		{"key on ollama", "[[model]]\nname = \"a\"\ntag = \"a\"\napi_key_env = \"KEY\"\n", `m.toml:4: model "a": api_key_env: is for backend = "openai"`},
		{"host and hosts", "[[model]]\nname = \"a\"\ntag = \"a\"\nhost = \"x\"\nhosts = [\"y\"]\n", `m.toml:5: model "a": hosts: set host or hosts, not both`},
		{"ollama host not an address", "[[model]]\nname = \"a\"\ntag = \"a\"\nhost = \"gpu 1:11434\"\n", `m.toml:4: model "a": host: "gpu 1:11434" is not a server address`},
		{"ollama hosts port", "[[model]]\nname = \"a\"\ntag = \"a\"\nhosts = [\"a:11434\", \"b:99999\"]\n", `m.toml:4: model "a": hosts: "b:99999" is not a server address: port`},
		{"top-level host", "host = \"ftp://h\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:1: key host: "ftp://h" is not a server address: the scheme`},
		{"host twice", "[[model]]\nname = \"a\"\ntag = \"a\"\nhosts = [\"y\", \"y\"]\n", `m.toml:4: model "a": hosts: "y" is listed twice`},
		{"judge num_ctx on openai", "[judge]\nmodel = \"j\"\nbackend = \"openai\"\nhost = \"http://g:8000/v1\"\nnum_ctx = 8192\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:5: [judge]: num_ctx: an OpenAI-compatible server`},
		{"judge openai without host", "[judge]\nmodel = \"j\"\nbackend = \"openai\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:3: [judge]: backend: backend = "openai" needs host`},
		{"bad model concurrency", "[[model]]\nname = \"a\"\ntag = \"a\"\nconcurrency = -2\n", `m.toml:4: model "a": concurrency: must be at least 1`},
		{"unknown default model", "default_models = [\"z\"]\n[[model]]\nname = \"a\"\ntag = \"a\"\n", `m.toml:1: key default_models: no [[model]] is named "z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.toml", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	c, err := Parse("m.toml", []byte("request_timeout = \"90s\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.RequestTimeout.Duration != 90*time.Second {
		t.Errorf("request_timeout = %v", c.RequestTimeout)
	}
	if b, _ := c.RequestTimeout.MarshalText(); string(b) != "1m30s" {
		t.Errorf("marshal = %s", b)
	}
}

// Where each model and the judge are served, and how the command line and
// the environment override the file on Ollama only.
func TestEndpoints(t *testing.T) {
	const file = `host = "file:1"
concurrency = 2
[judge]
model = "j"
[[model]]
name = "plain"
tag = "p"
[[model]]
name = "own"
tag = "o"
hosts = ["a:1", "b:1"]
concurrency = 4
[[model]]
name = "api"
tag = "Qwen/Qwen3-8B"
backend = "openai"
host = "http://gpu:8000/v1"
api_key_env = "KEY"
`
	c, err := Parse("m.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	ep := func(name string, o Overrides) string {
		m, _ := c.Model(name)
		e := c.Endpoint(m, o)
		return e.Backend + " " + strings.Join(e.Hosts, ",") + " " + e.APIKeyEnv
	}
	tests := []struct {
		name, model string
		o           Overrides
		want        string
	}{
		{"file", "plain", Overrides{}, "ollama file:1 "},
		{"env over file", "plain", Overrides{OllamaHost: "env:1"}, "ollama env:1 "},
		{"flag over env", "plain", Overrides{Host: "flag:1", OllamaHost: "env:1"}, "ollama flag:1 "},
		{"model's own over env", "own", Overrides{OllamaHost: "env:1"}, "ollama a:1,b:1 "},
		{"flag over model's own", "own", Overrides{Host: "flag:1"}, "ollama flag:1 "},
		{"openai ignores the flag", "api", Overrides{Host: "flag:1", OllamaHost: "env:1"}, "openai http://gpu:8000/v1 KEY"},
	}
	for _, tt := range tests {
		if got := ep(tt.model, tt.o); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	own, _ := c.Model("own")
	plain, _ := c.Model("plain")
	if c.Slots(own) != 4 || c.Slots(plain) != 2 || c.JudgeSlots() != 2 {
		t.Errorf("slots: own %d plain %d judge %d, want 4, 2, 2", c.Slots(own), c.Slots(plain), c.JudgeSlots())
	}

	judge := func(o Overrides) string { return strings.Join(c.JudgeEndpoint(o).Hosts, ",") }
	if got := judge(Overrides{Host: "flag:1"}); got != "flag:1" {
		t.Errorf("judge without a host of its own follows run's --host: %q", got)
	}
	c.Judge.Host = "judge:1"
	if got := judge(Overrides{Host: "flag:1", OllamaHost: "env:1"}); got != "judge:1" {
		t.Errorf("[judge] host is over run's --host and OLLAMA_HOST: %q", got)
	}
	if got := judge(Overrides{JudgeHost: "jflag:1"}); got != "jflag:1" {
		t.Errorf("classify's --host is over [judge] host: %q", got)
	}
}

// A key left out takes its default; a key set to 0 keeps 0 where 0 means
// something and is refused, at its line, where it cannot be right.
func TestZeroSetOrLeftOut(t *testing.T) {
	const model = "[[model]]\nname = \"a\"\ntag = \"a\"\n"
	kept := []struct {
		name, in string
		got      func(c *Config) any
		want     any
	}{
		{"retries left out", model, func(c *Config) any { return c.Retries }, DefaultRetries},
		{"retries = 0", "retries = 0\n" + model, func(c *Config) any { return c.Retries }, 0},
		{"retries = 3", "retries = 3\n" + model, func(c *Config) any { return c.Retries }, 3},
		{"concurrency left out", model, func(c *Config) any { return c.Concurrency }, DefaultConcurrency},
		{"samples left out", model, func(c *Config) any { return c.Samples }, DefaultSamples},
		{"max_turns left out", model, func(c *Config) any { return c.MaxTurns }, DefaultMaxTurns},
		{"keep_alive left out", model, func(c *Config) any { return c.KeepAlive.Duration }, DefaultKeepAlive},
		{"scenarios left out", model, func(c *Config) any { return strings.Join(c.Scenarios, ",") }, DefaultScenario},
		{"judge num_ctx = 0 is sized", "[judge]\nmodel = \"j\"\nnum_ctx = 0\n" + model, func(c *Config) any { return c.Judge.NumCtx }, 0},
		{"judge num_predict = 0 is the judge's", "[judge]\nmodel = \"j\"\nnum_predict = 0\n" + model, func(c *Config) any { return c.Judge.NumPredict }, 0},
		{"judge votes left out", "[judge]\nmodel = \"j\"\n" + model, func(c *Config) any { return c.Judge.Votes }, 0},
		{"model concurrency left out", model, func(c *Config) any { return c.Models[0].Concurrency }, 0},
	}
	for _, tt := range kept {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("m.toml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	refused := []struct{ name, in, want string }{
		{"concurrency = 0", "samples = 1\nconcurrency = 0\n" + model, "m.toml:2: key concurrency: must be at least 1"},
		{"samples = 0", "samples = 0\n" + model, "m.toml:1: key samples: must be at least 1"},
		{"max_turns = 0", "max_turns = 0\n" + model, "m.toml:1: key max_turns: must be at least 1"},
		{"keep_alive = 0s", "keep_alive = \"0s\"\n" + model, "m.toml:1: key keep_alive: must be more than 0"},
		{"request_timeout = 0s", "\nrequest_timeout = \"0s\"\n" + model, "m.toml:2: key request_timeout: must be more than 0"},
		{"request_timeout negative", "request_timeout = \"-1m\"\n" + model, "m.toml:1: key request_timeout: must be more than 0"},
		{"scenarios = []", "scenarios = []\n" + model, "m.toml:1: key scenarios: names no scenario"},
		{"judge votes = 0", "[judge]\nmodel = \"j\"\nvotes = 0\n" + model, "m.toml:3: [judge]: votes: must be at least 1"},
		{"judge votes negative", "[judge]\nmodel = \"j\"\nvotes = -5\n" + model, "m.toml:3: [judge]: votes: must be at least 1"},
		{"judge concurrency = 0", "[judge]\nmodel = \"j\"\nconcurrency = 0\n" + model, "m.toml:3: [judge]: concurrency: must be at least 1"},
		{"judge num_ctx negative", "[judge]\nmodel = \"j\"\n\nnum_ctx = -1\n" + model, "m.toml:4: [judge]: num_ctx: must not be negative"},
		{"judge temperature negative", "[judge]\nmodel = \"j\"\ntemperature = -0.5\n" + model, "m.toml:3: [judge]: temperature: must not be negative"},
		{"second model's concurrency = 0", model + "[[model]]\nname = \"b\"\ntag = \"b\"\nconcurrency = 0\n", `m.toml:7: model "b": concurrency: must be at least 1`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.toml", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A [vars] name is checked against the scenarios after Parse, by a stage
// that knows them; Line gives its mistake the line, as Parse's own have.
func TestLineOfAKey(t *testing.T) {
	c, err := Parse("models.toml", []byte("[[model]]\nname = \"a\"\ntag = \"a\"\n\n[vars]\ndeveloper = \"Meta\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Line("vars.developer", "vars"); got != 6 {
		t.Errorf("Line(vars.developer) = %d, want 6", got)
	}
	if got := c.Line("vars.model_name", "vars"); got != 5 {
		t.Errorf("Line of a key the file lacks, then its table = %d, want 5", got)
	}
	if got := c.Line("nosuch"); got != 0 {
		t.Errorf("Line(nosuch) = %d, want 0", got)
	}
}
