package bench

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
)

var lastLine = regexp.MustCompile(`^vs-naive=[0-9]+\.[0-9]{2} vs-floor=[0-9]+\.[0-9]{3} overhead-ms=-?[0-9]+\.[0-9]$`)

// checkShape checks the report's table and its last line, whatever the
// timings.
func checkShape(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !lastLine.MatchString(last) {
		t.Errorf("last line %q does not read vs-naive=R1 vs-floor=R2 overhead-ms=M", last)
	}
	for _, want := range []string{"probe bench: 2 models x 2 tiers x ", "load average", "wall s", "warm-up requests", "memory: heap "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, row := range []string{"probe", "naive", "floor"} {
		if !regexp.MustCompile(`(?m)^ +` + row + `( +[0-9.-]+){6}$`).MatchString(out) {
			t.Errorf("report has no %s row of six numbers:\n%s", row, out)
		}
	}
}

// The numbers as the report writes them: ratios, the overhead per sample
// and the memory verdict.
func TestReportWrite(t *testing.T) {
	rep := &Report{Models: 2, Tiers: 2, RequestsEach: 10, PromptTokens: 7500, ServerVersion: "0.17.4", LoadStart: "0.1 0.2 0.3", LoadEnd: "1 1 1",
		Probe:       Run{Name: "probe", Wall: 44 * time.Second, Requests: 42, Warm: 2, Load: time.Second, PromptEval: 24 * time.Second, Eval: 18 * time.Second},
		Naive:       Run{Name: "naive", Wall: 440 * time.Second, Requests: 40, PromptEval: 439 * time.Second},
		SamplesRead: 4 * time.Second, SamplesEval: 16 * time.Second, Cold: map[string]time.Duration{"a": 11 * time.Second, "b": 11 * time.Second},
		Memory: Memory{AtSample: 10, Samples: 40, At: 5 << 20, End: 5<<20 + 1000, Limit: memoryLimit},
	}
	rep.finish()
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	checkShape(t, b.String())
	// 440/44 = 10; 44/(20+22) = 1.048; (44 - 43) s / 42 requests = 23.8 ms,
	// less the naive client's (440 - 439) s / 40 = 25 ms.
	if !strings.HasSuffix(b.String(), "vs-naive=10.00 vs-floor=1.048 overhead-ms=-1.2\n") || !strings.Contains(b.String(), "does not grow with the sample count") {
		t.Errorf("report:\n%s", b.String())
	}
	rep.Memory.End = rep.Memory.At + 2<<20
	rep.finish()
	b.Reset()
	rep.Write(&b)
	if !strings.Contains(b.String(), "GROWS with the sample count") {
		t.Errorf("a heap grown by 2 MiB passed:\n%s", b.String())
	}
}

// The benchmark end to end at a small size, against the real server: its
// output has the table, the memory check passes, and it ends with the
// ratios line. The timings are not checked here (see the README).
func TestRealBenchSmall(t *testing.T) {
	bin := ollamatest.Binary(t) // skips under -short
	sc, err := prompt.Source{Dir: "../../prompts/testdata"}.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	rep, err := Bench(t.Context(), Options{Bin: bin, Scenario: sc, Requests: set.Requests[:2], NumCtx: 2048, NumPredict: 8, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	t.Log(b.String())
	checkShape(t, b.String())
	if rep.Probe.Requests != 8+2 || rep.Naive.Requests != 8 || rep.Probe.Warm != 2 {
		t.Errorf("probe sent %d requests (%d warm-ups), naive %d; want 8 samples and 2 warm-ups, and 8", rep.Probe.Requests, rep.Probe.Warm, rep.Naive.Requests)
	}
	if rep.Memory.GrowsWithSamples || rep.Memory.At == 0 || rep.Memory.End == 0 {
		t.Errorf("memory %+v: want two measures and no growth", rep.Memory)
	}
	if rep.Floor <= 0 || len(rep.Cold) != 2 || rep.PromptTokens <= 0 {
		t.Errorf("floor %v, cold %v, prompt %d tokens", rep.Floor, rep.Cold, rep.PromptTokens)
	}
}
