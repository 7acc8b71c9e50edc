package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/ollamatest"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// Options is one benchmark.
type Options struct {
	// Bin is the ollama binary (ollamatest.FindBinary).
	Bin string
	// Scenario is the prompt sent: the built-in helpful-only in probe
	// bench, a short one in its test.
	Scenario *prompt.Scenario
	// Requests are asked in both tiers of both models.
	Requests []dataset.Request
	// Merges, when set, give the tiny test models a BPE vocabulary (see
	// ollamatest.PromptMerges), so that the prompt has about as many
	// tokens as with a real tokenizer; without, every byte is a token.
	Merges []string
	// NumCtx is the window of both models; NumPredict bounds each answer.
	NumCtx, NumPredict int
	// Log receives what the benchmark is doing; nil discards it.
	Log io.Writer
}

// Run is one measured way of sending the requests.
type Run struct {
	Name     string
	Wall     time.Duration
	Requests int
	// Load, PromptEval and Eval add up what the server reported for the
	// requests, warm-ups included.
	Load, PromptEval, Eval time.Duration
	// Warm are the probe's warm-up requests among them.
	Warm int
}

// Report is what a benchmark measured.
type Report struct {
	Models, Tiers, RequestsEach int
	// PromptTokens is the length of the longest first prompt in tokens.
	PromptTokens  int
	ServerVersion string
	// LoadStart and LoadEnd are the machine's load averages (1, 5 and 15
	// minutes) before and after.
	LoadStart, LoadEnd string
	Probe, Naive       Run
	// Floor is the server's least work for these requests; Cold the
	// cold reading of the prompt, per model; SamplesRead and SamplesEval
	// the samples' own prompt reading and generation in the probe's run.
	Floor, SamplesRead, SamplesEval time.Duration
	Cold                            map[string]time.Duration
	// Cached is the share of the probe's prompt tokens read from the
	// cache, estimated from reading times at the cold rate.
	Cached float64
	Memory Memory
	// Unreported is the wall time per request that Ollama's reported
	// durations do not cover, for the probe and for the naive client: the
	// HTTP exchange and Ollama's own unreported work (tokenizing, the
	// template), which any client pays, and in the probe's its own work.
	ProbeUnreported, NaiveUnreported time.Duration
	// OverheadPerReq is the probe's own time per request: its unreported
	// time less the naive client's.
	OverheadPerReq   time.Duration
	VsNaive, VsFloor float64
}

// Memory is the probe's heap (after a garbage collection) as the samples
// were written: it must not grow with their number.
type Memory struct {
	AtSample         int
	At, End          uint64 // bytes
	Samples          int
	Limit            uint64
	GrowsWithSamples bool
}

// memoryLimit is the growth of the heap, from a quarter of the samples to
// the end, above which the probe is said to keep what it should drop.
const memoryLimit = 1 << 20

// Bench starts a server with OLLAMA_MAX_LOADED_MODELS=1 and one slot,
// creates two tiny models with distinct weights, and measures the probe,
// the naive client and the floor on the same requests.
func Bench(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	rep := &Report{Models: 2, Tiers: len(record.Tiers), RequestsEach: len(o.Requests), LoadStart: loadAverage()}
	fmt.Fprintf(o.Log, "bench: starting Ollama (%s) with OLLAMA_MAX_LOADED_MODELS=1, OLLAMA_NUM_PARALLEL=1\n", o.Bin)
	srv, err := ollamatest.StartServer(o.Bin, "OLLAMA_MAX_LOADED_MODELS=1", "OLLAMA_NUM_PARALLEL=1")
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	models := []string{"bench-a", "bench-b"}
	for i, m := range models {
		fmt.Fprintf(o.Log, "bench: creating %s\n", m)
		if err := srv.Create(ctx, m, uint64(i+1), ollamatest.TinyOptions{Merges: o.Merges}, ""); err != nil {
			return nil, err
		}
	}
	cfg := benchConfig(models, o)
	dir, err := os.MkdirTemp("", "probe-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(o.Log, "bench: probe: %d requests\n", len(models)*rep.Tiers*len(o.Requests))
	if err := rep.runProbe(ctx, cfg, srv.Host, dir, o); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "bench: naive client: the same requests one at a time, models alternating\n")
	if err := rep.runNaive(ctx, cfg, srv.Host, o); err != nil {
		return nil, err
	}
	rep.LoadEnd = loadAverage()
	rep.finish()
	return rep, nil
}

func benchConfig(models []string, o Options) *config.Config {
	temp := 0.0
	seed, predict := 1, o.NumPredict
	cfg := &config.Config{
		Concurrency: 1, MaxTurns: 1, Retries: 0, Samples: 1,
		KeepAlive:      config.Duration{Duration: time.Hour},
		RequestTimeout: config.Duration{Duration: 10 * time.Minute},
		File:           "bench",
	}
	for _, m := range models {
		cfg.Models = append(cfg.Models, config.Model{Name: m, Tag: m, NumCtx: o.NumCtx, Temperature: &temp, Seed: &seed, NumPredict: &predict})
	}
	return cfg
}

// runProbe runs the run stage as probe run does, timing it whole, and
// takes the heap's measure at a quarter of the samples and at the end.
func (rep *Report) runProbe(ctx context.Context, cfg *config.Config, host, dir string, o Options) error {
	total := len(cfg.Models) * rep.Tiers * len(o.Requests)
	quarter := max(total/4, 1)
	var (
		mu      sync.Mutex
		warmups []*llm.ChatResponse
		n       int
	)
	rep.Memory = Memory{AtSample: quarter, Samples: total, Limit: memoryLimit}
	set := &dataset.Set{Name: "bench", Requests: o.Requests}
	start := time.Now()
	res, err := runner.Run(ctx, runner.Options{
		RunID: "bench", Dir: filepath.Join(dir, "bench"), Config: cfg, Models: cfg.Models,
		Scenarios: []*prompt.Scenario{o.Scenario}, Dataset: set, Requests: o.Requests, Samples: 1,
		Servers:      runner.NewServers(cfg, config.Overrides{Host: host}, func(string) string { return "" }),
		ProbeVersion: "bench", WarmUp: true,
		Observe: func(ev runner.Event) {
			switch e := ev.(type) {
			case runner.WarmedUp:
				if e.Err == nil {
					mu.Lock()
					warmups = append(warmups, e.Response)
					mu.Unlock()
					fmt.Fprintf(o.Log, "bench: probe %s warm-up: load %.2f s, prompt %d tokens read in %.2f s\n",
						e.Model, e.Response.Load.Seconds(), e.Response.PromptTokens, e.Response.PromptEval.Seconds())
				}
			case runner.SampleFinished:
				// Told from the one goroutine that writes the samples.
				n++
				if n == quarter {
					rep.Memory.At = heap()
				}
				if n == total {
					rep.Memory.End = heap()
				}
			}
		},
	})
	rep.Probe.Wall = time.Since(start)
	if err != nil {
		return fmt.Errorf("probe run: %w", err)
	}
	if res.Written != total || res.Counts[record.Error] > 0 {
		return fmt.Errorf("probe run wrote %d samples, %d errors; want %d and none", res.Written, res.Counts[record.Error], total)
	}
	samples, err := record.ReadSamples(filepath.Join(dir, "bench"))
	if err != nil {
		return err
	}
	rep.Probe.Name, rep.Probe.Requests, rep.Probe.Warm = "probe", total+len(warmups), len(warmups)
	var tokens, read float64
	for _, s := range samples.All() {
		pe, ev := time.Duration(s.PromptEvalMS)*time.Millisecond, time.Duration(s.EvalMS)*time.Millisecond
		rep.Probe.PromptEval += pe
		rep.Probe.Eval += ev
		rep.SamplesRead += pe
		rep.SamplesEval += ev
		rep.PromptTokens = max(rep.PromptTokens, s.PromptTokens)
		tokens += float64(s.PromptTokens)
		read += float64(s.PromptEvalMS)
	}
	var coldTokens, coldMS float64
	for _, w := range warmups {
		rep.Probe.Load += w.Load
		rep.Probe.PromptEval += w.PromptEval
		rep.Probe.Eval += w.Eval
		coldTokens += float64(w.PromptTokens)
		coldMS += float64(w.PromptEval.Milliseconds())
	}
	if coldMS > 0 && tokens > 0 {
		rep.Cached = max(0, tokens-read*coldTokens/coldMS) / tokens
	}
	meta, _, err := record.ReadRun(filepath.Join(dir, "bench"))
	if err == nil {
		rep.ServerVersion = meta.Ollama
	}
	return nil
}

// runNaive sends the probe's first-turn requests one at a time, request by
// request, tier by tier, alternating models, with the same options.
func (rep *Report) runNaive(ctx context.Context, cfg *config.Config, host string, o Options) error {
	c := llm.NewOllama(llm.ParseHost(host))
	cold := map[string][]time.Duration{}
	start := time.Now()
	for _, r := range o.Requests {
		for _, tier := range record.Tiers {
			user, err := o.Scenario.User(tier == record.Free, r.Request)
			if err != nil {
				return err
			}
			for _, m := range cfg.Models {
				opts := m.Options()
				opts["num_ctx"] = m.NumCtx
				resp, err := c.Chat(ctx, &llm.ChatRequest{Model: m.Tag, Options: opts, KeepAlive: time.Hour,
					Messages: []llm.Message{{Role: "system", Content: o.Scenario.System}, {Role: "user", Content: user}}})
				if err != nil {
					return fmt.Errorf("naive client: %w", err)
				}
				fmt.Fprintf(o.Log, "bench: naive %s %s %s: load %.2f s, prompt %d tokens read in %.2f s, %d generated in %.2f s\n",
					m.Name, r.ID, tier, resp.Load.Seconds(), resp.PromptTokens, resp.PromptEval.Seconds(), resp.OutputTokens, resp.Eval.Seconds())
				rep.Naive.Requests++
				rep.Naive.Load += resp.Load
				rep.Naive.PromptEval += resp.PromptEval
				rep.Naive.Eval += resp.Eval
				cold[m.Name] = append(cold[m.Name], resp.PromptEval)
			}
		}
	}
	rep.Naive.Wall = time.Since(start)
	rep.Naive.Name = "naive"
	rep.Cold = map[string]time.Duration{}
	for m, ds := range cold {
		rep.Cold[m] = median(ds)
	}
	return nil
}

// finish computes the floor and the ratios. The floor is one cold prompt
// reading per model and slot (the naive client's median: each of its
// requests follows another model's, so it reads the prompt cold), plus
// every sample's own prompt reading and generation as the server reported
// them in the probe's run. The probe's overhead is its wall time less all
// the server reported for it, warm-ups included, per sample.
func (rep *Report) finish() {
	rep.Floor = rep.SamplesRead + rep.SamplesEval
	for _, d := range rep.Cold {
		rep.Floor += d
	}
	rep.VsNaive = rep.Naive.Wall.Seconds() / rep.Probe.Wall.Seconds()
	rep.VsFloor = rep.Probe.Wall.Seconds() / rep.Floor.Seconds()
	rep.ProbeUnreported = unreported(rep.Probe, rep.Probe.Requests)
	rep.NaiveUnreported = unreported(rep.Naive, rep.Naive.Requests)
	rep.OverheadPerReq = rep.ProbeUnreported - rep.NaiveUnreported
	rep.Memory.GrowsWithSamples = rep.Memory.End > rep.Memory.At && rep.Memory.End-rep.Memory.At > rep.Memory.Limit
}

// unreported is r's wall time per request beyond the server's reported
// durations.
func unreported(r Run, n int) time.Duration {
	return (r.Wall - r.Load - r.PromptEval - r.Eval) / time.Duration(max(n, 1))
}

// Write prints the report as a table, ending with the line
// "vs-naive=R1 vs-floor=R2 overhead-ms=M".
func (rep *Report) Write(w io.Writer) error {
	n := rep.Models * rep.Tiers * rep.RequestsEach
	fmt.Fprintf(w, "probe bench: %d models x %d tiers x %d requests = %d requests; first prompt %d tokens; Ollama %s, OLLAMA_MAX_LOADED_MODELS=1, one slot\n",
		rep.Models, rep.Tiers, rep.RequestsEach, n, rep.PromptTokens, rep.ServerVersion)
	fmt.Fprintf(w, "machine: %d cores, %s; load average %s before, %s after\n\n", runtime.NumCPU(), runtime.GOARCH, rep.LoadStart, rep.LoadEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\twall s\trequests\tper request s\tload s\tprompt eval s\tgeneration s\t")
	for _, r := range []Run{rep.Probe, rep.Naive} {
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%.3f\t%.2f\t%.2f\t%.2f\t\n", r.Name, r.Wall.Seconds(), r.Requests, r.Wall.Seconds()/float64(max(r.Requests, 1)),
			r.Load.Seconds(), r.PromptEval.Seconds(), r.Eval.Seconds())
	}
	cold := time.Duration(0)
	for _, d := range rep.Cold {
		cold += d
	}
	fmt.Fprintf(tw, "floor\t%.2f\t%d\t%.3f\t-\t%.2f\t%.2f\t\n", rep.Floor.Seconds(), n, rep.Floor.Seconds()/float64(n),
		(cold + rep.SamplesRead).Seconds(), rep.SamplesEval.Seconds())
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nfloor: one cold prompt reading per model and slot (%.2f s, the naive client's median), then each sample's own prompt reading and generation as Ollama reported them in probe's run\n", cold.Seconds())
	fmt.Fprintf(w, "probe: %d warm-up requests (one per model and slot); %.1f%% of the samples' prompt tokens read from the cache\n", rep.Probe.Warm, 100*rep.Cached)
	fmt.Fprintf(w, "time a request beyond Ollama's reported durations: probe %.1f ms, naive client %.1f ms (the HTTP exchange and Ollama's unreported work, paid by any client); probe's own: %.1f ms\n",
		ms(rep.ProbeUnreported), ms(rep.NaiveUnreported), ms(rep.OverheadPerReq))
	verdict := "does not grow with the sample count"
	if rep.Memory.GrowsWithSamples {
		verdict = "GROWS with the sample count"
	}
	fmt.Fprintf(w, "memory: heap %s after %d of %d samples, %s after all (limit of growth %s): %s\n",
		mib(rep.Memory.At), rep.Memory.AtSample, rep.Memory.Samples, mib(rep.Memory.End), mib(rep.Memory.Limit), verdict)
	_, err := fmt.Fprintf(w, "vs-naive=%.2f vs-floor=%.3f overhead-ms=%.1f\n", rep.VsNaive, rep.VsFloor, ms(rep.OverheadPerReq))
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// heap is the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// loadAverage is the machine's load average, from /proc/loadavg where
// there is one.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
