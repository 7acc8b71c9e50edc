package judge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	// Concurrency is how many samples are judged at once.
	Concurrency int
	// Log receives progress lines; nil discards them.
	Log io.Writer
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
// runs beside a probe run writing the same folder.
func Classify(ctx context.Context, o ClassifyOptions) (*ClassifyResult, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	o.Concurrency = max(o.Concurrency, 1)
	o.Judge.Model = record.CanonicalModel(o.Judge.Model)
	if _, err := os.Stat(filepath.Join(o.Dir, record.SamplesFile)); err != nil {
		return nil, fmt.Errorf("no samples to judge: %w", err)
	}
	lock, err := record.LockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	samples, err := record.ReadSamples(o.Dir)
	if err != nil {
		return nil, err
	}
	done, err := record.ReadJudgments(o.Dir)
	if err != nil {
		return nil, err
	}
	asks, err := NewAsks(o.Dir, o.Kinds)
	if err != nil {
		return nil, err
	}
	res := &ClassifyResult{Ineligible: map[record.Kind]int{}, Labels: map[record.Kind]map[string]int{}, Torn: done.Torn}
	byKind := map[record.Kind][]job{}
	longest := 0
	for _, s := range samples.All() {
		qs, err := asks.For(s)
		if err != nil {
			return nil, err
		}
		if s.Answered() {
			res.Samples++
		}
		for _, q := range qs {
			if res.Labels[q.Kind] == nil {
				res.Labels[q.Kind] = map[string]int{}
			}
			t := FromSample(s)
			if !t.Eligible(q.Kind) {
				res.Ineligible[q.Kind]++
				continue
			}
			k := record.JudgmentKey{Sample: s.Key(), Kind: q.Kind, Judge: o.Judge.Model, PromptSHA256: q.SHA256}
			if prev, ok := done.Get(k); ok && prev.Settled() && !(o.RetryUnclassified && prev.Label == record.LabelUnclassified) {
				res.Skipped++
				continue
			}
			byKind[q.Kind] = append(byKind[q.Kind], job{q: q, s: s, t: t})
			longest = max(longest, PromptBytes(q, t))
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
	app, cut, err := record.OpenAppender(filepath.Join(o.Dir, record.JudgmentsFile))
	if err != nil {
		return nil, err
	}
	defer app.Close()
	res.Torn = res.Torn || cut > 0
	if res.Torn {
		fmt.Fprintf(o.Log, "probe: %s ended in a torn line from an interrupted write; it was cut off and that verdict will be asked again\n", record.JudgmentsFile)
	}
	if len(jobs) == 0 {
		fmt.Fprintf(o.Log, "probe: judge %s: nothing to judge (%d verdicts already settled)\n", o.Judge.Model, res.Skipped)
		return res, nil
	}

	w := &writer{app: app, res: res, log: o.Log, todo: len(jobs), start: time.Now()}
	if err := o.Judge.Prepare(ctx, longest); err != nil {
		if errors.Is(err, llm.ErrUnreachable) {
			return res, w.lose(jobs, o.Judge, err)
		}
		return res, fmt.Errorf("judge %s: %w", o.Judge.Model, err)
	}
	w.now = o.Judge.Now
	w.start = w.now()
	fmt.Fprintf(o.Log, "probe: judge %s on %s: %d verdicts to ask, %d already settled; %d votes each at temperature %g, num_ctx %d\n",
		o.Judge.Model, o.Judge.Client.Host(), len(jobs), res.Skipped, o.Judge.Votes, o.Judge.Temperature, o.Judge.NumCtx)
	return res, w.run(ctx, jobs, o)
}

// writer appends verdicts from one goroutine and keeps the counts.
type writer struct {
	app   *record.Appender
	res   *ClassifyResult
	log   io.Writer
	todo  int
	n     int
	start time.Time
	now   func() time.Time
}

type outcome struct {
	i  int
	jd record.Judgment
}

// run judges jobs with o.Concurrency in flight.
func (w *writer) run(ctx context.Context, jobs []job, o ClassifyOptions) error {
	idx := make([]int, len(jobs))
	for i := range idx {
		idx[i] = i
	}
	written := make([]bool, len(jobs))
	err := llm.Each(ctx, o.Concurrency, idx, func(ctx context.Context, i int, send func(outcome)) error {
		jb := jobs[i]
		jd, err := o.Judge.Ask(ctx, jb.q, jb.t)
		if err != nil && ctx.Err() != nil {
			return nil // cut short: asked again next time
		}
		fill(&jd, jb.s)
		// A finished verdict is always handed over, even when the judge
		// stopped: it says which votes were lost.
		send(outcome{i, jd})
		return err
	}, func(oc outcome) error {
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
		for i, jb := range jobs {
			if !written[i] {
				left = append(left, jb)
			}
		}
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
