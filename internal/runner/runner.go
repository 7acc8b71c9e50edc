package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	Client    llm.Client

	ProbeVersion string
	// Now and Backoff are injected so tests are deterministic and fast;
	// both are called from several goroutines.
	Now     func() time.Time
	Backoff func(attempt int) time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
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

// DefaultBackoff waits 1 s, 2 s, 4 s ... between attempts, at most 30 s.
func DefaultBackoff(attempt int) time.Duration {
	return min(time.Second<<(attempt-1), 30*time.Second)
}

// Run runs (or resumes) the experiment into o.Dir.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// A model given twice would ask each of its samples twice.
	seen := map[string]bool{}
	for _, m := range o.Models {
		if seen[m.Name] {
			return nil, fmt.Errorf("model %s is given twice", m.Name)
		}
		seen[m.Name] = true
	}
	// Ask the server first, so a run that cannot start leaves no folder.
	version, err := o.Client.Version(ctx)
	if err != nil {
		return nil, err
	}
	models, err := Prepare(ctx, o.Client, o.Models, o.Scenarios, o.Requests)
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
	keepSized(models, sizedBefore(prev, o.Models))
	meta := o.describe(version, models)
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
	var plans [][]Job
	for _, m := range models {
		var todo []Job
		for _, j := range Plan(m.Name, o.Scenarios, o.Requests, o.Samples) {
			res.Planned++
			if done.Done(j.Key()) {
				res.Skipped++
				continue
			}
			todo = append(todo, j)
		}
		plans = append(plans, todo)
	}
	meta.Planned = max(meta.Planned, res.Planned)
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
	fmt.Fprintf(o.Log, "probe: run %s: %d samples planned, %d already done, %d to go; %s per model, each sent as one block so the server's prompt cache holds it (Ollama %s at %s)\n",
		o.RunID, res.Planned, res.Skipped, res.Planned-res.Skipped, plural(SystemPrompts(o.Scenarios), "system prompt"), version, o.Client.Host())

	r := &run{o: o, app: app, res: res, start: o.Now(), todo: res.Planned - res.Skipped}
	var runErr error
	for i, m := range models {
		if len(plans[i]) == 0 {
			continue
		}
		fmt.Fprintf(o.Log, "probe: %s: num_ctx %d%s, %d samples\n", m.describe(), m.NumCtx, sizedNote(m), len(plans[i]))
		if runErr = r.model(ctx, m, plans[i]); runErr != nil {
			break
		}
	}

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

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func sizedNote(m *Model) string {
	if m.NumCtxSized {
		return " (sized from the prompt; set num_ctx in models.toml to fix it)"
	}
	return ""
}

// run is one invocation's shared state.
type run struct {
	o     Options
	app   *record.Appender
	res   *Result
	start time.Time
	todo  int
	n     int
}

// modelFailure stops a model's remaining jobs when the server rejects its
// requests outright: every other request would fail the same way.
type modelFailure struct{ err error }

func (e *modelFailure) Error() string { return e.err.Error() }

// model runs one model's jobs with the configured number in flight, and
// writes each record as it arrives, from this goroutine only.
func (r *run) model(ctx context.Context, m *Model, jobs []Job) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobCh := make(chan Job)
	out := make(chan record.Sample)
	var wg sync.WaitGroup
	for range r.o.Config.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobCh {
				if ctx.Err() != nil {
					return
				}
				rec, err := r.sample(ctx, m, j)
				if err != nil {
					cancel(err)
					return
				}
				// A finished sample is always handed over: the writer
				// reads until every worker is gone.
				out <- rec
				if rec.Outcome == record.Error && stopsModel(rec.Error) {
					cancel(&modelFailure{err: fmt.Errorf("%s: %s", m.describe(), rec.Error)})
				}
			}
		}()
	}
	go func() {
		defer close(jobCh)
		for _, j := range jobs {
			select {
			case jobCh <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	var writeErr error
	for rec := range out {
		if writeErr != nil {
			continue // drain; nothing more is written after a failed write
		}
		if err := r.app.Append(rec); err != nil {
			writeErr = fmt.Errorf("%w (what was written before is kept; free space and rerun to resume)", err)
			cancel(writeErr)
			continue
		}
		r.res.Written++
		r.res.Counts[rec.Outcome]++
		if rec.Stop != "" {
			r.res.Stops[rec.Stop]++
		}
		r.n++
		r.progress(rec)
	}
	err := context.Cause(ctx)
	var mf *modelFailure
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mf):
		r.res.Failed = append(r.res.Failed, mf.Error())
		fmt.Fprintf(r.o.Log, "probe: stopping %s: %v\n", m.describe(), mf.err)
		return nil
	}
	return err
}

// Errors that would repeat for every request of a model.
const (
	msgContext = "the prompt does not fit"
	msgBadReq  = "the server rejected the request"
)

func stopsModel(msg string) bool {
	return strings.HasPrefix(msg, msgContext) || strings.HasPrefix(msg, msgBadReq)
}

func (r *run) progress(rec record.Sample) {
	elapsed := r.o.Now().Sub(r.start)
	eta := ""
	if left := r.todo - r.n; left > 0 && r.n > 0 {
		eta = fmt.Sprintf("  eta %s", (elapsed / time.Duration(r.n) * time.Duration(left)).Round(time.Second))
	}
	detail := ""
	if rec.Outcome == record.Error {
		detail = ": " + firstLine(rec.Error)
	}
	what := string(rec.Outcome)
	if rec.Stop != "" {
		what += " (" + StopWords(rec.Stop) + ")"
	}
	fmt.Fprintf(r.o.Log, "[%*d/%d] %s %s %s %s#%d %s %.1fs%s%s\n",
		len(fmt.Sprint(r.todo)), r.n, r.todo, rec.Model, scenarioLabel(rec), rec.QueryID, rec.Tier, rec.Sample,
		what, float64(rec.DurationMS)/1000, eta, detail)
}

// scenarioLabel names a sample's scenario and variant as Scenario.Label does.
func scenarioLabel(rec record.Sample) string {
	if rec.Variant == "" {
		return rec.Scenario
	}
	return rec.Scenario + "+" + rec.Variant
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// sample runs one job to a record. It returns an error only when the whole
// run must stop (the server is gone, the model vanished, or the run was
// cancelled); a failure of this one sample is a record with Error set.
func (r *run) sample(ctx context.Context, m *Model, j Job) (record.Sample, error) {
	start := r.o.Now()
	rec := record.Sample{
		V: record.Version, Run: r.o.RunID, Model: m.Name, Tag: m.Tag, Scenario: j.Scenario.Name,
		Variant: j.Scenario.Variant, Vars: j.Scenario.Vars, QueryID: j.Request.ID, Category: j.Request.Category, Request: j.Request.Request,
		Tier: j.Tier, Sample: j.Sample, NumCtx: m.NumCtx, StartedAt: start.UTC(),
	}
	user, err := j.Scenario.User(j.Tier == record.Free, j.Request.Request)
	if err != nil {
		return rec, err
	}
	msgs := []llm.Message{{Role: "system", Content: j.Scenario.System}, {Role: "user", Content: user}}
	var content, thinking strings.Builder
	var promptEval time.Duration
	for turn := 1; ; turn++ {
		resp, attempts, err := r.chat(ctx, m, j.Sample, msgs)
		rec.Attempts += attempts
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
			rec.Outcome, rec.Error = record.Error, describe(err, m)
			break
		}
		if turn > 1 && resp.PromptTokens >= m.NumCtx {
			// As above, but the server took the continuation and may have
			// cut it: this turn's answer is dropped, the earlier ones stand.
			rec.Stop = record.StopWindow
			break
		}
		content.WriteString(resp.Content)
		thinking.WriteString(resp.Thinking)
		promptEval += resp.PromptEval
		if turn == 1 {
			rec.PromptTokens = resp.PromptTokens
		}
		rec.OutputTokens += resp.OutputTokens
		rec.DoneReason = resp.DoneReason
		if resp.PromptTokens >= m.NumCtx {
			// The first prompt filled the whole window: Ollama may have cut
			// it, so the answer cannot be trusted as an answer to our prompt.
			rec.Truncated = true
			rec.Outcome = record.Error
			rec.Error = fmt.Sprintf("%s: prompt_eval_count %d reached num_ctx %d on turn %d; raise num_ctx for %s",
				msgContext, resp.PromptTokens, m.NumCtx, turn, m.Name)
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
	rec.PromptEvalMS = promptEval.Milliseconds()
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

// sampleOptions gives sample k of a request the seed seed+k, so that a
// seeded run is reproducible and its repeated samples still differ.
func sampleOptions(opts map[string]any, k int) map[string]any {
	seed, ok := opts["seed"].(int)
	if !ok || k == 0 {
		return opts
	}
	o := maps.Clone(opts)
	o["seed"] = seed + k
	return o
}

// describe words a sample's failure for its record and the progress line.
func describe(err error, m *Model) string {
	switch {
	case errors.Is(err, llm.ErrContextExceeded):
		return fmt.Sprintf("%s: Ollama refused the prompt as longer than num_ctx %d; raise num_ctx for %s in models.toml", msgContext, m.NumCtx, m.Name)
	case errors.Is(err, llm.ErrBadRequest):
		return fmt.Sprintf("%s: %v", msgBadReq, err)
	}
	return err.Error()
}

// chat sends one turn, trying again after transient failures. It returns
// how many attempts it made.
func (r *run) chat(ctx context.Context, m *Model, sample int, msgs []llm.Message) (*llm.ChatResponse, int, error) {
	req := &llm.ChatRequest{
		Model:     m.Tag,
		Messages:  msgs,
		Options:   sampleOptions(m.Options, sample),
		Think:     m.Think,
		KeepAlive: r.o.Config.KeepAlive.Duration,
	}
	timeout := r.o.Config.RequestTimeout.Duration
	for attempt := 1; ; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := r.o.Client.Chat(tctx, req)
		timedOut := errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			return resp, attempt, nil
		case ctx.Err() != nil:
			return nil, attempt, context.Cause(ctx)
		case timedOut:
			return nil, attempt, fmt.Errorf("no complete answer within %s (request_timeout in models.toml)", timeout)
		case !llm.Retryable(err) || attempt > r.o.Config.Retries:
			return nil, attempt, err
		}
		select {
		case <-time.After(r.o.Backoff(attempt)):
		case <-ctx.Done():
			return nil, attempt, context.Cause(ctx)
		}
	}
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
// does not change the window in the middle of a run.
func keepSized(models []*Model, sized map[string]int) {
	for _, m := range models {
		if n := sized[m.Name]; m.NumCtxSized && n > 0 {
			m.NumCtx = n
			m.Options["num_ctx"] = n
		}
	}
}

// describe builds run.json's content for this invocation.
func (o Options) describe(version string, models []*Model) record.Run {
	meta := record.Run{
		ID:           o.RunID,
		ProbeVersion: o.ProbeVersion,
		Host:         o.Client.Host(),
		Ollama:       version,
		ConfigFile:   o.Config.File,
		Config:       o.Config,
		Dataset:      record.Artifact{Name: o.Dataset.Name, Source: o.Dataset.Source, SHA256: o.Dataset.SHA256},
		Requests:     len(o.Requests),
		SamplesPer:   o.Samples,
		CreatedAt:    o.Now().UTC(),
	}
	for _, m := range models {
		meta.Models = append(meta.Models, record.RunModel{
			Name: m.Name, Tag: m.Tag, Digest: m.Info.Digest, Options: m.Options, Think: m.Think,
			ContextLength: m.Info.ContextLength,
		})
	}
	for _, sc := range o.Scenarios {
		a := record.Artifact{
			Name: sc.Name, Variant: sc.Variant, Source: sc.Source, SHA256: sc.SHA256, Files: sc.Files,
			Vars: sc.Vars, SystemSHA256: sc.SystemSHA256, PromptSHA256: sc.PromptSHA256, Outcome: sc.Outcome,
			Breakdown: sc.Breakdown,
		}
		if sc.Requests != nil {
			a.Requests = &record.Artifact{Name: sc.Requests.Name, Source: sc.Requests.Source, SHA256: sc.Requests.SHA256}
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
	return fmt.Sprintf("%s (votes %s, temperature %s, num_ctx %s)", j.Model,
		or(fmt.Sprint(j.Votes), j.Votes != 0), temp, or(fmt.Sprint(j.NumCtx), j.NumCtx != 0))
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
