package cli

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/record"
)

// slowFake answers every chat after a pause, so that a run lasts long
// enough for its progress to be drawn a few times.
func slowFake(t *testing.T) *fakeollama.Server {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING>", "<OUTPUT><rejected/></OUTPUT>"},
			PromptTokens: 200, OutputTokens: 12, Delay: 60 * time.Millisecond}
	}
	return f
}

// On a terminal (a pseudo-terminal here) probe run draws a live bar per
// model, redrawn in place; piped, it writes plain lines with no terminal
// codes at all; with --quiet, nothing.
func TestProgressOnTerminalOnly(t *testing.T) {
	f := slowFake(t)
	cfg := writeConfig(t, oneModel)
	args := func(results, id string, extra ...string) []string {
		return append([]string{"probe", "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", id, "--limit", "4",
			"--prompts", "../../prompts/testdata", "--scenario", "tiny", "--no-judge"}, extra...)
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 140}); err != nil {
		t.Fatal(err)
	}
	screen := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends when the terminal side is closed
		screen <- string(b)
	}()
	results := t.TempDir()
	var out bytes.Buffer
	code := Main(context.Background(), args(results, "tty"), Env{Stdout: &out, Stderr: tty, Version: "test"})
	tty.Close()
	got := <-screen
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, got)
	}
	if !strings.Contains(got, "\x1b[") {
		t.Errorf("no terminal codes on the terminal: the bars were not drawn live:\n%q", got)
	}
	for _, want := range []string{"8/8", "answers/min", "tokens/s", "0 errors", "wrote 8 samples"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	if s, _ := record.ReadSamples(filepath.Join(results, "tty")); s.Len() != 8 {
		t.Errorf("%d samples, want 8", s.Len())
	}

	var piped bytes.Buffer
	code = Main(context.Background(), args(results, "pipe"), Env{Stdout: &out, Stderr: &piped, Version: "test"})
	if code != 0 || strings.Contains(piped.String(), "\x1b") || !strings.Contains(piped.String(), "probe: a: 8/8, ") {
		t.Errorf("piped: exit %d, want plain lines and no terminal codes:\n%q", code, piped.String())
	}

	var quiet bytes.Buffer
	code = Main(context.Background(), args(results, "quiet", "--quiet"), Env{Stdout: &out, Stderr: &quiet, Version: "test"})
	if code != 0 || strings.Contains(quiet.String(), "8/8") || strings.Contains(quiet.String(), "answers/min") {
		t.Errorf("--quiet: exit %d, progress shown:\n%s", code, quiet.String())
	}
}
