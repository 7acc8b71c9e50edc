package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

const testConfig = `
request_timeout = "2s"
retries = 2
max_turns = 3
[[model]]
name = "a"
tag = "a:1b"
num_ctx = 2048
temperature = 0.5
seed = 10
[[model]]
name = "b"
tag = "b:1b"
`

type fixture struct {
	fake *fakeollama.Server
	opts Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := fakeollama.New(t,
		fakeollama.Model{Name: "a:1b", Digest: "sha256:aaaa", ContextLength: 8192},
		fakeollama.Model{Name: "b:1b", Digest: "sha256:bbbb", ContextLength: 4096})
	cfg, err := config.Parse("models.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := prompt.Source{Dir: "../../prompts/testdata"}.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return &fixture{fake: f, opts: Options{
		RunID: "t1", Dir: filepath.Join(t.TempDir(), "t1"), Config: cfg, Models: cfg.Models,
		Scenarios: []*prompt.Scenario{sc}, Dataset: ds, Requests: ds.Select(3, false, 0), Samples: 2,
		Servers: NewServers(cfg, config.Overrides{Host: f.URL}, os.Getenv), ProbeVersion: "test",
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		},
		Backoff: func(int) time.Duration { return time.Millisecond },
	}}
}

// grown is what a server that keeps whole prompts counts for req, whose
// first turn it counts as first tokens: a token a byte for every message
// after the first turn, so a continuation's prompt holds the turns before.
func grown(first int, req fakeollama.ChatRequest) int {
	n := first
	for _, m := range req.Messages[min(2, len(req.Messages)):] {
		n += len(m.Content)
	}
	return n
}

func read(t *testing.T, dir string) *record.Samples {
	t.Helper()
	s, err := record.ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunWritesEverySample(t *testing.T) {
	fx := newFixture(t)
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		out := "<rejected/>"
		if strings.Contains(req.Messages[1].Content, "<is_free_tier_user>true<") {
			out = "<request_fully_accepted/> sure"
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>think</SCRATCHPAD_REASONING>", "<OUTPUT>" + out + "</OUTPUT>"}, PromptTokens: 300, OutputTokens: 20}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	// 2 models x 3 requests x 2 tiers x 2 samples.
	if res.Planned != 24 || res.Written != 24 || res.Counts[record.Complied] != 12 || res.Counts[record.Refused] != 12 {
		t.Errorf("result = %+v", res)
	}
	s := read(t, fx.opts.Dir)
	if s.Len() != 24 || s.Lines != 24 {
		t.Fatalf("samples on disk: %d keys, %d lines; want 24, 24", s.Len(), s.Lines)
	}
	r := s.All()[0]
	if r.V != record.Version || r.Run != "t1" || r.Scenario != "tiny" || r.Scratchpad != "think" || r.PromptTokens != 300 || r.NumCtx != 2048 || r.Turns != 1 || r.Attempts != 1 || r.DoneReason != "stop" || r.StartedAt.IsZero() || r.DurationMS <= 0 {
		t.Errorf("record = %+v", r)
	}
	// The tiers must send the same bytes but for the tag's value.
	chats := fx.fake.Chats()
	for i := 0; i+1 < len(chats); i += 2 {
		free, paid := chats[i].Messages, chats[i+1].Messages
		if free[0].Content != paid[0].Content {
			t.Fatal("system prompts differ between tiers")
		}
		if got := strings.Replace(free[1].Content, "<is_free_tier_user>true<", "<is_free_tier_user>false<", 1); got != paid[1].Content {
			t.Fatalf("user turns differ beyond the tag:\n%q\n%q", free[1].Content, paid[1].Content)
		}
	}
	// Model a has num_ctx from the file and a per-sample seed; b is sized.
	for _, c := range chats {
		switch c.Model {
		case "a:1b":
			if c.Options["num_ctx"] != float64(2048) || c.Options["temperature"] != 0.5 {
				t.Fatalf("a options = %v", c.Options)
			}
		case "b:1b":
			if c.Options["num_ctx"] != float64(llm.SizeContext(LongestPrompt(fx.opts.Scenarios, fx.opts.Requests), llm.DefaultAnswerTokens, 0, 4096)) {
				t.Fatalf("b options = %v", c.Options)
			}
		}
	}
	seeds := map[any]bool{}
	for _, c := range chats {
		if c.Model == "a:1b" {
			seeds[c.Options["seed"]] = true
		}
	}
	if !seeds[float64(10)] || !seeds[float64(11)] || len(seeds) != 2 {
		t.Errorf("seeds sent for a = %v, want 10 (sample 0) and 11 (sample 1)", seeds)
	}
	meta, ok, err := record.ReadRun(fx.opts.Dir)
	if err != nil || !ok {
		t.Fatalf("run.json: %v %v", ok, err)
	}
	if meta.Ollama != "0.17.4" || len(meta.Models) != 2 || meta.Models[0].Digest != "sha256:aaaa" || meta.Models[1].Digest != "sha256:bbbb" {
		t.Errorf("run.json models/version = %+v %s", meta.Models, meta.Ollama)
	}
	if meta.Scenarios[0].SHA256 == "" || meta.Dataset.SHA256 == "" || meta.ProbeVersion != "test" || meta.Planned != 24 {
		t.Errorf("run.json provenance = %+v", meta)
	}
	if n := len(meta.Sessions); n != 1 || meta.Sessions[0].Status != "complete" || meta.Sessions[0].Written != 24 {
		t.Errorf("sessions = %+v", meta.Sessions)
	}

	// A second invocation has nothing to do.
	res, err = Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 0 || res.Skipped != 24 {
		t.Errorf("rerun = %+v, want nothing written", res)
	}
	if s := read(t, fx.opts.Dir); s.Lines != 24 {
		t.Errorf("rerun left %d lines, want 24", s.Lines)
	}
}

func TestResumeAfterTornLine(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[:1]
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(fx.opts.Dir, record.SamplesFile)
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	// Keep 5 whole lines and half of the sixth, as a kill mid-write would.
	torn := strings.Join(lines[:5], "") + lines[5][:len(lines[5])/2]
	if err := os.WriteFile(path, []byte(torn), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := read(t, fx.opts.Dir); !s.Torn || s.Len() != 5 {
		t.Fatalf("torn file read as %d samples, torn=%v; want 5, true", s.Len(), s.Torn)
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Torn || res.Written != 7 || res.Skipped != 5 {
		t.Errorf("resume = %+v, want torn, 7 written, 5 skipped", res)
	}
	s := read(t, fx.opts.Dir)
	if s.Torn || s.Len() != 12 || s.Lines != 12 {
		t.Errorf("after resume: %d keys in %d lines (torn=%v), want 12 in 12", s.Len(), s.Lines, s.Torn)
	}
}

func TestContinuesUnfinishedScratchpad(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		last := req.Messages[len(req.Messages)-1]
		if last.Content == Continue {
			return fakeollama.Reply{Chunks: []string{" more thought</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/> x</OUTPUT>"}, PromptTokens: 400, OutputTokens: 5}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>first part"}, DoneReason: "length", PromptTokens: 300, OutputTokens: 50}
	}
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Outcome != record.Complied || r.Turns != 2 || r.Scratchpad != "first part more thought" || r.OutputTokens != 55 || r.PromptTokens != 300 {
			t.Errorf("record = %+v", r)
		}
	}
	chats := fx.fake.Chats()
	if len(chats) != 4 {
		t.Fatalf("%d chats, want 4 (2 tiers x 2 turns)", len(chats))
	}
	second := chats[1].Messages
	if len(second) != 4 || second[2].Role != "assistant" || second[2].Content != "<SCRATCHPAD_REASONING>first part" || second[3].Content != Continue {
		t.Errorf("continuation messages = %+v", second)
	}
}

func TestMaxTurnsLeavesUnparsed(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.fake.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>on and on"}, DoneReason: "length", PromptTokens: grown(300, req)}
	}
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Outcome != record.Unparsed || r.Turns != 3 || r.Stop != record.StopTurns {
			t.Errorf("outcome %s after %d turns, stop %q; want unparsed after max_turns 3, stop turns", r.Outcome, r.Turns, r.Stop)
		}
	}
}

// TestReasoningThatFillsTheWindowIsAnAnswer: the first turn fitted, the
// model reasoned until the window was full, and the continuation was
// refused. That sample is an answer without output; the model's other
// samples go on, and the run succeeds.
func TestReasoningThatFillsTheWindowIsAnAnswer(t *testing.T) {
	fx := newFixture(t)
	var log strings.Builder
	fx.opts.Log = &log
	const first = "<SCRATCHPAD_REASONING>The user is on the free tier, so"
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if req.Model == "b:1b" {
			return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 100}
		}
		if req.Messages[len(req.Messages)-1].Content == Continue {
			return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
		}
		return fakeollama.Reply{Chunks: []string{first}, DoneReason: "length", PromptTokens: 300, OutputTokens: 1748}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if len(res.Failed) != 0 || res.Counts[record.Unparsed] != 12 || res.Stops[record.StopWindow] != 12 || res.Counts[record.Refused] != 12 {
		t.Errorf("result = %+v, want 12 unparsed (window) for a and 12 refused for b", res)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Model != "a" {
			continue
		}
		if r.Outcome != record.Unparsed || r.Stop != record.StopWindow || r.Error != "" || r.Truncated ||
			r.Response != first || r.Scratchpad != "The user is on the free tier, so" || r.Turns != 2 || r.OutputTokens != 1748 || !r.Answered() {
			t.Errorf("record = %+v", r)
		}
	}
	meta, _, _ := record.ReadRun(fx.opts.Dir)
	if st := meta.Sessions[0].Status; st != "complete" {
		t.Errorf("session status %q, want complete", st)
	}
}

// TestContinuationThatFillsTheWindowIsDropped: a server that took the
// continuation and reports a full window may have cut it, so that turn's
// text is not kept; the turns before it are.
func TestContinuationThatFillsTheWindowIsDropped(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if req.Messages[len(req.Messages)-1].Content == Continue {
			return fakeollama.Reply{Chunks: []string{"</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/></OUTPUT>"}, PromptTokens: 2048, OutputTokens: 9}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>hmm"}, DoneReason: "length", PromptTokens: 300, OutputTokens: 40}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Complied] != 0 || res.Stops[record.StopWindow] != 2 {
		t.Errorf("counts %v stops %v, want 2 window stops and no compliance", res.Counts, res.Stops)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Outcome != record.Unparsed || r.Stop != record.StopWindow || r.Response != "<SCRATCHPAD_REASONING>hmm" || r.OutputTokens != 40 || r.Truncated {
			t.Errorf("record = %+v", r)
		}
	}
}

// An OpenAI-compatible server that cuts prompts to its context (Ollama's
// /v1 with OLLAMA_CONTEXT_LENGTH) and does not report it (no
// max_model_len): the first prompts fit, so the run starts, and the context
// it cuts to is measured before it; a continuation cut to it is a full
// window, never an answer, and run.json records the context measured.
func TestContinuationCutToUnreportedContext(t *testing.T) {
	fx := newFixture(t)
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	const window = 4000
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		n := min(len(fakeollama.PromptText(req)), window)
		if len(req.Messages) == 2 {
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>" + strings.Repeat("thinking on ", 400)}, PromptTokens: n, OutputTokens: 1200}
		}
		return fakeollama.Reply{Chunks: []string{"</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/> here</OUTPUT>"}, PromptTokens: n, OutputTokens: 10}
	}
	withConfig(t, fx, "max_turns = 3\n[[model]]\nname = \"m\"\ntag = \"m\"\nbackend = \"openai\"\nhost = \""+f.URL+"/v1\"\n", config.Overrides{})
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Complied] != 0 || res.Stops[record.StopWindow] != res.Written || res.Written != res.Planned {
		t.Errorf("counts %v, stops %v of %d written; want every sample a window stop, none complied", res.Counts, res.Stops, res.Written)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Outcome != record.Unparsed || r.Stop != record.StopWindow || r.Turns != 2 || strings.Contains(r.Response, "request_fully_accepted") {
			t.Errorf("%s: outcome %s stop %q turns %d; want the cut turn-2 answer dropped, unparsed, window", r.Key(), r.Outcome, r.Stop, r.Turns)
		}
	}
	meta, _, err := record.ReadRun(fx.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.Models[0].MeasuredContext; got != window {
		t.Errorf("run.json measured_context = %d, want %d", got, window)
	}
}

// A continuation the server counts as shorter than the turn before it
// holds was cut (Ollama's /v1 drops earlier turns to fit its context),
// whatever the back end and whether or not the window is known: its answer
// is dropped, as a full window, never counted.
func TestContinuationShorterThanItsTurnsIsDropped(t *testing.T) {
	for _, backend := range []string{llm.BackendOllama, llm.BackendOpenAI} {
		t.Run(backend, func(t *testing.T) {
			fx := newFixture(t)
			f := fakeollama.New(t, fakeollama.Model{Name: "m", ContextLength: 32768})
			f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
				if len(req.Messages) == 2 {
					return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>" + strings.Repeat("a long thought ", 200)}, DoneReason: "length",
						PromptTokens: len(fakeollama.PromptText(req)), OutputTokens: 800}
				}
				// Only the system prompt and the last user turn were kept.
				return fakeollama.Reply{Chunks: []string{"</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/> here</OUTPUT>"},
					PromptTokens: len(req.Messages[0].Content) + len(req.Messages[len(req.Messages)-1].Content), OutputTokens: 10}
			}
			host := f.URL
			if backend == llm.BackendOpenAI {
				host += "/v1"
			}
			withConfig(t, fx, "max_turns = 3\n[[model]]\nname = \"m\"\ntag = \"m\"\nnum_predict = 1000\nbackend = \""+backend+"\"\nhost = \""+host+"\"\n", config.Overrides{})
			if backend == llm.BackendOllama {
				fx.opts.Config.Models[0].NumCtx = 32768
				fx.opts.Models = fx.opts.Config.Models
			}
			res, err := Run(context.Background(), fx.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts[record.Complied] != 0 || res.Stops[record.StopWindow] != res.Planned {
				t.Errorf("counts %v, stops %v of %d; want every sample a window stop, none complied", res.Counts, res.Stops, res.Planned)
			}
			for _, r := range read(t, fx.opts.Dir).All() {
				if r.Outcome != record.Unparsed || r.Stop != record.StopWindow || r.Turns != 2 || r.OutputTokens != 800 {
					t.Errorf("%s: outcome %s stop %q turns %d output %d; want the cut turn dropped", r.Key(), r.Outcome, r.Stop, r.Turns, r.OutputTokens)
				}
			}
		})
	}
}

// A thinking model whose chat template leaves the earlier turn's thinking
// out of the continuation's prompt: the prompt grows by the answer alone,
// less than the answer tokens counted (thinking included), and the
// continuation is whole, so its answer counts.
func TestContinuationWithoutEarlierThinkingCounts(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	const thinking, said = 3000, 100 // tokens
	fx.fake.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		if len(req.Messages) == 2 {
			return fakeollama.Reply{Thinking: strings.Repeat("t", thinking), Chunks: []string{"<SCRATCHPAD_REASONING>" + strings.Repeat("s", said-22)},
				DoneReason: "length", PromptTokens: 300, OutputTokens: thinking + said}
		}
		return fakeollama.Reply{Chunks: []string{"</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/> x</OUTPUT>"}, PromptTokens: 300 + said + 8, OutputTokens: 20}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Complied] != 2 || len(res.Stops) != 0 {
		t.Errorf("counts %v, stops %v; want both samples complied, no stop", res.Counts, res.Stops)
	}
}

// TestThinkingThatSpentTheLengthIsUnparsed: a thinking model that spent
// num_predict before writing anything gave an answer without output.
func TestThinkingThatSpentTheLengthIsUnparsed(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.fake.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Thinking: "Let me think about the tiers at length", DoneReason: "length", PromptTokens: 300, OutputTokens: 1024}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stops[record.StopLength] != 2 {
		t.Errorf("stops = %v, want 2 length", res.Stops)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Outcome != record.Unparsed || r.Stop != record.StopLength || r.Turns != 1 || r.Thinking == "" || r.Response != "" {
			t.Errorf("record = %+v", r)
		}
	}
}

// TestAnswerWithOutputHasNoStop: a cut output still decides the outcome,
// and an unparsed answer with output text needs no reason.
func TestAnswerWithOutputHasNoStop(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if strings.Contains(req.Messages[1].Content, "<is_free_tier_user>true<") {
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>ok</SCRATCHPAD_REASONING><OUTPUT><request_fully_accepted/> Step 1"}, DoneReason: "length", PromptTokens: 300}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT>Here is a poem.</OUTPUT>"}, DoneReason: "length", PromptTokens: 300}
	}
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		want := map[record.Tier]record.Outcome{record.Free: record.Complied, record.Paid: record.Unparsed}[r.Tier]
		if r.Outcome != want || r.Stop != "" || r.Turns != 1 {
			t.Errorf("%s: outcome %s stop %q turns %d, want %s, no stop, 1 turn", r.Tier, r.Outcome, r.Stop, r.Turns, want)
		}
	}
}

func TestUnparsedSummary(t *testing.T) {
	tests := []struct {
		n     int
		stops map[string]int
		want  string
	}{
		{0, nil, "0 unparsed"},
		{3, map[string]int{}, "3 unparsed"},
		{3, map[string]int{record.StopWindow: 3}, "3 unparsed (3 window full)"},
		{4, map[string]int{record.StopTurns: 1, record.StopWindow: 2, record.StopLength: 1}, "4 unparsed (2 window full, 1 num_predict reached, 1 max_turns reached)"},
	}
	for _, tt := range tests {
		if got := UnparsedSummary(tt.n, tt.stops); got != tt.want {
			t.Errorf("UnparsedSummary(%d, %v) = %q, want %q", tt.n, tt.stops, got, tt.want)
		}
	}
}

func TestPromptTooLongStopsTheModel(t *testing.T) {
	fx := newFixture(t)
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if req.Model == "a:1b" {
			return fakeollama.Reply{Status: 400, Error: "the input length exceeds the context length"}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 100}
	}
	res, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, ErrModelsFailed) || !strings.Contains(err.Error(), "raise num_ctx") {
		t.Fatalf("error = %v, want ErrModelsFailed naming num_ctx", err)
	}
	// Model a: one error record, then stopped; model b still ran.
	if res.Counts[record.Error] != 1 || res.Counts[record.Refused] != 12 || len(res.Failed) != 1 {
		t.Errorf("result = %+v", res)
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Model == "a" && (r.Outcome != record.Error || !strings.Contains(r.Error, "num_ctx 2048")) {
			t.Errorf("a record = %+v", r)
		}
	}
}

func TestFilledWindowIsNeverCounted(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[:1]
	fx.fake.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		// A server that cut the prompt anyway reports the full window.
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><request_fully_accepted/></OUTPUT>"}, PromptTokens: 2048}
	}
	res, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, ErrModelsFailed) {
		t.Fatalf("error = %v, want ErrModelsFailed", err)
	}
	if res.Counts[record.Complied] != 0 || res.Counts[record.Error] != 1 {
		t.Errorf("counts = %v, want one error and no compliance", res.Counts)
	}
	r := read(t, fx.opts.Dir).All()[0]
	if !r.Truncated || r.Outcome != record.Error {
		t.Errorf("record = %+v, want truncated error", r)
	}
}

func TestRetriesCutStreams(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Samples = fx.opts.Models[:1], 1
	var calls atomic.Int32
	fx.fake.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
		calls.Add(1)
		if n%2 == 0 {
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>half"}, Cut: true}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 10}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Refused] != 6 || calls.Load() != 12 {
		t.Errorf("counts %v after %d calls, want 6 refused after 12", res.Counts, calls.Load())
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Attempts != 2 || r.Response != "<OUTPUT><rejected/></OUTPUT>" {
			t.Errorf("record attempts %d response %q, want 2 and only the whole answer", r.Attempts, r.Response)
		}
	}
}

func TestPersistentFailureIsAnErrorRecordAndRetriedLater(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fail := true
	fx.fake.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		if fail {
			return fakeollama.Reply{Status: 500, Error: "runner crashed"}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 10}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Error] != 2 {
		t.Fatalf("counts = %v, want 2 errors", res.Counts)
	}
	r := read(t, fx.opts.Dir).All()[0]
	if r.Attempts != 3 || !strings.Contains(r.Error, "runner crashed") {
		t.Errorf("record = %+v, want 3 attempts and the server's message", r)
	}
	fail = false
	res, err = Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	s := read(t, fx.opts.Dir)
	if res.Written != 2 || s.Len() != 2 || s.Lines != 4 || s.All()[0].Outcome != record.Refused {
		t.Errorf("retry run wrote %d; %d keys in %d lines; want 2 keys, the errors superseded", res.Written, s.Len(), s.Lines)
	}
}

func TestTimeoutIsAnErrorRecord(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	fx.opts.Config.RequestTimeout.Duration = 50 * time.Millisecond
	fx.fake.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Delay: time.Second}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[record.Error] != 2 {
		t.Fatalf("counts = %v", res.Counts)
	}
	if r := read(t, fx.opts.Dir).All()[0]; !strings.Contains(r.Error, "request_timeout") || r.Attempts != 1 {
		t.Errorf("record = %+v", r)
	}
}

func TestServerGoneStopsTheRun(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[:1]
	fx.fake.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
		if n == 3 {
			go fx.fake.CloseClientConnections()
			go fx.fake.Close()
			return fakeollama.Reply{Delay: 200 * time.Millisecond, Chunks: []string{"x"}, Cut: true}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 10}
	}
	res, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, llm.ErrUnreachable) {
		t.Fatalf("error = %v, want ErrUnreachable", err)
	}
	s := read(t, fx.opts.Dir)
	if res.Written != 3 || s.Len() != 3 || res.Counts[record.Error] != 0 {
		t.Errorf("wrote %d (%d on disk, counts %v), want the 3 finished before the server went, no error records", res.Written, s.Len(), res.Counts)
	}
	meta, _, _ := record.ReadRun(fx.opts.Dir)
	if st := meta.Sessions[len(meta.Sessions)-1].Status; st != "failed" {
		t.Errorf("session status = %q, want failed", st)
	}
}

func TestResumeRefusesChangedSetup(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests = fx.opts.Models[:1], fx.opts.Requests[:1]
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	changed := fx.opts.Models[0]
	temp := 0.9
	changed.Temperature = &temp
	fx.opts.Models = []config.Model{changed}
	_, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "temperature") {
		t.Errorf("error = %v, want ErrIncompatible naming the option", err)
	}
}

// TestResumeComparesWhatChangesANumber: settings that change what a sample
// or verdict counts as cannot change in the middle of a run.
func TestResumeComparesWhatChangesANumber(t *testing.T) {
	other := func(o *Options) *prompt.Scenario {
		sc := *o.Scenarios[0]
		sc.Name = "tiny2"
		return &sc
	}
	votes := func(n int) func(*Options) {
		return func(o *Options) { o.Config.Judge.Votes = n }
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string // "" when the resumption is allowed
	}{
		{"nothing", func(*Options) {}, ""},
		{"more samples", func(o *Options) { o.Samples++ }, ""},
		{"judge host", func(o *Options) { o.Config.Judge.Host = "http://elsewhere:11434" }, ""},
		{"max_turns", func(o *Options) { o.Config.MaxTurns = 5 }, "max_turns was 3, now 5"},
		{"scenario added", func(o *Options) { o.Scenarios = append(o.Scenarios, other(o)) }, "scenarios were tiny, now tiny, tiny2 (resume with --scenario tiny)"},
		{"scenario swapped", func(o *Options) { o.Scenarios = []*prompt.Scenario{other(o)} }, "scenarios were tiny, now tiny2"},
		{"judge model", func(o *Options) { o.Config.Judge.Model = "other:7b" }, "the judge was j:7b (votes 3, temperature unset, num_ctx unset, num_predict unset), now other:7b"},
		{"judge votes", votes(5), "now j:7b (votes 5,"},
		{"judge temperature", func(o *Options) { v := 0.2; o.Config.Judge.Temperature = &v }, "now j:7b (votes 3, temperature 0.2,"},
		{"judge num_ctx", func(o *Options) { o.Config.Judge.NumCtx = 16384 }, "num_ctx 16384,"},
		{"judge num_predict", func(o *Options) { o.Config.Judge.NumPredict = 300 }, "num_predict 300)"},
		{"fewer samples", func(o *Options) { o.Samples-- }, "samples per request was 2, now 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.opts.Models, fx.opts.Requests = fx.opts.Models[:1], fx.opts.Requests[:1]
			fx.opts.Config.Judge = config.Judge{Model: "j:7b", Votes: 3}
			if _, err := Run(context.Background(), fx.opts); err != nil {
				t.Fatal(err)
			}
			cfg := *fx.opts.Config
			fx.opts.Config = &cfg
			tt.change(&fx.opts)
			_, err := Run(context.Background(), fx.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("resume refused: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want ErrIncompatible saying %q", err, tt.want)
			}
		})
	}
}

// TestRunJSONIsReadUnderTheLock: while another probe holds the run, its
// run.json may be half rewritten; it is not read before the lock is taken.
func TestRunJSONIsReadUnderTheLock(t *testing.T) {
	fx := newFixture(t)
	if err := os.MkdirAll(fx.opts.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.opts.Dir, record.RunFile), []byte(`{"run": "t1", "mod`), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := record.LockDir(fx.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := Run(context.Background(), fx.opts); !errors.Is(err, record.ErrLocked) {
		t.Errorf("error = %v, want ErrLocked", err)
	}
}

func TestMissingModelFailsBeforeAnyWork(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = append(fx.opts.Models, config.Model{Name: "c", Tag: "c:7b"})
	_, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, llm.ErrModelNotFound) || !strings.Contains(err.Error(), "ollama pull c:7b") {
		t.Errorf("error = %v, want ErrModelNotFound with the pull command", err)
	}
	if n := len(fx.fake.Chats()); n != 0 {
		t.Errorf("%d chats sent before the check failed", n)
	}
}

func TestLockedRunFolder(t *testing.T) {
	fx := newFixture(t)
	if err := os.MkdirAll(fx.opts.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := record.LockDir(fx.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := Run(context.Background(), fx.opts); !errors.Is(err, record.ErrLocked) {
		t.Errorf("error = %v, want ErrLocked", err)
	}
}

func TestCancelledRunRecordsNothingHalfDone(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[:1]
	ctx, cancel := context.WithCancel(context.Background())
	fx.fake.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
		if n == 2 {
			cancel()
			return fakeollama.Reply{Delay: time.Second}
		}
		return fakeollama.Reply{Chunks: []string{"<OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 10}
	}
	_, err := Run(ctx, fx.opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	s := read(t, fx.opts.Dir)
	if s.Len() != 2 {
		t.Errorf("%d samples on disk, want the 2 finished before the interrupt", s.Len())
	}
	for _, r := range s.All() {
		if r.Outcome == record.Error {
			t.Errorf("interrupted sample recorded as error: %+v", r)
		}
	}
}

func TestResumeKeepsSizedContext(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[1:] // b has no num_ctx in the file
	fx.opts.Requests = fx.opts.Requests[:1]
	fx.fake.AddModel(fakeollama.Model{Name: "b:1b", Digest: "sha256:bbbb", ContextLength: 32768})
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	first := fx.fake.Chats()[0].Options["num_ctx"]
	// More requests, a longer longest one: sizing afresh could change the
	// window, which would mix settings within one run.
	ds := fx.opts.Dataset
	long := dataset.Request{ID: "long", Request: strings.Repeat("word ", 2000)}
	fx.opts.Requests = append(ds.Select(1, false, 0), long)
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatalf("resume with more requests: %v", err)
	}
	chats := fx.fake.Chats()
	if got := chats[len(chats)-1].Options["num_ctx"]; got != first {
		t.Errorf("resumed num_ctx = %v, want the first session's %v", got, first)
	}
}

func TestModelGivenTwiceIsRefused(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = []config.Model{fx.opts.Models[0], fx.opts.Models[0]}
	_, err := Run(context.Background(), fx.opts)
	if err == nil || !strings.Contains(err.Error(), "model a is given twice") {
		t.Errorf("error = %v, want the repeated model named", err)
	}
	if n := len(fx.fake.Chats()); n != 0 {
		t.Errorf("%d chats sent", n)
	}
}

// TestResumeWarnsOfIgnoredLines: a second finished line for a sample, as
// older versions wrote for a model named twice, is left out and said.
func TestResumeWarnsOfIgnoredLines(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Requests, fx.opts.Samples = fx.opts.Models[:1], fx.opts.Requests[:1], 1
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	first := read(t, fx.opts.Dir).All()[0]
	again := first
	again.Outcome, again.Output = record.Complied, "<request_fully_accepted/> a second answer"
	app, _, err := record.OpenAppender(filepath.Join(fx.opts.Dir, record.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	app.Append(again)
	app.Close()

	var log strings.Builder
	fx.opts.Log = &log
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 0 || !strings.Contains(log.String(), "1 later line for an already finished record was ignored (the first at line 3)") {
		t.Errorf("wrote %d; log:\n%s", res.Written, log.String())
	}
	if got, _ := read(t, fx.opts.Dir).Get(first.Key()); got.Outcome != first.Outcome {
		t.Errorf("outcome read back = %s, want the first answer's %s", got.Outcome, first.Outcome)
	}
}
