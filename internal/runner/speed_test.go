package runner

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// events collects what a run tells its observer.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) observe(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

// answer is a fake reply that refuses, in three streamed pieces.
func answer(host string) fakeollama.Reply {
	return fakeollama.Reply{Thinking: "from " + host, Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING>", "<OUTPUT>", "<rejected/></OUTPUT>"},
		PromptTokens: 300, OutputTokens: 20}
}

// withConfig gives fx another configuration, keeping its servers' overrides.
func withConfig(t *testing.T, fx *fixture, toml string, o config.Overrides) {
	t.Helper()
	cfg, err := config.Parse("models.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	fx.opts.Config, fx.opts.Models = cfg, cfg.Models
	fx.opts.Servers = NewServers(cfg, o, os.Getenv)
}

// A model on two hosts: one warm-up per host and slot before the samples,
// every sample written once, both hosts answering and recorded, and the
// observer told every step, with the streamed pieces adding up to each
// answer.
func TestTwoHostsWarmUpAndEvents(t *testing.T) {
	fx := newFixture(t)
	a, b := fx.fake, fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aaaa", ContextLength: 8192})
	for _, f := range []*fakeollama.Server{a, b} {
		host := f.URL
		f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
			r := answer(host)
			r.Delay = 5 * time.Millisecond
			return r
		}
	}
	withConfig(t, fx, "request_timeout = \"2s\"\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 2048\nconcurrency = 2\nhosts = [\""+a.URL+"\", \""+b.URL+"\"]\n", config.Overrides{})
	var ev events
	fx.opts.Observe, fx.opts.WarmUp = ev.observe, true
	res, err := Run(context.Background(), fx.opts)
	if err != nil || res.Written != 12 {
		t.Fatalf("wrote %d, err %v; want 12", res.Written, err)
	}
	s := read(t, fx.opts.Dir)
	byHost := map[string]int{}
	for _, r := range s.All() {
		byHost[r.Host]++
		if r.Backend != llm.BackendOllama || r.Outcome != record.Refused {
			t.Errorf("record %s: backend %q outcome %q", r.Key(), r.Backend, r.Outcome)
		}
	}
	if s.Lines != 12 || byHost[a.URL] == 0 || byHost[b.URL] == 0 || byHost[a.URL]+byHost[b.URL] != 12 {
		t.Errorf("%d lines, by host %v: want 12, from both hosts", s.Lines, byHost)
	}
	warm := 0
	for _, f := range []*fakeollama.Server{a, b} {
		for i, c := range f.Chats() {
			if c.Options["num_predict"] == 1.0 {
				warm++
				// Only what both tiers' user turns begin with: the samples
				// read the rest once, from the cache onwards.
				if u := c.Messages[1].Content; u == "" || strings.Contains(u, "true") || strings.Contains(u, "false") || !strings.HasPrefix(f.Chats()[2].Messages[1].Content, u) {
					t.Errorf("warm-up user turn %q", u)
				}
				if i > 1 {
					t.Errorf("%s: warm-up was chat %d, after samples", f.URL, i)
				}
			}
		}
	}
	if warm != 4 {
		t.Errorf("%d warm-ups, want 4 (2 hosts x 2 slots)", warm)
	}

	started, finished, warmed := map[record.Key]bool{}, map[record.Key]record.Sample{}, 0
	streamed := map[record.Key]*strings.Builder{}
	var plan *PlanEvent
	for _, e := range ev.list() {
		switch e := e.(type) {
		case PlanEvent:
			plan = &e
		case WarmedUp:
			if e.Err == nil && e.Response != nil {
				warmed++
			}
		case SampleStarted:
			started[e.Job.Key()] = true
		case Chunk:
			if streamed[e.Key] == nil {
				streamed[e.Key] = &strings.Builder{}
			}
			streamed[e.Key].WriteString(e.Chunk.Content)
		case SampleFinished:
			if !started[e.Sample.Key()] {
				t.Errorf("%s finished before it started", e.Sample.Key())
			}
			finished[e.Sample.Key()] = e.Sample
		}
	}
	if plan == nil || len(plan.Models) != 1 || plan.Models[0].Planned != 12 || plan.Models[0].Slots != 4 || len(plan.Models[0].Hosts) != 2 {
		t.Errorf("plan = %+v", plan)
	}
	if warmed != 4 || len(started) != 12 || len(finished) != 12 {
		t.Errorf("events: %d warmed, %d started, %d finished; want 4, 12, 12", warmed, len(started), len(finished))
	}
	for k, r := range finished {
		if got := streamed[k]; got == nil || got.String() != r.Response {
			t.Errorf("%s: streamed %v, answer %q", k, got, r.Response)
		}
	}

	meta, _, _ := record.ReadRun(fx.opts.Dir)
	m := meta.Models[0]
	if m.Backend != "ollama" || m.ModelID != "a:1b" || len(m.Hosts) != 2 || m.BaseURL != a.URL+", "+b.URL || m.ServerVersion != "0.17.4" {
		t.Errorf("run.json model = %+v", m)
	}
}

// A host that dies mid-run is dropped with a warning and its requests go
// to the other: nothing lost, nothing doubled.
func TestHostDiesMidRun(t *testing.T) {
	fx := newFixture(t)
	a, b := fx.fake, fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aaaa", ContextLength: 8192})
	var once sync.Once
	a.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
		if n >= 2 {
			// The server dies in the middle of an answer: no new
			// connection is accepted, and the open ones are cut.
			once.Do(func() { a.Listener.Close(); a.CloseClientConnections() })
			return fakeollama.Reply{Chunks: []string{"<SCRATCH"}, Cut: true}
		}
		return answer("a")
	}
	b.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply { return answer("b") }
	withConfig(t, fx, "request_timeout = \"2s\"\nretries = 2\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 2048\nhosts = [\""+a.URL+"\", \""+b.URL+"\"]\n", config.Overrides{})
	var ev events
	var log strings.Builder
	fx.opts.Observe, fx.opts.Log = ev.observe, &syncWriter{w: &log}
	res, err := Run(context.Background(), fx.opts)
	if err != nil || res.Written != 12 || res.Counts[record.Refused] != 12 {
		t.Fatalf("result %+v, err %v; want 12 refused", res, err)
	}
	s := read(t, fx.opts.Dir)
	if s.Lines != 12 || s.Len() != 12 {
		t.Errorf("%d lines for %d samples, want 12 and 12", s.Lines, s.Len())
	}
	dropped := 0
	for _, e := range ev.list() {
		if d, ok := e.(HostDropped); ok && d.Host == a.URL {
			dropped++
		}
	}
	if dropped != 1 || !strings.Contains(log.String(), "warning: dropped "+a.URL) {
		t.Errorf("%d drop events, %d chats on a, %d on b; log:\n%s", dropped, len(a.Chats()), len(b.Chats()), log.String())
	}
}

// A host that accepts requests and never answers (a stuck runner) is
// found by its timeouts: a request it holds past request_timeout goes to
// the other host, and the host is blamed for it (llm's TestHostsDropHungHost
// drops it after three). Nothing is an error, nothing is doubled.
func TestHungHostLosesNothing(t *testing.T) {
	fx := newFixture(t)
	a, b := fx.fake, fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aaaa", ContextLength: 8192})
	a.Chat = func(n int, _ fakeollama.ChatRequest) fakeollama.Reply {
		if n >= 1 {
			return fakeollama.Reply{Delay: time.Minute}
		}
		return answer("a")
	}
	b.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply { return answer("b") }
	withConfig(t, fx, "request_timeout = \"300ms\"\nretries = 2\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 2048\nhosts = [\""+a.URL+"\", \""+b.URL+"\"]\n", config.Overrides{})
	res, err := Run(context.Background(), fx.opts)
	if err != nil || res.Written != 12 || res.Counts[record.Refused] != 12 {
		t.Fatalf("result %+v, err %v; want 12 refused, no errors", res, err)
	}
	if s := read(t, fx.opts.Dir); s.Lines != 12 || len(b.Chats()) < 11 {
		t.Errorf("%d lines, %d chats on the host that answers; want 12 lines and at least 11 chats", s.Lines, len(b.Chats()))
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Models on different servers run at the same time; models that share a
// server run one after another, each in one block.
func TestLanes(t *testing.T) {
	fx := newFixture(t)
	other := fakeollama.New(t, fakeollama.Model{Name: "c:1b", Digest: "sha256:cccc"})
	var mu sync.Mutex
	var order []string
	inFlight, overlap := map[string]int{}, false
	reply := func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		mu.Lock()
		order = append(order, req.Model)
		inFlight[req.Model]++
		if inFlight["a:1b"]+inFlight["b:1b"] > 0 && inFlight["c:1b"] > 0 {
			overlap = true
		}
		mu.Unlock()
		time.Sleep(3 * time.Millisecond)
		mu.Lock()
		inFlight[req.Model]--
		mu.Unlock()
		return answer("")
	}
	fx.fake.Chat, other.Chat = reply, reply
	withConfig(t, fx, testConfig+"[[model]]\nname = \"c\"\ntag = \"c:1b\"\nnum_ctx = 2048\nhost = \""+other.URL+"\"\n", config.Overrides{OllamaHost: fx.fake.URL})
	res, err := Run(context.Background(), fx.opts)
	if err != nil || res.Written != 36 {
		t.Fatalf("wrote %d, err %v; want 36", res.Written, err)
	}
	var onFirst []string
	for _, m := range order {
		if m != "c:1b" && (len(onFirst) == 0 || onFirst[len(onFirst)-1] != m) {
			onFirst = append(onFirst, m)
		}
	}
	if strings.Join(onFirst, " ") != "a:1b b:1b" {
		t.Errorf("models on the shared server ran in the order %v, want a then b, each once", onFirst)
	}
	if !overlap {
		t.Error("the model on its own server never ran beside the others")
	}
}

func TestLanesOf(t *testing.T) {
	hs := func(urls ...string) *llm.Hosts {
		var cs []llm.Client
		for _, u := range urls {
			cs = append(cs, llm.NewOllama(llm.ParseHost(u)))
		}
		h, err := llm.NewHosts(cs, llm.HostsOptions{Slots: 1})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	m := func(name string, h *llm.Hosts) *Model { return &Model{Model: config.Model{Name: name}, Server: h} }
	shared := hs("a:1")
	models := []*Model{
		m("1", shared), m("2", hs("b:1")), m("3", shared), m("4", hs("c:1", "b:1")), m("5", hs("d:1")),
	}
	var got []string
	for _, lane := range lanesOf(models) {
		var names []string
		for _, x := range lane {
			names = append(names, x.Name)
		}
		got = append(got, strings.Join(names, ","))
	}
	if want := "1,3 2,4 5"; strings.Join(got, " ") != want {
		t.Errorf("lanes %v, want %s", got, want)
	}
	if !SameServer("http://h:11434", "http://h:11434/v1") || SameServer("http://h:11434", "http://h:11435") {
		t.Error("SameServer")
	}
}

// A model on an OpenAI-compatible server: its samples name the back end
// and the base URL that answered, no num_ctx is sent, and run.json has the
// server's model id.
func TestOpenAIModel(t *testing.T) {
	fx := newFixture(t)
	f := fakeollama.New(t, fakeollama.Model{Name: "Qwen/Qwen3-8B"})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		r := answer("")
		r.PromptTokens = len(fakeollama.PromptText(req)) // a server that keeps whole prompts
		return r
	}
	withConfig(t, fx, "request_timeout = \"2s\"\n[[model]]\nname = \"q\"\ntag = \"Qwen/Qwen3-8B\"\nbackend = \"openai\"\nhost = \""+f.URL+"/v1\"\nnum_predict = 64\n", config.Overrides{Host: "ignored:1"})
	fx.opts.WarmUp = true
	res, err := Run(context.Background(), fx.opts)
	if err != nil || res.Written != 12 {
		t.Fatalf("result %+v, err %v; want 12 written", res, err)
	}
	for _, c := range f.Chats() {
		if c.API != "openai" || c.Options["num_ctx"] != nil {
			t.Errorf("chat through %s with options %v", c.API, c.Options)
		}
	}
	for _, r := range read(t, fx.opts.Dir).All() {
		if r.Backend != "openai" || r.Host != f.URL+"/v1" || r.NumCtx != 0 || r.PromptTokens < 300 {
			t.Errorf("record %+v", r)
			break
		}
	}
	meta, _, _ := record.ReadRun(fx.opts.Dir)
	if m := meta.Models[0]; m.Backend != "openai" || !strings.HasPrefix(m.ModelID, "Qwen/Qwen3-8B") || m.BaseURL != f.URL+"/v1" || m.Options["num_ctx"] != nil {
		t.Errorf("run.json model %+v", m)
	}
}

// A server that cuts long prompts silently is refused before the run: no
// folder, no sample, and the message says how to raise its context.
func TestTruncatingServerIsRefused(t *testing.T) {
	fx := newFixture(t)
	f := fakeollama.New(t, fakeollama.Model{Name: "m"})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"x"}, PromptTokens: min(len(fakeollama.PromptText(req)), 256)}
	}
	withConfig(t, fx, "[[model]]\nname = \"m\"\ntag = \"m\"\nbackend = \"openai\"\nhost = \""+f.URL+"/v1\"\n", config.Overrides{})
	_, err := Run(context.Background(), fx.opts)
	if !errors.Is(err, llm.ErrTruncating) || !strings.Contains(err.Error(), "OLLAMA_CONTEXT_LENGTH=") {
		t.Errorf("err = %v, want ErrTruncating with how to raise the context", err)
	}
	if _, serr := os.Stat(fx.opts.Dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the run folder exists: %v", serr)
	}
	if n := len(f.Chats()); n != 2 {
		t.Errorf("%d chats, want the 2 of the check", n)
	}
}

func TestCommonPrefix(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"<tier>True</tier>\nask", "<tier>False</tier>\nask", "<tier>"},
		{"line one\nline two True", "line one\nline two False", "line one\n"},
		{"same", "same", "same"},
		{"abc", "xyz", ""},
	}
	for _, tt := range tests {
		if got := commonPrefix(tt.a, tt.b); got != tt.want {
			t.Errorf("commonPrefix(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
