package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/fakeollama"
)

// probeOnTerminal is probe with standard output and standard error on a
// terminal.
func probeOnTerminal(t *testing.T, args ...string) result {
	t.Helper()
	return probeWith(t, Env{Terminal: func(io.Writer) bool { return true }, Getenv: func(string) string { return "" }}, args...)
}

// escapeAt shows where s first holds an ESC, or "" when it holds none.
func escapeAt(s string) string {
	i := strings.IndexByte(s, 0x1b)
	if i < 0 {
		return ""
	}
	return s[max(0, i-60):min(len(s), i+30)]
}

// Text from a data file (a request, a category) and from a server (an
// error) never reaches a terminal as escape sequences: not in probe
// prompt, not in the report probe run ends with, not in any format of
// probe report, not in the error line. Piped, the same output is exact.
func TestTerminalNeverGetsEscapes(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "esc.jsonl")
	if err := os.WriteFile(data, []byte(`{"id":"x1","request":"hello \u001b[2J cleared","category":"cat\u001b]0;pwned\u0007"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "p", "byc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "byc", "scenario.toml"), []byte("name = \"byc\"\nbase = \"helpful-only\"\nbreakdown = \"category\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := probeOnTerminal(t, "prompt", "--data", data)
	if r.code != 0 || escapeAt(r.stdout) != "" || !strings.Contains(r.stdout, "hello ␛[2J cleared") {
		t.Errorf("probe prompt on a terminal: exit %d, raw ESC at %q:\n%s", r.code, escapeAt(r.stdout), r.stderr)
	}
	if r := probe(t, "prompt", "--data", data); !strings.Contains(r.stdout, "hello \x1b[2J cleared") {
		t.Errorf("probe prompt piped is not the exact prompt:\n%s", r.stdout)
	}

	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 65536})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		if strings.Contains(req.Messages[1].Content, "False<") {
			return fakeollama.Reply{Status: 500, Error: "boom \x1b[2J"}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>\x1b[2J</SCRATCHPAD_REASONING><OUTPUT>\x1b]0;x\x07<request_fully_accepted/></OUTPUT>"}, PromptTokens: 200}
	}
	cfg := writeConfig(t, "retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 32768\n")
	results := t.TempDir()
	r = probeOnTerminal(t, "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "r1",
		"--data", data, "--prompts", filepath.Join(dir, "p"), "--scenario", "byc", "--no-judge")
	if escapeAt(r.stdout) != "" || strings.Contains(r.stderr, "\x1b[2J") || strings.Contains(r.stderr, "\x1b]0") {
		t.Errorf("probe run on a terminal: raw escapes at %q (stdout), %q (stderr)", escapeAt(r.stdout), escapeAt(r.stderr))
	}
	if !strings.Contains(r.stdout, "cat␛]0;pwned␇") {
		t.Errorf("probe run's report does not show the category as text:\n%s", r.stdout)
	}
	for _, format := range []string{"table", "markdown", "csv", "json", "html", "samples-csv"} {
		r := probeOnTerminal(t, "report", "--results", results, "--run", "r1", "--format", format)
		if r.code != 0 || escapeAt(r.stdout) != "" {
			t.Errorf("probe report --format %s on a terminal: exit %d, raw ESC at %q", format, r.code, escapeAt(r.stdout))
		}
	}
	if r := probe(t, "report", "--results", results, "--run", "r1", "--format", "markdown"); !strings.Contains(r.stdout, "cat\x1b]0;pwned\a") {
		t.Errorf("probe report piped does not keep the category exactly:\n%s", r.stdout)
	}

	// A server's error message, quoted by the line probe ends with.
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Status: 400, Error: "bad\x1b]0;pwned\x07\x1b[2J request"}
	}
	r = probeOnTerminal(t, "run", "--config", cfg, "--host", f.URL, "--results", t.TempDir(), "--no-judge", "--limit", "1")
	if r.code == 0 || strings.Contains(r.stderr, "\x1b]0;pwned") || strings.Contains(r.stderr, "\x1b[2J") || !strings.Contains(r.stderr, "␛[2J") {
		t.Errorf("exit %d: the server's message reached the terminal raw, or not at all:\n%q", r.code, r.stderr)
	}
}

// A --host that is not a server address is the user's to fix: one line
// that names the flag, exit 2, before any server is asked.
func TestMalformedHostIsAUsageError(t *testing.T) {
	cfg := writeConfig(t, oneModel)
	for _, args := range [][]string{
		{"run", "--host", "not a url", "--config", cfg, "--results", t.TempDir(), "--no-judge"},
		{"demo", "--host", "not a url", "--requests", "1", "--results", t.TempDir()},
		{"check", "--host", "localhost:99999", "--config", cfg},
		{"classify", "--host", "ftp://judge", "--results", t.TempDir()},
	} {
		r := probe(t, args...)
		if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "probe: --host: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("probe %s --host %q: exit %d, want %d and one line naming --host:\n%s", args[0], args[2], r.code, ExitUsage, r.stderr)
		}
	}
}
