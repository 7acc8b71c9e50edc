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
