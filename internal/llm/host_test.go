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

// CheckHost refuses what ParseHost would read into another server than the
// one meant, and passes every form Ollama accepts.
func TestCheckHost(t *testing.T) {
	for _, ok := range []string{"", "localhost", "127.0.0.1:11434", ":8080", "[::1]:11434", "::1", "http://gpu-1:8000/v1", "https://example.com", "ollama.com", `"http://h:1"`} {
		if err := CheckHost(ok); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"not a url", "http://gpu 1:8000", "ftp://h:21", "localhost:99999", "localhost:0", "h:port", "http://h:11434x/v1", "host\x1b[2J"} {
		if err := CheckHost(bad); err == nil {
			t.Errorf("CheckHost(%q) = nil, want an error", bad)
		}
	}
}
