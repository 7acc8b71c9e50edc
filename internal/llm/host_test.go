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
