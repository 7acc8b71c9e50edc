package llm_test

import (
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/llm"
)

func TestConnect(t *testing.T) {
	env := map[string]string{"VLLM_KEY": "k"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		e    llm.Endpoint
		host string // Host() of the result, or the error's words
		err  bool
	}{
		{llm.Endpoint{Hosts: []string{"gpu-1"}}, "http://gpu-1:11434", false},
		{llm.Endpoint{Backend: "ollama", Hosts: []string{"a:1", "http://b:2"}}, "http://a:1, http://b:2", false},
		{llm.Endpoint{Backend: "openai", Hosts: []string{"http://gpu-1:8000/v1/"}, APIKeyEnv: "VLLM_KEY"}, "http://gpu-1:8000/v1", false},
		{llm.Endpoint{Backend: "openai", Hosts: []string{"gpu-1:8000"}}, "write it like http://gpu-1:8000/v1", true},
		{llm.Endpoint{Backend: "openai", Hosts: []string{"http://a/v1"}, APIKeyEnv: "UNSET_KEY"}, "api_key_env names UNSET_KEY, which is not set", true},
		{llm.Endpoint{Hosts: []string{"a"}, APIKeyEnv: "VLLM_KEY"}, `api_key_env is for backend = "openai"`, true},
		{llm.Endpoint{Backend: "vllm", Hosts: []string{"a"}}, `unknown backend "vllm"`, true},
		{llm.Endpoint{Backend: "openai"}, "no host", true},
		{llm.Endpoint{Hosts: []string{"a", "a"}}, "listed twice", true},
	}
	for _, tt := range tests {
		h, err := llm.Connect(tt.e, getenv, llm.HostsOptions{})
		switch {
		case tt.err && (err == nil || !strings.Contains(err.Error(), tt.host)):
			t.Errorf("Connect(%+v) = %v, want an error saying %q", tt.e, err, tt.host)
		case !tt.err && err != nil:
			t.Errorf("Connect(%+v): %v", tt.e, err)
		case !tt.err && h.Host() != tt.host:
			t.Errorf("Connect(%+v).Host() = %q, want %q", tt.e, h.Host(), tt.host)
		}
	}
}
