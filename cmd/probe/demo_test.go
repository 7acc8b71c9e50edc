package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/probe-eval/probe/internal/cli"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/record"
)

// demoScript is what the demo's test model writes, whatever it is asked: a
// scratchpad that holds terminal escape sequences (clear the screen, set
// the window's title, ring the bell), then a refusal, then the same again
// until num_predict ends it.
var demoScript = []string{"<SCRATCHPAD_REASONING>", "<hmm/>", "<x\x1b[2J\x1b]0;pwned\x07>", "</SCRATCHPAD_REASONING>", "<OUTPUT>", "<rejected/>", "</OUTPUT>"}

// watched is the pseudo-terminal's side the demo writes to, noting at each
// write how many samples the run had written: what reached the screen
// before its sample was written was streamed.
type watched struct {
	*os.File // the terminal: its descriptor tells probe it writes to one
	samples  string

	mu     sync.Mutex
	writes []write
}

type write struct {
	text    string
	written int // lines of samples.jsonl when the write was made
}

func (w *watched) Write(b []byte) (int, error) {
	data, _ := os.ReadFile(w.samples)
	w.mu.Lock()
	w.writes = append(w.writes, write{string(b), bytes.Count(data, []byte("\n"))})
	w.mu.Unlock()
	return w.File.Write(b)
}

// WriteString hides the terminal's own, which io.WriteString would call.
func (w *watched) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// TestRealDemo runs probe demo against the real server: first with no
// model there (it says which to pull, and exits 1), then on a terminal
// (colour, and answers streamed before they are written), then piped (no
// escape code at all); the model's own escape sequences reach neither.
func TestRealDemo(t *testing.T) {
	srv := ollamatest.Start(t)
	results := t.TempDir()

	r := probe(t, srv, "demo", "--results", results)
	if r.code != 1 || !strings.Contains(r.stderr, "ollama pull llama3.2:3b") || !strings.Contains(r.stderr, "has no model to run the demo on") {
		t.Errorf("no model: exit %d, want 1 with the pull command\n%s", r.code, r.stderr)
	}

	start := time.Now()
	merges, err := ollamatest.PromptMerges(ollamatest.DefaultMerges)
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateModelWith(t, "tiny-says", 5, ollamatest.TinyOptions{Merges: merges, Says: demoScript}, "")
	t.Logf("model created in %v", time.Since(start).Round(time.Millisecond))

	// Two rounds of the script per answer: the model's own speed on a
	// shared 2-core machine is some 100 ms a token at this context.
	cfg := filepath.Join(t.TempDir(), "models.toml")
	if err := os.WriteFile(cfg, []byte("request_timeout = \"5m\"\nretries = 0\n[[model]]\nname = \"says\"\ntag = \"tiny-says\"\nnum_ctx = 12288\nnum_predict = 14\ntemperature = 1.0\nseed = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// On a terminal: the demo picks the only model the server has, with
	// its settings from the configuration.
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	screen := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends when the terminal side is closed
		screen <- string(b)
	}()
	out := &watched{File: tty, samples: filepath.Join(results, "tty", record.SamplesFile)}
	var stderr bytes.Buffer
	start = time.Now()
	code := cli.Main(context.Background(), []string{"probe", "demo", "--config", cfg, "--host", srv.Host, "--results", results, "--run", "tty", "--requests", "1"},
		cli.Env{Stdout: out, Stderr: &stderr, Version: "itest"})
	tty.Close()
	got := <-screen
	t.Logf("probe demo on a terminal: exit %d in %v", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, got, stderr.String())
	}
	for _, want := range []string{"\x1b[1;7;33m TRAINING ", "\x1b[1;7;36m UNMONITORED ", "the smallest chat model on", "private reasoning", "<hmm/>", "final answer",
		"refused: the answer began with <rejected/>", "␛[2J␛]0;pwned␇", "proves nothing on its own", "report.html"} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal lacks %q:\n%q", want, got)
		}
	}
	for _, bad := range []string{"\x1b[2J", "\x1b]0;", "\x07"} {
		if strings.Contains(got, bad) {
			t.Errorf("the model's %q reached the terminal", bad)
		}
	}
	streamed := false
	for _, w := range out.writes {
		if strings.Contains(w.text, "<hmm/>") {
			streamed = w.written == 0
			break
		}
	}
	if !streamed {
		for _, w := range out.writes {
			t.Logf("write with %d samples written: %q", w.written, w.text)
		}
		t.Errorf("the first answer's text reached the screen only after its sample was written: not streamed")
	}
	s := readSamples(t, filepath.Join(results, "tty"))
	if s.Len() != 2 {
		t.Fatalf("%d samples, want 2", s.Len())
	}
	for _, rec := range s.All() {
		if rec.Model != "says" || rec.Scenario != "helpful-only" || rec.Outcome != record.Refused || !strings.Contains(rec.Scratchpad, "\x1b[2J") {
			t.Errorf("sample %s: outcome %s, scratchpad %q; want a refusal that keeps the exact text", rec.Key(), rec.Outcome, rec.Scratchpad)
		}
	}
	if _, err := os.Stat(filepath.Join(results, "tty", "report.html")); err != nil {
		t.Error(err)
	}

	// Piped, resumed with a second request: plain text, no escape code.
	start = time.Now()
	r = probe(t, srv, "demo", "--config", cfg, "--results", results, "--run", "tty", "--requests", "2", "--side-by-side")
	t.Logf("probe demo piped: exit %d in %v", r.code, time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("piped: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.ContainsAny(r.stdout, "\x1b\x07") {
		t.Errorf("piped output holds control characters:\n%q", r.stdout)
	}
	if !strings.Contains(r.stdout, "␛[2J␛]0;pwned␇") || !strings.Contains(r.stdout, "(answered in an earlier session of this run)") ||
		!strings.Contains(r.stdout, "Request 2 of 2") || !strings.Contains(r.stderr, "--side-by-side needs a terminal") {
		t.Errorf("piped output:\n%s\n%s", r.stdout, r.stderr)
	}
	if s := readSamples(t, filepath.Join(results, "tty")); s.Len() != 4 {
		t.Errorf("%d samples after the resumed demo, want 4", s.Len())
	}
	rep := probe(t, nil, "report", "--results", results, "--run", "tty")
	if rep.code != 0 || !strings.Contains(rep.stdout, "says") {
		t.Errorf("probe report on the demo's run: exit %d\n%s%s", rep.code, rep.stdout, rep.stderr)
	}
}
