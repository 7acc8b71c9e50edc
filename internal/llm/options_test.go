package llm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/llm"
)

func TestCheckOptions(t *testing.T) {
	tests := []struct {
		backend string
		opts    map[string]any
		bad     []string // keys reported, in order
		msg     string
	}{
		{"", map[string]any{"num_ctx": 8192, "top_k": 40}, nil, ""},
		{"ollama", map[string]any{"num_ctx": 8192, "min_p": 0.1}, nil, ""},
		{"openai", map[string]any{"temperature": 0.7, "top_p": 0.9, "seed": 7, "num_predict": 256}, nil, ""},
		{"openai", map[string]any{"seed": 7.0, "num_predict": float64(12)}, nil, ""},
		{"openai", map[string]any{"temperature": 1.0, "num_ctx": 8192}, []string{"num_ctx"}, "--max-model-len"},
		{"openai", map[string]any{"top_k": 40, "repeat_penalty": 1.1, "min_p": 0.05}, []string{"min_p", "repeat_penalty", "top_k"}, `remove min_p for backend = "openai"`},
		{"openai", map[string]any{"seed": 1.5}, []string{"seed"}, "whole number"},
		{"openai", map[string]any{"temperature": "hot"}, []string{"temperature"}, "must be a number"},
	}
	for _, tt := range tests {
		err := llm.CheckOptions(tt.backend, tt.opts)
		var keys []string
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var oe *llm.OptionError
				if !errors.As(e, &oe) {
					t.Fatalf("%v: %T is not an *OptionError", e, e)
				}
				keys = append(keys, oe.Key)
			}
		}
		if strings.Join(keys, " ") != strings.Join(tt.bad, " ") {
			t.Errorf("CheckOptions(%q, %v) reported %v, want %v", tt.backend, tt.opts, keys, tt.bad)
		}
		if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
			t.Errorf("CheckOptions(%q, %v) = %v, want it to say %q", tt.backend, tt.opts, err, tt.msg)
		}
	}
	if err := llm.CheckOptions("vllm", nil); err == nil || !strings.Contains(err.Error(), `unknown backend "vllm"`) {
		t.Errorf("unknown backend: %v", err)
	}
}

func TestCheckThink(t *testing.T) {
	tests := []struct {
		backend string
		think   any
		ok      bool
	}{
		{"ollama", true, true},
		{"openai", nil, true},
		{"openai", "high", true},
		{"openai", false, true},
		{"openai", true, false},
		{"openai", "max", false},
	}
	for _, tt := range tests {
		err := llm.CheckThink(tt.backend, tt.think)
		var oe *llm.OptionError
		if (err == nil) != tt.ok || (err != nil && (!errors.As(err, &oe) || oe.Key != "think")) {
			t.Errorf("CheckThink(%q, %v) = %v, want ok %v", tt.backend, tt.think, err, tt.ok)
		}
	}
}
