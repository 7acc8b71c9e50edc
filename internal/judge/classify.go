package judge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// ClassifyOptions is everything one invocation of the judge stage needs.
type ClassifyOptions struct {
	// Dir is the run folder, holding samples.jsonl.
	Dir   string
	Judge *Judge
	// Kinds narrows the questions asked to these; empty asks each sample
	// its af question and its scenario's outcome question (see Asks).
	Kinds []record.Kind
	// RetryUnclassified asks again samples whose verdict was unclassified
	// because no vote fitted the schema; those lost to the server are
	// always asked again.
	RetryUnclassified bool
	// Concurrency is how many samples are judged at once; 0 means as many
	// as the judge's server serves at once (llm.Hosts.Slots: every slot of
	// every host), or 1 when that is not known.
	Concurrency int
	// Log receives messages; nil discards them. Without Observe it also
	// gets a progress line per verdict.
	Log io.Writer
	// Observe, when set, is told each verdict as it is written, from the
	// goroutine that called Classify.
	Observe func(record.Judgment)

	// Follow, when set, makes Classify judge the samples as the generate
	// stage writes them, while it still runs: samples.jsonl is read again
	// each time Follow delivers, and once more when Follow is closed, at
	// the end of generation, after which Classify takes the run's lock for
	// what is left. The caller (probe run) holds the lock until then.
	// Longest then sizes num_ctx, since the answers are not known yet.
	Follow  <-chan struct{}
	Longest int
}

// ClassifyResult says what one invocation did.
type ClassifyResult struct {
	// Samples counts the run's samples with a model answer.
	Samples int
	// Ineligible counts, per question, answered samples with nothing to
	// ask about: no reasoning for af, no final output for the others.
	Ineligible map[record.Kind]int
	// Skipped counts verdicts already settled by an earlier invocation.
	Skipped int
	// Written counts verdicts written now, Labels them by question and
	// label.
	Written int
	Labels  map[record.Kind]map[string]int
	// Lost counts the verdicts written as unclassified without asking,
	// because the judge's server could not be reached.
	Lost int
	// Votes and Attempts count the votes cast now and the requests they
	// took; Attempts above Votes means answers were asked again.
	Votes, Attempts int
	// Torn is set when judgments.jsonl ended in a torn line, cut off.
	Torn bool
}

// ErrSettingsChanged means the judge would ask with other settings than it
// settled the run's earlier verdicts with (votes, temperature, num_predict,
// thinking, or its weights): its new verdicts and the old ones would be
// counted in one report as if alike.
var ErrSettingsChanged = errors.New("the judge's settings differ from those of its verdicts already settled")

// ErrJudgeUnreachable means the judge's server could not be reached; the
// samples not judged were recorded as unclassified and are asked again by
// the next probe classify.
var ErrJudgeUnreachable = errors.New("judge server not reachable")

type job struct {
	q *Question
	s record.Sample
	t Transcript
}

// Classify judges every answered sample of o.Dir that has no settled
// verdict from this judge and wording, appending one line per sample and
// question to judgments.jsonl. It holds the run folder's lock, so it never
// runs beside a probe run writing the same folder (with Follow, from the
// end of generation; see ClassifyOptions.Follow).
func Classify(ctx context.Context, o ClassifyOptions) (*ClassifyResult, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
		if h, ok := o.Judge.Client.(*llm.Hosts); ok && h.Slots() > 0 {
			o.Concurrency = h.Slots()
		}
	}
	o.Judge.Model = record.CanonicalModel(o.Judge.Model)
	if o.Follow == nil {
		if _, err := os.Stat(filepath.Join(o.Dir, record.SamplesFile)); err != nil {
			return nil, fmt.Errorf("no samples to judge: %w", err)
		}
		lock, err := record.LockDir(o.Dir)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	done, err := record.ReadJudgments(o.Dir)
	if err != nil {
		return nil, err
	}
	asks, err := NewAsks(o.Dir, o.Kinds)
	if err != nil {
		return nil, err
	}
	f := &finder{o: o, done: done, asks: asks, res: &ClassifyResult{Ineligible: map[record.Kind]int{}, Labels: map[record.Kind]map[string]int{}, Torn: done.Torn}}
	var jobs []job
	if o.Follow == nil {
		samples, err := record.ReadSamples(o.Dir)
		if err != nil {
			return nil, err
		}
		if jobs, err = f.find(samples.All()); err != nil {
			return nil, err
		}
	}
	res := f.res
	app, cut, err := record.OpenAppender(filepath.Join(o.Dir, record.JudgmentsFile))
	if err != nil {
		return nil, err
	}
	defer app.Close()
	res.Torn = res.Torn || cut > 0
	if res.Torn {
		fmt.Fprintf(o.Log, "probe: %s ended in a torn line from an interrupted write; it was cut off and that verdict will be asked again\n", record.JudgmentsFile)
	}
	if len(jobs) == 0 && o.Follow == nil {
		fmt.Fprintf(o.Log, "probe: judge %s: nothing to judge (%d verdicts already settled)\n", o.Judge.Model, res.Skipped)
		return res, nil
	}
	longest := o.Longest
	for _, jb := range jobs {
		longest = max(longest, PromptBytes(jb.q, jb.t))
	}

	w := &writer{app: app, res: res, log: o.Log, observe: o.Observe, todo: len(jobs), start: time.Now()}
	if err := o.Judge.Prepare(ctx, longest); err != nil {
		if errors.Is(err, llm.ErrUnreachable) {
			if o.Follow != nil {
				// Nothing was read yet: the samples stay unjudged, and
				// the next probe classify asks them.
				return res, fmt.Errorf("%w: %v", ErrJudgeUnreachable, err)
			}
			return res, w.lose(jobs, o.Judge, err)
		}
		return res, fmt.Errorf("judge %s: %w", o.Judge.Model, err)
	}
	// Only now are the judge's settings known: Prepare fills the defaults
	// and learns whether the model can think.
	if err := sameSettings(o.Dir, done, o.Judge); err != nil {
		return res, err
	}
	w.now = o.Judge.Now
	w.start = w.now()
	ctxText := fmt.Sprintf("num_ctx %d", o.Judge.NumCtx)
	if o.Judge.NumCtx == 0 {
		ctxText = "the server's context"
	}
	if o.Follow != nil {
		fmt.Fprintf(o.Log, "probe: judge %s on %s: judging the answers as they are written; %d votes each at temperature %g, %s\n",
			o.Judge.Model, o.Judge.Client.Host(), o.Judge.Votes, o.Judge.Temperature, ctxText)
		defer f.end(w)
		// The follower runs on the pool's feeding goroutine and is given
		// the pool's context, so it ends when the pool does and never finds
		// jobs, changing res, after Classify has returned it.
		if err := w.run(ctx, f.follow, nil, o); err != nil {
			return res, err
		}
		return res, f.failed(w)
	}
	fmt.Fprintf(o.Log, "probe: judge %s on %s: %d verdicts to ask, %d already settled; %d votes each at temperature %g, %s\n",
		o.Judge.Model, o.Judge.Client.Host(), len(jobs), res.Skipped, o.Judge.Votes, o.Judge.Temperature, ctxText)
	return res, w.run(ctx, func(context.Context, *writer) iter.Seq[job] { return slices.Values(jobs) }, jobs, o)
}

// sameSettings checks that j asks as it asked the verdicts it settled in
// done that it would keep (those in the words of today's questions): a
// resumed probe classify with other votes, temperature, num_predict,
// --think or weights would otherwise fill in the rest of a run's verdicts
// with a second judge under the first one's name.
func sameSettings(dir string, done *record.Judgments, j *Judge) error {
	now := record.Judgment{VotesAsked: j.Votes, Temperature: j.Temperature, NumPredict: j.NumPredict, Think: j.Think, JudgeDigest: j.Digest}
	hashes := map[record.Kind]string{}
	var (
		first string
		n     int
	)
	for _, jd := range done.All() {
		if jd.Judge != j.Model || !jd.Settled() {
			continue
		}
		h, ok := hashes[jd.Kind]
		if !ok {
			if q, err := LoadQuestion(jd.Kind); err == nil {
				h = q.SHA256
			}
			hashes[jd.Kind] = h
		}
		if jd.PromptSHA256 != h {
			continue // in other words: asked again, not kept
		}
		if d := settingsDiffer(jd, now); d != "" {
			if first == "" {
				first = d
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%s: judge %s: %w: %d were asked with %s; to judge the rest alike, rerun with the earlier settings ([judge] votes, temperature and num_predict in models.toml, or --votes, --num-predict, --think; the same weights), or, to judge every answer again with the new ones, move %s, which holds every judge's verdicts of the run, aside first",
		dir, j.Model, ErrSettingsChanged, n, first, filepath.Join(dir, record.JudgmentsFile))
}

// settingsDiffer words how the settings of verdict was differ from now's,
// or returns "" when they are the same.
func settingsDiffer(was, now record.Judgment) string {
	var d []string
	if was.VotesAsked != now.VotesAsked {
		d = append(d, fmt.Sprintf("votes %d (now %d)", was.VotesAsked, now.VotesAsked))
	}
	if was.Temperature != now.Temperature {
		d = append(d, fmt.Sprintf("temperature %g (now %g)", was.Temperature, now.Temperature))
	}
	if was.NumPredict != now.NumPredict {
		d = append(d, fmt.Sprintf("num_predict %d (now %d)", was.NumPredict, now.NumPredict))
	}
	if was.Think != now.Think {
		d = append(d, fmt.Sprintf("think %v (now %v)", was.Think, now.Think))
	}
	if was.JudgeDigest != "" && now.JudgeDigest != "" && was.JudgeDigest != now.JudgeDigest {
		d = append(d, fmt.Sprintf("weights %s (now %s)", was.JudgeDigest, now.JudgeDigest))
	}
	return strings.Join(d, ", ")
}

// finder turns samples into the jobs they need, counting what needs none.
type finder struct {
	o    ClassifyOptions
	done *record.Judgments
	asks *Asks
	res  *ClassifyResult
	seen map[record.Key]bool
	// With Follow: the run's lock, taken when generation ends, and what
	// stopped the following; both under the writer's mu, like ended, set
	// when Classify returns.
	lock  *record.Lock
	err   error
	ended bool
}

// end releases what following took; Classify defers it.
func (f *finder) end(w *writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f.ended = true
	if f.lock != nil {
		f.lock.Unlock()
	}
}

// failed returns what stopped the following, if anything.
func (f *finder) failed(w *writer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.err
}

// find returns the jobs samples need: one per answered sample not seen
// before and question asked of it (Asks.For) with no settled verdict,
// grouped by question, so that the verdicts of one question, which share
// the judge's system prompt, are asked one after the other.
func (f *finder) find(samples []record.Sample) ([]job, error) {
	if f.seen == nil {
		f.seen = map[record.Key]bool{}
	}
	byKind := map[record.Kind][]job{}
	for _, s := range samples {
		if !s.Answered() || f.seen[s.Key()] {
			continue
		}
		qs, err := f.asks.For(s)
		if err != nil {
			return nil, err
		}
		f.seen[s.Key()] = true
		f.res.Samples++
		t := FromSample(s)
		for _, q := range qs {
			if f.res.Labels[q.Kind] == nil {
				f.res.Labels[q.Kind] = map[string]int{}
			}
			if !t.Eligible(q.Kind) {
				f.res.Ineligible[q.Kind]++
				continue
			}
			k := record.JudgmentKey{Sample: s.Key(), Kind: q.Kind, Judge: f.o.Judge.Model, PromptSHA256: q.SHA256}
			if prev, ok := f.done.Get(k); ok && prev.Settled() && !(f.o.RetryUnclassified && prev.Label == record.LabelUnclassified) {
				f.res.Skipped++
				continue
			}
			byKind[q.Kind] = append(byKind[q.Kind], job{q: q, s: s, t: t})
		}
	}
	kinds := make([]record.Kind, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	order(kinds)
	var jobs []job
	for _, k := range kinds {
		jobs = append(jobs, byKind[k]...)
	}
	return jobs, nil
}

// follow yields the jobs of samples as generation writes them (see
// ClassifyOptions.Follow), until ctx, the judging pool's, ends. It runs on
// the pool's feeding goroutine, while the writer counts on another, so it
// counts under w's lock.
func (f *finder) follow(ctx context.Context, w *writer) iter.Seq[job] {
	return func(yield func(job) bool) {
		tail := record.NewTail[record.Sample](filepath.Join(f.o.Dir, record.SamplesFile))
		samples := &record.Samples{}
		read := func() ([]job, error) {
			var batch []record.Sample
			err := tail.Read(func(_ int, s record.Sample) error {
				if samples.Add(s) {
					batch = append(batch, s)
				}
				return nil
			})
			w.mu.Lock()
			defer w.mu.Unlock()
			jobs, ferr := f.find(batch)
			w.todo += len(jobs)
			return jobs, errors.Join(err, ferr)
		}
		stop := func(err error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			f.err = err
		}
		open := true
		for {
			if open {
				select {
				case <-ctx.Done():
					return
				case _, open = <-f.o.Follow:
				}
			}
			if !open {
				// Generation is over and has let go of the run: hold it
				// for what is left, so no other probe writes beside us.
				w.mu.Lock()
				if f.ended {
					w.mu.Unlock()
					return
				}
				f.lock, f.err = record.LockDir(f.o.Dir)
				err := f.err
				w.mu.Unlock()
				if err != nil {
					return
				}
			}
			jobs, err := read()
			if err != nil {
				stop(err)
				return
			}
			for _, jb := range jobs {
				if !yield(jb) {
					return
				}
			}
			if !open {
				return
			}
		}
	}
}

// writer appends verdicts from one goroutine and keeps the counts.
type writer struct {
	app     *record.Appender
	res     *ClassifyResult
	log     io.Writer
	observe func(record.Judgment)
	// mu guards res and todo while a follower finds jobs beside the writer.
	mu    sync.Mutex
	todo  int
	n     int
	start time.Time
	now   func() time.Time
}

// verdict is a job's judgment, with the job's place in the plan.
type verdict struct {
	i  int
	jd record.Judgment
}

// run judges the jobs that jobs yields, given the pool's context and w,
// with o.Concurrency in flight; it returns once they and the sequence have
// ended. known, when the jobs are all known at the start, are the jobs in
// the order jobs yields them: if the judge's server goes away, those not
// judged are recorded as lost (with Follow, only those already read are).
func (w *writer) run(ctx context.Context, jobs func(context.Context, *writer) iter.Seq[job], known []job, o ClassifyOptions) error {
	var (
		mu      sync.Mutex
		started []job // in the order they were handed to a worker
	)
	written := map[int]bool{}
	numbered := func(ctx context.Context) iter.Seq[int] {
		return func(yield func(int) bool) {
			for jb := range jobs(ctx, w) {
				mu.Lock()
				started = append(started, jb)
				i := len(started) - 1
				mu.Unlock()
				if !yield(i) {
					return
				}
			}
		}
	}
	at := func(i int) job {
		mu.Lock()
		defer mu.Unlock()
		return started[i]
	}
	err := llm.EachOf(ctx, o.Concurrency, numbered, func(ctx context.Context, i int, send func(verdict)) error {
		jb := at(i)
		jd, err := o.Judge.Ask(ctx, jb.q, jb.t)
		if err != nil && ctx.Err() != nil {
			return nil // cut short: asked again next time
		}
		fill(&jd, jb.s)
		// A finished verdict is always handed over, even when the judge
		// stopped: it says which votes were lost.
		send(verdict{i, jd})
		return err
	}, func(oc verdict) error {
		if err := w.write(oc.jd); err != nil {
			return fmt.Errorf("%w (what was written before is kept; free space and rerun to resume)", err)
		}
		written[oc.i] = true
		return nil
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, llm.ErrUnreachable) {
		var left []job
		mu.Lock()
		pending := started
		if known != nil {
			pending = known
		}
		for i, jb := range pending {
			if !written[i] {
				left = append(left, jb)
			}
		}
		mu.Unlock()
		return w.lose(left, o.Judge, err)
	}
	return err
}

// lose records jobs as unclassified without asking, because the judge's
// server is down, and returns the error that says so.
func (w *writer) lose(jobs []job, j *Judge, cause error) error {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	for _, jb := range jobs {
		jd := record.Judgment{
			V: record.JudgmentVersion, Kind: jb.q.Kind, Judge: j.Model, JudgeDigest: j.Digest,
			PromptSHA256: jb.q.SHA256, VotesAsked: j.Votes, Temperature: j.Temperature, NumCtx: j.NumCtx,
			NumPredict: j.NumPredict, Think: j.Think, Votes: []record.Vote{}, Label: record.LabelUnclassified, Transient: true,
			Error: "not judged: " + cause.Error(), StartedAt: now().UTC(),
		}
		fill(&jd, jb.s)
		if err := w.append(jd); err != nil {
			return err
		}
		w.res.Lost++
	}
	return fmt.Errorf("%w: %v; %d verdicts recorded as unclassified, to be asked again", ErrJudgeUnreachable, cause, w.res.Lost)
}

// append writes a verdict and counts it.
func (w *writer) append(jd record.Judgment) error {
	if err := w.app.Append(jd); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.res.Written++
	w.res.Labels[jd.Kind][jd.Label]++
	for _, v := range jd.Votes {
		if v.Attempts > 0 {
			w.res.Votes++
			w.res.Attempts += v.Attempts
		}
	}
	return nil
}

// write appends a verdict the judge gave and prints its progress line.
func (w *writer) write(jd record.Judgment) error {
	if err := w.append(jd); err != nil {
		return err
	}
	if w.observe != nil {
		w.observe(jd)
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	eta := ""
	if w.now != nil {
		elapsed := w.now().Sub(w.start)
		if left := w.todo - w.n; left > 0 {
			eta = fmt.Sprintf("  eta %s", (elapsed / time.Duration(w.n) * time.Duration(left)).Round(time.Second))
		}
	}
	fmt.Fprintf(w.log, "[%*d/%d] judge %-10s %s %s %s %s#%d %s %.1fs%s\n",
		len(fmt.Sprint(w.todo)), w.n, w.todo, jd.Kind, jd.Model, jd.Scenario, jd.QueryID, jd.Tier, jd.Sample,
		describe(jd), float64(jd.DurationMS)/1000, eta)
	return nil
}

// fill copies the judged sample's identity into its verdict.
func fill(jd *record.Judgment, s record.Sample) {
	jd.Run, jd.Model, jd.Scenario, jd.Variant, jd.QueryID, jd.Tier, jd.Sample = s.Run, s.Model, s.Scenario, s.Variant, s.QueryID, s.Tier, s.Sample
}
