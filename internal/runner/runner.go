package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/outcome"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// Continue is the default user turn that asks a model to go on when it
// stopped before giving its final output; a scenario's next part replaces it.
const Continue = prompt.DefaultNext

// Options is everything one invocation of the run stage needs.
//
// Scenarios are the scenarios and variants to run, bound to their
// variables; one with its own requests (Scenario.Requests, already
// selected) asks those instead of Requests.
type Options struct {
	RunID     string
	Dir       string
	Config    *config.Config
	Models    []config.Model
	Scenarios []*prompt.Scenario
	Dataset   *dataset.Set
	Requests  []dataset.Request
	Samples   int
	// Servers connects each model to its server: one host or several.
	Servers *Servers

	ProbeVersion string
	// Now and Backoff are injected so tests are deterministic and fast;
	// both are called from several goroutines.
	Now     func() time.Time
	Backoff func(attempt int) time.Duration
	// Log receives messages for people: the plan, warnings, a model
	// stopped; nil discards them. Progress is Observe's.
	Log io.Writer
	// Observe, when set, is told each Event as it happens (see Event).
	Observe func(Event)
	// WarmUp sends, before each model's samples, one request per host and
	// slot with the first prompt and a one-token answer, so that the cold
	// reading of the system prompt, and loading the model, are paid before
	// timed work (see llm.Hosts.Warm). probe run always sets it.
	WarmUp bool
}

// Result says what one invocation did.
type Result struct {
	Planned int
	// Skipped samples were already done by an earlier invocation.
	Skipped int
	Written int
	Counts  map[record.Outcome]int
	// Stops counts the unparsed answers written that ended without output,
	// by reason (record.StopWindow, StopLength, StopTurns).
	Stops map[string]int
	// Failed lists models whose requests the server rejected outright (a
	// prompt that does not fit, an option the model does not support);
	// their remaining samples were not attempted.
	Failed []string
	// Torn is set when samples.jsonl ended in a torn line from a killed
	// process; it was cut off and that sample is redone.
	Torn bool
}

// ErrIncompatible means a resumed run would mix settings: the run folder
// was started with other models, prompts, data or options.
var ErrIncompatible = errors.New("run was started with a different setup")

// ErrModelsFailed means some models could not be run at all.
var ErrModelsFailed = errors.New("some models could not be run")

// Run runs (or resumes) the experiment into o.Dir.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Observe == nil {
		o.Observe = func(Event) {}
	}
	// A model given twice would ask each of its samples twice.
	seen := map[string]bool{}
	for _, m := range o.Models {
		if seen[m.Name] {
			return nil, fmt.Errorf("model %s is given twice", m.Name)
		}
		seen[m.Name] = true
	}
	stop := o.Servers.Watch(func(host string, err error) {
		fmt.Fprintf(o.Log, "probe: warning: dropped %s, which stopped answering (%v); its requests go to the other hosts\n", host, err)
		o.Observe(HostDropped{Host: host, Err: err})
	})
	defer stop()
	// Ask the servers first, so a run that cannot start leaves no folder.
	models, err := Prepare(ctx, o.Servers, o.Models, o.Scenarios, o.Requests, o.Config.MaxTurns)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	lock, err := record.LockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	// run.json is read only under the lock: another probe on the same run
	// may be rewriting it until then.
	prev, resumed, err := record.ReadRun(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := keepSized(models, sizedBefore(prev, o.Models), o.Scenarios, o.Requests); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", o.Dir, ErrIncompatible, err)
	}
	meta := o.describe(models)
	if resumed {
		if err := compatible(prev, meta); err != nil {
			return nil, fmt.Errorf("%s: %w: %v; start a new run with another --run", o.Dir, ErrIncompatible, err)
		}
		meta = merge(prev, meta)
	}
	done, err := record.ReadSamples(o.Dir)
	if err != nil {
		return nil, err
	}
	app, cut, err := record.OpenAppender(filepath.Join(o.Dir, record.SamplesFile))
	if err != nil {
		return nil, err
	}
	defer app.Close()

	res := &Result{Counts: map[record.Outcome]int{}, Stops: map[string]int{}, Torn: done.Torn || cut > 0}
	plans := map[*Model][]Job{}
	ev := PlanEvent{Run: o.RunID}
	for _, m := range models {
		var todo []Job
		planned := Plan(m.Name, o.Scenarios, o.Requests, o.Samples)
		for _, j := range planned {
			if !done.Done(j.Key()) {
				todo = append(todo, j)
			}
		}
		res.Planned += len(planned)
		res.Skipped += len(planned) - len(todo)
		plans[m] = todo
		ev.Models = append(ev.Models, ModelPlan{Name: m.Name, Tag: m.Tag, Backend: m.Backend(), Hosts: m.Server.Live(),
			Slots: max(m.Server.Slots(), 1), NumCtx: m.NumCtx, Planned: len(planned), Done: len(planned) - len(todo)})
	}
	meta.Planned = plannedInAll(prev, done, models, plans, res.Planned)
	session := record.Session{StartedAt: o.Now().UTC(), Status: "running"}
	meta.Sessions = append(meta.Sessions, session)
	if err := record.WriteRun(o.Dir, meta); err != nil {
		return nil, err
	}
	if res.Torn {
		fmt.Fprintf(o.Log, "probe: %s ended in a torn line from an interrupted write; it was cut off and that sample will be redone\n", record.SamplesFile)
	}
	if note := done.IgnoredNote(filepath.Join(o.Dir, record.SamplesFile)); note != "" {
		fmt.Fprintf(o.Log, "probe: %s\n", note)
	}
	fmt.Fprintf(o.Log, "probe: run %s: %d samples planned, %d already done, %d to go; %s per model, each sent as one block so the server's prompt cache holds it\n",
		o.RunID, res.Planned, res.Skipped, res.Planned-res.Skipped, plural(SystemPrompts(o.Scenarios), "system prompt"))
	for _, m := range models {
		if n := len(plans[m]); n > 0 {
			fmt.Fprintf(o.Log, "probe: %s: %s, %d samples, %s\n", m.describe(), windowNote(m), n, serverNote(m))
		}
	}
	o.Observe(ev)

	r := &run{o: o, res: res, resumed: resumed, policy: llm.Policy{
		Retries: o.Config.Retries, Timeout: o.Config.RequestTimeout.Duration, Backoff: o.Backoff,
	}}
	runErr := r.lanes(ctx, models, plans, app)

	s := &meta.Sessions[len(meta.Sessions)-1]
	s.FinishedAt = o.Now().UTC()
	s.Written = res.Written
	switch {
	case runErr != nil && ctx.Err() != nil:
		s.Status = "interrupted"
	case runErr != nil:
		s.Status = "failed"
	case len(res.Failed) > 0:
		s.Status = "incomplete"
	default:
		s.Status = "complete"
	}
	if err := record.WriteRun(o.Dir, meta); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil && len(res.Failed) > 0 {
		runErr = fmt.Errorf("%w: %s", ErrModelsFailed, strings.Join(res.Failed, "; "))
	}
	return res, runErr
}

// plannedInAll counts the samples of the run's plan merged over its
// sessions, this one's included (planned of them, todo still to ask): the
// earlier sessions' plan with this session's jobs of a model and scenario or
// variant that plan did not have (a variant added to the grid, a model
// added), and never fewer than the samples recorded and planned now (more
// requests or samples in a group the run had, and a group of a model and a
// variant that each ran before, but not together).
func plannedInAll(prev record.Run, done *record.Samples, models []*Model, plans map[*Model][]Job, planned int) int {
	had := func(j Job) bool {
		return hasModel(prev.Models, j.Model) && hasScenario(prev.Scenarios, j.Scenario.Name, j.Scenario.Variant)
	}
	grown, known := prev.Planned, done.Len()
	for _, m := range models {
		for _, j := range plans[m] {
			if !had(j) {
				grown++
			}
			if _, ok := done.Get(j.Key()); !ok {
				known++
			}
		}
	}
	return max(grown, known, planned)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// windowNote words a model's context window for the plan's lines.
func windowNote(m *Model) string {
	switch {
	case m.NumCtx == 0 && m.Info.ContextLength > 0:
		return fmt.Sprintf("context %d, set by the server", m.Info.ContextLength)
	case m.NumCtx == 0 && m.Fit.Window > 0:
		return fmt.Sprintf("context set by the server, which cuts prompts to %d tokens (a turn that reaches it counts as window full)", m.Fit.Window)
	case m.NumCtx == 0:
		return "context set by the server"
	case m.NumCtxSized:
		return fmt.Sprintf("num_ctx %d (sized from the prompt; set num_ctx in models.toml to fix it)", m.NumCtx)
	}
	return fmt.Sprintf("num_ctx %d", m.NumCtx)
}

// serverNote words where a model runs.
func serverNote(m *Model) string {
	hosts := m.Server.Live()
	what := "Ollama"
	if m.Backend() == llm.BackendOpenAI {
		what = "OpenAI-compatible API"
	}
	if m.Version != "" {
		what += " " + m.Version
	}
	slots := m.Server.Slots()
	if len(hosts) == 1 {
		return fmt.Sprintf("%s at %s, %d at a time", what, hosts[0], max(slots, 1))
	}
	return fmt.Sprintf("%s on %d hosts (%s), %d at a time each", what, len(hosts), strings.Join(hosts, ", "), max(slots, 1)/len(hosts))
}

// run is one invocation's shared state.
type run struct {
	o      Options
	res    *Result
	policy llm.Policy
	// resumed is set when the run folder held a run already: its settings,
	// num_ctx among them, may no longer change.
	resumed bool
}

// modelFailure stops a model's remaining jobs when the server rejects its
// requests outright: every other request would fail the same way.
type modelFailure struct{ err error }

func (e *modelFailure) Error() string { return e.err.Error() }

// written is what a lane hands the writer: a finished sample (and whether
// it stops its model), or a model it stopped.
type written struct {
	rec    *record.Sample
	stops  bool
	failed string
}

// lanes runs the models, writing every record from this goroutine. Models
// that share a server (any host) form one lane and run one after another,
// each in one block, so that a server that holds one model at a time loads
// each model once; lanes on different servers run at the same time.
func (r *run) lanes(ctx context.Context, models []*Model, plans map[*Model][]Job, app *record.Appender) error {
	var lanes [][]*Model
	for _, lane := range lanesOf(models) {
		var todo []*Model
		for _, m := range lane {
			if len(plans[m]) > 0 {
				todo = append(todo, m)
			}
		}
		if len(todo) > 0 {
			lanes = append(lanes, todo)
		}
	}
	return llm.Each(ctx, len(lanes), lanes, func(ctx context.Context, lane []*Model, send func(written)) error {
		for _, m := range lane {
			err := r.model(ctx, m, plans[m], func(rec record.Sample, stops bool) { send(written{rec: &rec, stops: stops}) })
			var mf *modelFailure
			switch {
			case errors.As(err, &mf):
				// Said once, by Run's error (ErrModelsFailed).
				send(written{failed: mf.Error()})
			case err != nil:
				return err
			}
			r.o.Observe(ModelFinished{Model: m.Name, Err: err})
		}
		return nil
	}, func(w written) error {
		if w.rec == nil {
			r.res.Failed = append(r.res.Failed, w.failed)
			return nil
		}
		if err := app.Append(*w.rec); err != nil {
			return fmt.Errorf("%w (what was written before is kept; free space and rerun to resume)", err)
		}
		r.res.Written++
		r.res.Counts[w.rec.Outcome]++
		if w.rec.Stop != "" {
			r.res.Stops[w.rec.Stop]++
		}
		r.o.Observe(SampleFinished{Sample: *w.rec, StopsModel: w.stops})
		return nil
	})
}

// lanesOf groups models that share a server, directly or through another
// model, keeping the order of models within and across groups.
func lanesOf(models []*Model) [][]*Model {
	lane := make([]int, len(models))
	for i := range lane {
		lane[i] = i
	}
	find := func(i int) int {
		for lane[i] != i {
			i = lane[i]
		}
		return i
	}
	for i, a := range models {
		for j := range i {
			if shareServer(a, models[j]) {
				lane[find(i)] = find(j)
			}
		}
	}
	var out [][]*Model
	index := map[int]int{}
	for i, m := range models {
		root := find(i)
		k, ok := index[root]
		if !ok {
			k = len(out)
			index[root] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], m)
	}
	return out
}

// shareServer reports whether two models have a host in common: the same
// host and port, whatever the API (Ollama's native API and its /v1 are one
// server).
func shareServer(a, b *Model) bool {
	if a.Server == b.Server {
		return true
	}
	for _, x := range a.Server.Live() {
		for _, y := range b.Server.Live() {
			if SameServer(x, y) {
				return true
			}
		}
	}
	return false
}

// SameServer reports whether two base URLs name the same server (host and
// port), whatever their paths.
func SameServer(a, b string) bool {
	ua, erra := url.Parse(a)
	ub, errb := url.Parse(b)
	if erra != nil || errb != nil {
		return a == b
	}
	return strings.EqualFold(ua.Host, ub.Host)
}

// model runs one model's jobs, as many at once as its server has slots,
// after one warm-up request per host and slot, and hands each record to
// write as it is finished, with whether its error stops the model.
func (r *run) model(ctx context.Context, m *Model, jobs []Job, write func(rec record.Sample, stops bool)) error {
	r.o.Observe(ModelStarted{Model: m.Name})
	if r.o.WarmUp && len(jobs) >= max(m.Server.Slots(), 1) {
		r.warm(ctx, m, jobs[0])
	}
	type finished struct {
		rec   record.Sample
		stops bool
	}
	return llm.Each(ctx, m.Server.Slots(), jobs, func(ctx context.Context, j Job, send func(finished)) error {
		rec, err := r.sample(ctx, m, j)
		if err != nil {
			return err
		}
		// A finished sample is always handed over, before the model is
		// stopped for it.
		stops := rec.Outcome == record.Error && stopsModel(rec.Error)
		send(finished{rec, stops})
		if stops {
			return &modelFailure{err: fmt.Errorf("%s: %s", m.describe(), rec.Error)}
		}
		return nil
	}, func(f finished) error {
		write(f.rec, f.stops)
		return nil
	})
}

// warm sends j's system prompt, with a one-token answer, to every host and
// slot of m's server at once (llm.Hosts.Warm). Its user turn is only what
// every user turn of j's request begins with, whatever the tier, so that
// the samples find all the rest of the warm-up in the cache and read little
// twice. Its failures are left to the samples, which record them.
func (r *run) warm(ctx context.Context, m *Model, j Job) {
	free, err := j.Scenario.User(true, j.Request.Request)
	if err != nil {
		return
	}
	paid, err := j.Scenario.User(false, j.Request.Request)
	if err != nil {
		return
	}
	req := m.request([]llm.Message{{Role: "system", Content: j.Scenario.System}, {Role: "user", Content: commonPrefix(free, paid)}}, j.Sample)
	req.Options = maps.Clone(req.Options)
	req.Options["num_predict"] = 1
	req.KeepAlive = r.o.Config.KeepAlive.Duration
	m.Server.Warm(ctx, req, r.o.Config.RequestTimeout.Duration, func(resp *llm.ChatResponse, err error) {
		r.o.Observe(WarmedUp{Model: m.Name, Response: resp, Err: err})
	})
}

// commonPrefix is the longest beginning a and b share, cut at a line or
// tag so that a tokenizer reads it as the longer texts do.
func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if i := strings.LastIndexAny(a[:n], "\n>"); i >= 0 {
		return a[:i+1]
	}
	return a[:n]
}

// Errors that would repeat for every request of a model.
const (
	msgContext = "the prompt does not fit"
	msgBadReq  = "the server rejected the request"
)

func stopsModel(msg string) bool {
	return strings.HasPrefix(msg, msgContext) || strings.HasPrefix(msg, msgBadReq)
}

// sample runs one job to a record. It returns an error only when the whole
// run must stop (the server is gone, the model vanished, or the run was
// cancelled); a failure of this one sample is a record with Error set.
func (r *run) sample(ctx context.Context, m *Model, j Job) (record.Sample, error) {
	start := r.o.Now()
	rec := record.Sample{
		V: record.Version, Run: r.o.RunID, Model: m.Name, Tag: m.Tag, Scenario: j.Scenario.Name,
		Variant: j.Scenario.Variant, Vars: j.Scenario.Vars, QueryID: j.Request.ID, Category: j.Request.Category, Request: j.Request.Request,
		Tier: j.Tier, Sample: j.Sample, NumCtx: m.NumCtx, Backend: m.Backend(), StartedAt: start.UTC(),
	}
	user, err := j.Scenario.User(j.Tier == record.Free, j.Request.Request)
	if err != nil {
		return rec, err
	}
	r.o.Observe(SampleStarted{Job: j})
	msgs := []llm.Message{{Role: "system", Content: j.Scenario.System}, {Role: "user", Content: user}}
	var content, thinking strings.Builder
	var promptEval, eval time.Duration
	var prev *llm.ChatResponse // the turn before, to see that this one holds it
	window := m.window()
	for turn := 1; ; turn++ {
		req := m.request(msgs, j.Sample)
		req.KeepAlive = r.o.Config.KeepAlive.Duration
		key := j.Key()
		req.Stream = func(c llm.Chunk) { r.o.Observe(Chunk{Key: key, Turn: turn, Chunk: c}) }
		res, err := r.policy.Chat(ctx, m.Server, llm.Call{Request: req})
		resp := res.Response
		rec.Attempts += res.Attempts
		rec.Turns = turn
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, llm.ErrUnreachable) || errors.Is(err, llm.ErrModelNotFound) {
				return rec, err
			}
			if turn > 1 && errors.Is(err, llm.ErrContextExceeded) {
				// The first turn fitted, so the model saw the whole
				// prompt; its own reasoning then outgrew the window. That
				// is an answer without output, not a broken setup.
				rec.Stop = record.StopWindow
				break
			}
			rec.Outcome, rec.Error = record.Error, r.describe(err, m)
			break
		}
		rec.Host, rec.Backend = resp.Host, resp.Backend
		if turn > 1 && (window > 0 && resp.PromptTokens >= window || shrank(prev, resp)) {
			// As above, but the server took the continuation and may have
			// cut it (it filled the window, or counted less than the turn
			// before it holds): this turn's answer is dropped, the earlier
			// ones stand.
			rec.Stop = record.StopWindow
			break
		}
		prev = resp
		content.WriteString(resp.Content)
		thinking.WriteString(resp.Thinking)
		promptEval += resp.PromptEval
		eval += resp.Eval
		if turn == 1 {
			rec.PromptTokens, rec.CachedTokens = resp.PromptTokens, resp.CachedTokens
		}
		rec.OutputTokens += resp.OutputTokens
		rec.DoneReason = resp.DoneReason
		if window > 0 && resp.PromptTokens >= window {
			// The first prompt filled the whole window: the server may have
			// cut it, so the answer cannot be trusted as an answer to our
			// prompt.
			rec.Truncated = true
			rec.Outcome = record.Error
			rec.Error = fmt.Sprintf("%s: prompt_eval_count %d reached %s on turn %d; %s",
				msgContext, resp.PromptTokens, windowName(m), turn, raiseWindow(m))
			break
		}
		if !outcome.NeedsMore(content.String()) {
			break
		}
		if turn >= r.o.Config.MaxTurns {
			rec.Stop = record.StopTurns
			break
		}
		msgs = append(msgs,
			llm.Message{Role: "assistant", Content: resp.Content, Thinking: resp.Thinking},
			llm.Message{Role: "user", Content: j.Scenario.Next})
	}
	rec.Response, rec.Thinking = content.String(), thinking.String()
	rec.PromptEvalMS, rec.EvalMS = promptEval.Milliseconds(), eval.Milliseconds()
	rec.DurationMS = r.o.Now().Sub(start).Milliseconds()
	if rec.Outcome != record.Error {
		p := outcome.Parse(rec.Response)
		rec.Outcome, rec.Scratchpad, rec.Output = p.Outcome, p.Scratchpad, p.Output
		if _, judged := record.RuleQuestion(j.Scenario.Outcome); judged && p.Output != "" {
			// The scenario's judge question decides this answer, not the
			// tags: it never asked for them.
			rec.Outcome = record.Answered
		}
		switch {
		case rec.Outcome != record.Unparsed || p.Output != "":
			// An answer with output needs no reason; a stop set above
			// always leaves an unparsed answer without output.
			rec.Stop = ""
		case rec.Stop == "" && rec.DoneReason == "length":
			// E.g. a thinking model that spent num_predict before writing.
			rec.Stop = record.StopLength
		}
	}
	return rec, nil
}

// shrank reports whether a continuation's prompt, as the server counted
// it, is shorter than the turn before it holds: that turn's prompt and its
// answer (then the new user turn, which is left as slack). A server that
// counts less cut the prompt, dropping earlier turns (Ollama's /v1 does)
// or its beginning, whatever its back end, and whether or not it says its
// context. Chat templates often leave an earlier turn's thinking out of
// the prompt, so only the answer's share of the answer tokens, by bytes,
// is counted; and a quarter of it is left as slack, since an answer read
// back can take fewer tokens than were generated. A server that counts no
// tokens tells nothing.
func shrank(prev, resp *llm.ChatResponse) bool {
	if prev == nil || prev.PromptTokens <= 0 || resp.PromptTokens <= 0 {
		return false
	}
	answer := prev.OutputTokens
	if prev.Thinking != "" {
		answer = int(int64(answer) * int64(len(prev.Content)) / int64(len(prev.Content)+len(prev.Thinking)))
	}
	return resp.PromptTokens <= prev.PromptTokens || resp.PromptTokens < prev.PromptTokens+answer*3/4
}

// windowName names a model's window in messages.
func windowName(m *Model) string {
	if m.NumCtx > 0 {
		return fmt.Sprintf("num_ctx %d", m.NumCtx)
	}
	return fmt.Sprintf("the server's context %d", m.window())
}

// raiseWindow says how to give a model a larger window.
func raiseWindow(m *Model) string {
	if m.Backend() == llm.BackendOpenAI {
		return fmt.Sprintf("restart the server of %s with a larger context (vLLM --max-model-len, SGLang --context-length, llama.cpp --ctx-size, Ollama OLLAMA_CONTEXT_LENGTH)", m.Name)
	}
	return fmt.Sprintf("raise num_ctx for %s", m.Name)
}

// StopWords says in a few words why an answer ended without output, for
// progress lines and summaries.
func StopWords(stop string) string {
	switch stop {
	case record.StopWindow:
		return "window full"
	case record.StopLength:
		return "num_predict reached"
	case record.StopTurns:
		return "max_turns reached"
	}
	return stop
}

// UnparsedSummary words n unparsed answers with the reasons some ended
// without output, e.g. "3 unparsed (2 window full, 1 max_turns reached)".
func UnparsedSummary(n int, stops map[string]int) string {
	var parts []string
	for _, s := range []string{record.StopWindow, record.StopLength, record.StopTurns} {
		if stops[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", stops[s], StopWords(s)))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d unparsed", n)
	}
	return fmt.Sprintf("%d unparsed (%s)", n, strings.Join(parts, ", "))
}

// describe words a sample's failure for its record and the progress line.
func (r *run) describe(err error, m *Model) string {
	switch {
	case errors.Is(err, llm.ErrContextExceeded) && m.NumCtx > 0 && r.resumed:
		// A resumed run refuses a changed num_ctx: a larger window is a
		// new run's.
		return fmt.Sprintf("%s: Ollama refused the prompt as longer than num_ctx %d, which this run keeps; for a larger window, raise num_ctx for %s in models.toml and start a new run (the same command with --run NEW)", msgContext, m.NumCtx, m.Name)
	case errors.Is(err, llm.ErrContextExceeded) && m.NumCtx > 0:
		return fmt.Sprintf("%s: Ollama refused the prompt as longer than num_ctx %d; raise num_ctx for %s in models.toml", msgContext, m.NumCtx, m.Name)
	case errors.Is(err, llm.ErrContextExceeded):
		return fmt.Sprintf("%s: the server refused the prompt as longer than its context: %v; %s", msgContext, err, raiseWindow(m))
	case errors.Is(err, llm.ErrBadRequest):
		return fmt.Sprintf("%s: %v", msgBadReq, err)
	case errors.Is(err, llm.ErrTimeout):
		return fmt.Sprintf("no complete answer within %s (request_timeout in models.toml)", r.o.Config.RequestTimeout.Duration)
	}
	return err.Error()
}

// sizedBefore returns the num_ctx an earlier session of the run used for
// each model whose configuration does not set one.
func sizedBefore(prev record.Run, models []config.Model) map[string]int {
	out := map[string]int{}
	for _, m := range models {
		if m.NumCtx != 0 {
			continue
		}
		for _, p := range prev.Models {
			if n, ok := p.Options["num_ctx"].(float64); ok && p.Name == m.Name {
				out[m.Name] = int(n)
			}
		}
	}
	return out
}

// keepSized gives each model whose num_ctx the probe sized the window an
// earlier session of the run used, so that a resumption with other requests
// does not change the window in the middle of a run. A plan whose longest
// prompt no longer fits that window (a longer variant added to the grid) is
// refused before anything is sent: each of its requests would be refused,
// and a window raised in models.toml is another setup, which the run
// refuses too, so the grid needs a run of its own. The prompt is counted at
// llm.CharsPerToken bytes a token, as when it was sized, which errs long,
// so a prompt counted within the window leaves room for some answer.
func keepSized(models []*Model, sized map[string]int, scenarios []*prompt.Scenario, reqs []dataset.Request) error {
	for _, m := range models {
		n := sized[m.Name]
		if !m.NumCtxSized || n <= 0 {
			continue
		}
		if sc, tokens := longestOver(scenarios, reqs, n); sc != nil {
			return fmt.Errorf("model %s keeps num_ctx %d, which the run's first session sized for its prompts, but %s has a prompt of about %d tokens (at %d bytes a token) before any answer; a run keeps one num_ctx, so start a new run for this grid: the same command with --run NEW",
				m.Name, n, scenarioWords(sc), tokens, llm.CharsPerToken)
		}
		m.NumCtx = n
		m.Options["num_ctx"] = n
	}
	return nil
}

// longestOver is the scenario or variant whose longest first prompt is the
// longest of those that reach window tokens (counted at llm.CharsPerToken
// bytes a token), with its tokens; nil when every prompt fits.
func longestOver(scenarios []*prompt.Scenario, reqs []dataset.Request, window int) (*prompt.Scenario, int) {
	var worst *prompt.Scenario
	most := 0
	for _, sc := range scenarios {
		if t := LongestPrompt([]*prompt.Scenario{sc}, reqs) / llm.CharsPerToken; t >= window && t > most {
			worst, most = sc, t
		}
	}
	return worst, most
}

// scenarioWords names a scenario or variant in a sentence.
func scenarioWords(sc *prompt.Scenario) string {
	if sc.Variant == "" {
		return "scenario " + sc.Name
	}
	return fmt.Sprintf("variant %s of scenario %s", sc.Variant, sc.Name)
}

// describe builds run.json's content for this invocation.
func (o Options) describe(models []*Model) record.Run {
	var hosts, versions []string
	for _, m := range models {
		for _, h := range m.Server.Live() {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		if m.Version != "" && !slices.Contains(versions, m.Version) {
			versions = append(versions, m.Version)
		}
	}
	meta := record.Run{
		ID:           o.RunID,
		ProbeVersion: o.ProbeVersion,
		Host:         strings.Join(hosts, ", "),
		Ollama:       strings.Join(versions, ", "),
		ConfigFile:   o.Config.File,
		Config:       o.Config,
		Dataset:      record.Artifact{Name: o.Dataset.Name, Source: o.Dataset.Source, SHA256: o.Dataset.SHA256, Selection: o.Dataset.Selection},
		Requests:     len(o.Requests),
		SamplesPer:   o.Samples,
		CreatedAt:    o.Now().UTC(),
	}
	for _, m := range models {
		meta.Models = append(meta.Models, record.RunModel{
			Name: m.Name, Tag: m.Tag, Digest: m.Info.Digest, Options: m.Options, Think: m.Think,
			ContextLength: m.Info.ContextLength, MeasuredContext: m.Fit.Window, Backend: m.Backend(), ModelID: m.Info.ID,
			BaseURL: m.Info.Host, Hosts: m.Server.Live(), ServerVersion: m.Version,
		})
	}
	for _, sc := range o.Scenarios {
		a := record.Artifact{
			Name: sc.Name, Variant: sc.Variant, Source: sc.Source, SHA256: sc.SHA256, Files: sc.Files,
			Vars: sc.Vars, SystemSHA256: sc.SystemSHA256, PromptSHA256: sc.PromptSHA256, Outcome: sc.Outcome,
			Breakdown: sc.Breakdown,
		}
		if sc.Requests != nil {
			a.Requests = &record.Artifact{Name: sc.Requests.Name, Source: sc.Requests.Source, SHA256: sc.Requests.SHA256, Selection: sc.Requests.Selection}
		}
		meta.Scenarios = append(meta.Scenarios, a)
	}
	return meta
}

// compatible checks that resuming prev with next would not mix settings:
// the same model name must be the same weights with the same options, the
// scenarios the same set with the same prompts, the data set the same file,
// and max_turns and the judge's settings the same, since each changes what
// a sample or verdict counts as.
func compatible(prev, next record.Run) error {
	if err := sameSettings(prev, next); err != nil {
		return err
	}
	for _, n := range next.Models {
		for _, p := range prev.Models {
			if p.Name != n.Name {
				continue
			}
			if p.Backend != "" && p.Backend != n.Backend {
				return fmt.Errorf("model %s was served through the %s API, now %s", n.Name, p.Backend, n.Backend)
			}
			if p.Tag != n.Tag || p.Digest != n.Digest {
				return fmt.Errorf("model %s was %s (%s), now %s (%s)", n.Name, p.Tag, short(p.Digest), n.Tag, short(n.Digest))
			}
			if a, b := jsonString(p.Options), jsonString(n.Options); a != b {
				return fmt.Errorf("model %s options were %s, now %s", n.Name, a, b)
			}
			if a, b := jsonString(p.Think), jsonString(n.Think); a != b {
				return fmt.Errorf("model %s think was %s, now %s", n.Name, a, b)
			}
		}
	}
	for _, n := range next.Scenarios {
		for _, p := range prev.Scenarios {
			if p.Name != n.Name || p.Variant != n.Variant {
				continue
			}
			if err := samePrompt(p, n); err != nil {
				return err
			}
		}
	}
	if prev.Dataset.SHA256 != "" && prev.Dataset.SHA256 != next.Dataset.SHA256 {
		return fmt.Errorf("data set was %s (sha256 %s), now %s (sha256 %s)", prev.Dataset.Name, short(prev.Dataset.SHA256), next.Dataset.Name, short(next.Dataset.SHA256))
	}
	if err := sameSelection("the data set", prev.Dataset, next.Dataset); err != nil {
		return err
	}
	if prev.SamplesPer != next.SamplesPer && prev.SamplesPer != 0 {
		// More samples per request extend a run; fewer would leave a
		// ragged design, so only growth is allowed.
		if next.SamplesPer < prev.SamplesPer {
			return fmt.Errorf("samples per request was %d, now %d", prev.SamplesPer, next.SamplesPer)
		}
	}
	return nil
}

// samePrompt checks that a scenario or variant sends what it sent before.
// The rendered prompt decides, so that a comment edited in scenario.toml or
// a variant added beside it does not stop a run; a run.json from before
// rendered prompts were hashed has only the files' hash to compare.
func samePrompt(p, n record.Artifact) error {
	label := n.Name
	if n.Variant != "" {
		label += " variant " + n.Variant
	}
	switch {
	case p.PromptSHA256 != "" && p.PromptSHA256 != n.PromptSHA256:
		return fmt.Errorf("scenario %s: the rendered prompt changed (sha256 %s, now %s; variables were %s, now %s)",
			label, short(p.PromptSHA256), short(n.PromptSHA256), varsText(p.Vars), varsText(n.Vars))
	case p.PromptSHA256 == "" && p.SHA256 != n.SHA256:
		return fmt.Errorf("scenario %s prompts changed (sha256 %s, now %s)", label, short(p.SHA256), short(n.SHA256))
	case p.Requests != nil && n.Requests != nil && p.Requests.SHA256 != n.Requests.SHA256:
		return fmt.Errorf("scenario %s: its requests changed (sha256 %s, now %s)", label, short(p.Requests.SHA256), short(n.Requests.SHA256))
	case p.Requests != nil && n.Requests != nil:
		return sameSelection("scenario "+label+"'s requests", *p.Requests, *n.Requests)
	}
	return nil
}

// sameSelection refuses to resume a run an older probe cut with --limit,
// taking the first requests of the file, with a --limit that now takes
// them from each category in turn: the run would mix two selections. All
// of them, without --limit, is a superset of both.
func sameSelection(what string, p, n record.Artifact) error {
	if n.Selection == dataset.ByCategory && p.Selection != dataset.ByCategory {
		return fmt.Errorf("%s: this run asked them in file order, and --limit now takes them from each category in turn, which would mix two selections; resume without --limit, which asks every request, to keep this run", what)
	}
	return nil
}

// sameSettings compares the settings of prev's and next's configurations
// that change a number: max_turns (how long a model may reason before its
// answer counts as unparsed), the set of scenarios, and the judge. A
// setting an older run.json does not record is not compared.
func sameSettings(prev, next record.Run) error {
	p, n := runConfig(prev), runConfig(next)
	if p.MaxTurns != 0 && p.MaxTurns != n.MaxTurns {
		return fmt.Errorf("max_turns was %d, now %d", p.MaxTurns, n.MaxTurns)
	}
	if a, b := scenarioNames(prev), scenarioNames(next); len(a) > 0 && strings.Join(a, ",") != strings.Join(b, ",") {
		return fmt.Errorf("scenarios were %s, now %s (resume with --scenario %s)",
			strings.Join(a, ", "), strings.Join(b, ", "), strings.Join(a, " --scenario "))
	}
	if p.Judge.Model != "" {
		if a, b := judgeSettings(p.Judge), judgeSettings(n.Judge); a != b {
			return fmt.Errorf("the judge was %s, now %s", a, b)
		}
	}
	return nil
}

func varsText(v map[string]string) string {
	if len(v) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(v)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v[k]))
	}
	return strings.Join(parts, " ")
}

// runConfig reads the configuration a run.json holds. What it was written
// from is a *config.Config, what it is read back as a JSON object; both go
// through JSON. A configuration that does not read is compared as empty.
func runConfig(r record.Run) config.Config {
	var c config.Config
	if b, err := json.Marshal(r.Config); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

// scenarioNames lists a run's scenarios, sorted, once each: a scenario
// appears in run.json once per variant, and a variant added to the grid is
// new work, as more samples are, not a change of the run.
func scenarioNames(r record.Run) []string {
	var out []string
	for _, s := range r.Scenarios {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// judgeSettings words the judge settings that change a verdict. The host is
// left out: the same model on another server votes the same way.
func judgeSettings(j config.Judge) string {
	or := func(v string, set bool) string {
		if !set {
			return "unset"
		}
		return v
	}
	temp := "unset"
	if j.Temperature != nil {
		temp = fmt.Sprint(*j.Temperature)
	}
	return fmt.Sprintf("%s (votes %s, temperature %s, num_ctx %s, num_predict %s)", j.Model,
		or(fmt.Sprint(j.Votes), j.Votes != 0), temp, or(fmt.Sprint(j.NumCtx), j.NumCtx != 0), or(fmt.Sprint(j.NumPredict), j.NumPredict != 0))
}

// merge keeps what prev knew (models and scenarios not in this invocation,
// the creation time, earlier sessions) and adds what next brings.
func merge(prev, next record.Run) record.Run {
	out := next
	out.CreatedAt = prev.CreatedAt
	out.Sessions = prev.Sessions
	out.Planned = prev.Planned
	out.Requests = max(prev.Requests, next.Requests)
	for _, p := range prev.Models {
		if !hasModel(next.Models, p.Name) {
			out.Models = append(out.Models, p)
		}
	}
	for _, p := range prev.Scenarios {
		if !hasScenario(next.Scenarios, p.Name, p.Variant) {
			out.Scenarios = append(out.Scenarios, p)
		}
	}
	return out
}

func hasModel(ms []record.RunModel, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

func hasScenario(as []record.Artifact, name, variant string) bool {
	for _, a := range as {
		if a.Name == name && a.Variant == variant {
			return true
		}
	}
	return false
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	if d == "" {
		return "unknown"
	}
	return d
}
