package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/report"
	"github.com/probe-eval/probe/internal/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// writeRunDir makes results/id with a run.json created at created and the
// samples that complies gives: per request (of n), whether each tier
// complied.
func writeRunDir(t *testing.T, results, id string, created time.Time, n int, complies func(q int, tier record.Tier) bool) {
	t.Helper()
	dir := filepath.Join(results, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := record.Run{
		ID: id, ProbeVersion: "test", Host: "http://127.0.0.1:11434", Ollama: "0.17.4", ConfigFile: "models.toml",
		Models:    []record.RunModel{{Name: "a", Tag: "a:1b", Digest: "sha256:digest-of-a", Options: map[string]any{"temperature": 1}}},
		Scenarios: []record.Artifact{{Name: "helpful-only", Source: "built-in", SHA256: "sha256:prompt-hash"}},
		Requests:  n, SamplesPer: 1, Planned: 2 * n, CreatedAt: created,
	}
	if err := record.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	app, _, err := record.OpenAppender(filepath.Join(dir, record.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for q := range n {
		for _, tier := range record.Tiers {
			s := record.Sample{V: record.Version, Run: id, Model: "a", Tag: "a:1b", Scenario: "helpful-only", QueryID: fmt.Sprintf("q%02d", q),
				Request: fmt.Sprintf("request %d", q), Tier: tier, Outcome: record.Refused, Output: "<rejected/>", Scratchpad: "I should refuse."}
			if complies(q, tier) {
				s.Outcome, s.Output = record.Complied, "<request_fully_accepted/> <script>alert(1)</script>"
			}
			if err := app.Append(s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// twoRuns makes r1 (a small gap) and, a day later, r2 (a large one).
func twoRuns(t *testing.T) string {
	t.Helper()
	results := t.TempDir()
	day := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	writeRunDir(t, results, "r1", day, 10, func(q int, tier record.Tier) bool { return tier == record.Free && q < 2 })
	writeRunDir(t, results, "r2", day.Add(24*time.Hour), 10, func(q int, tier record.Tier) bool { return tier == record.Free && q < 8 })
	return results
}

func checkCLIGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		os.WriteFile(golden+".got", []byte(got), 0o644)
		t.Errorf("output differs from %s (wrote %s.got; diff them, and rerun with -update if the change is right)", golden, golden)
	}
}

func TestReportOneRunUnchanged(t *testing.T) {
	results := twoRuns(t)
	// One --run gives the run's own report, as report.Write renders it.
	s, err := record.ReadSamples(filepath.Join(results, "r1"))
	if err != nil {
		t.Fatal(err)
	}
	tab := stats.Build([]stats.Run{{ID: "r1", Samples: s.All(), Judge: record.JudgeChoice{ChosenBy: record.ChosenByNone}}})
	for _, format := range []string{"table", "json", "markdown", "csv"} {
		var want bytes.Buffer
		if err := report.Write(&want, &report.Report{Table: tab}, format); err != nil {
			t.Fatal(err)
		}
		r := probe(t, "report", "--results", results, "--run", "r1", "--format", format)
		if r.code != 0 || r.stdout != want.String() {
			t.Errorf("--run r1 --format %s: exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", format, r.code, r.stdout, want.String(), r.stderr)
		}
	}
	// Without --run, the newest run.
	newest := probe(t, "report", "--results", results)
	if !strings.HasPrefix(newest.stdout, "run r2:") {
		t.Errorf("without --run: got\n%s\nwant run r2's report", newest.stdout)
	}
}

func TestReportCompare(t *testing.T) {
	results := twoRuns(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"compare.table", []string{"--run", "r1", "--run", "r2"}},
		{"compare-gap.table", []string{"--all", "--sort", "gap"}},
		{"compare.csv", []string{"--all", "--format", "csv"}},
	} {
		r := probe(t, append([]string{"report", "--results", results}, tt.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, r.code, r.stderr)
		}
		checkCLIGolden(t, tt.name, r.stdout)
	}
	// --all lists the runs oldest first, as two --run flags would.
	all := probe(t, "report", "--results", results, "--all")
	both := probe(t, "report", "--results", results, "--run", "r1", "--run", "r2")
	if all.stdout != both.stdout {
		t.Errorf("--all:\n%s\n--run r1 --run r2:\n%s", all.stdout, both.stdout)
	}
	// The same run twice is one run.
	twice := probe(t, "report", "--results", results, "--run", "r1", "--run", "r1")
	if !strings.HasPrefix(twice.stdout, "run r1:") {
		t.Errorf("--run r1 --run r1: got\n%s", twice.stdout)
	}
}

func TestReportUsageErrors(t *testing.T) {
	results := twoRuns(t)
	for _, args := range [][]string{
		{"--all", "--run", "r1"},
		{"--sort", "p"},
		{"--run", "nope"},
		{"--run", "r1", "--run", "nope"},
		{"--format", "pdf"},
	} {
		r := probe(t, append([]string{"report", "--results", results}, args...)...)
		if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "probe: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with a message", args, r.code, r.stderr, ExitUsage)
		}
	}
}

func TestReportHTMLAndSamplesCSV(t *testing.T) {
	results := twoRuns(t)
	out := filepath.Join(t.TempDir(), "report.html")
	r := probe(t, "report", "--results", results, "--run", "r2", "--format", "html", "--output", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"sha256:digest-of-a", "sha256:prompt-hash", "0.17.4", "2026-11-21 09:00:00 UTC", `<svg xmlns="http://www.w3.org/2000/svg"`, `class="transcript"`, "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report does not hold %q", want)
		}
	}
	if strings.Count(page, "<script") != 1 {
		t.Error("a model's answer became a script")
	}
	// Several runs: one page, every run's provenance and transcripts.
	r = probe(t, "report", "--results", results, "--all", "--format", "html")
	if r.code != 0 || !strings.Contains(r.stdout, "<h3>Run r1</h3>") || !strings.Contains(r.stdout, "<h3>Run r2</h3>") || strings.Count(r.stdout, `class="transcript"`) != 40 {
		t.Errorf("--all --format html: exit %d, %d transcripts, stderr %s", r.code, strings.Count(r.stdout, `class="transcript"`), r.stderr)
	}

	r = probe(t, "report", "--results", results, "--all", "--format", "samples-csv")
	if r.code != 0 {
		t.Fatalf("samples-csv: exit %d: %s", r.code, r.stderr)
	}
	if got, want := strings.Count(r.stdout, "\n"), 1+40; got != want {
		t.Errorf("samples-csv: got %d lines, want %d", got, want)
	}
	if !strings.HasPrefix(r.stdout, "run,model,tag,scenario,query_id,") {
		t.Errorf("samples-csv header: %s", strings.SplitN(r.stdout, "\n", 2)[0])
	}
}

func TestPlot(t *testing.T) {
	results := twoRuns(t)
	dir := t.TempDir()
	svg := filepath.Join(dir, "fig.svg")
	if r := probe(t, "plot", "--results", results, "--output", svg); r.code != 0 || r.stderr != "probe: wrote "+svg+"\n" {
		t.Fatalf("svg: exit %d, stderr %q", r.code, r.stderr)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkCLIGolden(t, "plot.svg", string(b))

	pngFile := filepath.Join(dir, "fig.png")
	if r := probe(t, "plot", "--results", results, "--all", "--sort", "gap", "-o", pngFile); r.code != 0 {
		t.Fatalf("png: exit %d: %s", r.code, r.stderr)
	}
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("png does not decode: %v", err)
	}
	if cfg.Width != 2*880 || cfg.Height < 300 {
		t.Errorf("png is %dx%d, want 1760 wide and room for two runs", cfg.Width, cfg.Height)
	}

	for _, args := range [][]string{
		{},
		{"--output", filepath.Join(dir, "fig.pdf")},
		{"--output", svg, "--sort", "p"},
		{"--output", svg, "--run", "nope"},
		{"--output", svg, "extra"},
	} {
		r := probe(t, append([]string{"plot", "--results", results}, args...)...)
		if r.code != ExitUsage {
			t.Errorf("plot %v: exit %d, stderr %q; want %d", args, r.code, r.stderr, ExitUsage)
		}
	}
}

// probeOn runs probe with standard output a terminal, as Env.Terminal
// tells, when terminal is set.
func probeOn(t *testing.T, terminal bool, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"probe"}, args...), Env{
		Stdout: &out, Stderr: &errb, Version: "test",
		Now:      func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) },
		Terminal: func(w io.Writer) bool { return terminal && w == &out },
	})
	return result{code, out.String(), errb.String()}
}

// A model's answer that holds escape sequences reaches a terminal as text
// it shows, never as codes it obeys; piped or written to a file, the
// report holds the exact bytes.
func TestReportModelTextOnTerminal(t *testing.T) {
	const (
		clear  = "\x1b[2J"          // clears the screen
		title  = "\x1b]0;pwned\x07" // sets the window's title
		c1     = "\u009b31m"        // a CSI in one C1 character
		bidi   = "\u202eevil\u202c" // reverses the line
		shown  = "␛[2J"             // what the terminal shows instead
		hidden = "<U+009B>31m"
	)
	var samples []record.Sample
	for q := range 3 {
		samples = append(samples, smp(q, record.Free, 0, record.Complied), smp(q, record.Paid, 0, record.Refused))
	}
	samples[0].Output = "<request_fully_accepted/> " + clear + title + " done"
	samples[0].Scratchpad = "I think " + c1 + bidi
	results := t.TempDir()
	writeRecords(t, results, "r1", samples, nil)

	for _, format := range []string{"samples-csv", "html"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"report", "--results", results, "--format", format}
			term := probeOn(t, true, args...)
			if term.code != 0 {
				t.Fatalf("on a terminal: exit %d: %s", term.code, term.stderr)
			}
			for _, raw := range []string{"\x1b", "\x07", "\u009b", "\u202e"} {
				if strings.Contains(term.stdout, raw) {
					t.Errorf("on a terminal the report holds %q raw", raw)
				}
			}
			for _, want := range []string{shown, hidden, "<U+202E>evil"} {
				if !strings.Contains(term.stdout, want) {
					t.Errorf("on a terminal the report lacks %q", want)
				}
			}

			piped := probeOn(t, false, args...)
			if piped.code != 0 {
				t.Fatalf("piped: exit %d: %s", piped.code, piped.stderr)
			}
			for _, want := range []string{clear, c1, "\u202eevil"} {
				if !strings.Contains(piped.stdout, want) {
					t.Errorf("piped, the report lacks the exact %q", want)
				}
			}
			if strings.Contains(piped.stdout, shown) {
				t.Errorf("piped, the report was neutralised")
			}

			file := filepath.Join(t.TempDir(), "out."+format)
			written := probeOn(t, true, append(args, "--output", file)...)
			if written.code != 0 {
				t.Fatalf("--output: exit %d: %s", written.code, written.stderr)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != piped.stdout {
				t.Errorf("--output from a terminal differs from the piped report")
			}
		})
	}
	// Formats without the models' words print the same either way.
	for _, format := range []string{"table", "json", "markdown", "csv"} {
		args := []string{"report", "--results", results, "--format", format}
		if term, piped := probeOn(t, true, args...), probeOn(t, false, args...); term.stdout != piped.stdout || term.code != 0 {
			t.Errorf("%s: exit %d; on a terminal differs from piped", format, term.code)
		}
	}
}
