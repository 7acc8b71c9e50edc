package llm

import (
	"testing"

	"github.com/ollama/ollama/envconfig"
)

// The probe must read OLLAMA_HOST exactly as Ollama does.
func TestParseHostMatchesOllama(t *testing.T) {
	for _, in := range []string{
		"", "127.0.0.1", "localhost", "example.com", ":11435", "0.0.0.0:8080",
		"http://10.0.0.5", "https://example.com", "http://example.com:99/ollama",
		"[::1]:11434", "::1", "[::1]", "host:notaport", "ollama.com", " 'localhost:1234' ",
		"https://h:70000",
	} {
		t.Run(in, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", in)
			want := envconfig.Host().String()
			if got := ParseHost(in).String(); got != want {
				t.Errorf("ParseHost(%q) = %s, want %s (Ollama's reading)", in, got, want)
			}
		})
	}
}

func TestResolveHostPrecedence(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "envhost:1")
	if got, want := ResolveHost("flaghost:2", "cfghost:3").String(), "http://flaghost:2"; got != want {
		t.Errorf("flag: got %s, want %s", got, want)
	}
	if got, want := ResolveHost("", "cfghost:3").String(), "http://envhost:1"; got != want {
		t.Errorf("env: got %s, want %s", got, want)
	}
	t.Setenv("OLLAMA_HOST", "")
	if got, want := ResolveHost("", "cfghost:3").String(), "http://cfghost:3"; got != want {
		t.Errorf("config: got %s, want %s", got, want)
	}
	if got, want := ResolveHost("", "").String(), DefaultHost; got != want {
		t.Errorf("default: got %s, want %s", got, want)
	}
}
