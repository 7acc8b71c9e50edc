package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
)

// Mode is how progress is shown.
type Mode int

// The modes of a Display.
const (
	// Quiet shows nothing, messages included.
	Quiet Mode = iota
	// Plain writes a line per model now and then, and one per error: for
	// a log file or a pipe.
	Plain
	// Live draws a bar per model that changes in place, with messages
	// printed above the bars: for a terminal.
	Live
)

// DefaultInterval is how often Plain writes its lines.
const DefaultInterval = 15 * time.Second

// Display shows a run's progress on w. Give its Observe to the run stage
// (runner.Options.Observe) and its Judged to the judge stage, and use it as
// their Log: on a terminal, messages are then printed above the bars
// instead of across them. Close it when the stages are done. It is safe
// for concurrent use.
type Display struct {
	w        io.Writer
	mode     Mode
	now      func() time.Time
	interval time.Duration

	mu     sync.Mutex
	models []*Stats
	by     map[string]*Stats
	last   time.Time // the last periodic line (Plain)
	// lastJudge is the last periodic line of the judge (Plain).
	lastJudge time.Time
	judged    int
	// kinds lists the judge's questions in the order their first verdict
	// came; labels counts verdicts by question and label.
	kinds  []record.Kind
	labels map[record.Kind]map[string]int

	p     *mpb.Progress
	bars  map[string]*mpb.Bar
	judge *mpb.Bar
	// refresh asks mpb to redraw; stop ends the ticker that does it.
	refresh chan any
	stop    chan struct{}
	// gone is closed when mpb has stopped, after a failed redraw (the
	// terminal went away) or at the end: no redraw is asked of it then.
	gone   chan any
	closed sync.Once
}

// refreshEvery is how often the bars are redrawn.
const refreshEvery = 200 * time.Millisecond

// New returns a display on w. now is the clock (time.Now in the program),
// interval the pause between Plain lines (DefaultInterval when 0).
func New(w io.Writer, mode Mode, now func() time.Time, interval time.Duration) *Display {
	if interval <= 0 {
		interval = DefaultInterval
	}
	d := &Display{w: w, mode: mode, now: now, interval: interval, by: map[string]*Stats{}, bars: map[string]*mpb.Bar{}, labels: map[record.Kind]map[string]int{}}
	if mode == Live {
		// The display drives the redraws itself, so that Close can ask for
		// a last one: a message printed above the bars is written only
		// when they are redrawn.
		d.refresh, d.stop, d.gone = make(chan any), make(chan struct{}), make(chan any)
		d.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(28), mpb.WithManualRefresh(d.refresh), mpb.WithShutdownNotifier(d.gone))
		go func() {
			t := time.NewTicker(refreshEvery)
			defer t.Stop()
			for {
				select {
				case now := <-t.C:
					select {
					case d.refresh <- now:
					case <-d.stop:
						return
					case <-d.gone:
						return
					}
				case <-d.stop:
					return
				}
			}
		}()
	}
	return d
}

// Write prints a message: above the bars on a terminal, as it is in Plain
// mode, nowhere when quiet.
func (d *Display) Write(b []byte) (int, error) {
	switch d.mode {
	case Quiet:
		return len(b), nil
	case Live:
		if _, err := d.p.Write(b); err == nil {
			return len(b), nil
		}
	}
	// Lines from several stages at once, and the display's own, stay whole.
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.Write(b)
}

// Observe takes one event of the run stage.
func (d *Display) Observe(ev runner.Event) {
	if d.mode == Quiet {
		return
	}
	// The bars are told after d.mu is released: mpb draws them, calling
	// back for their text under d.mu, from a goroutine of its own.
	var after []func()
	defer func() {
		for _, f := range after {
			f()
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	switch e := ev.(type) {
	case runner.PlanEvent:
		for _, m := range e.Models {
			s := &Stats{Name: m.Name, Todo: m.Planned - m.Done}
			d.models = append(d.models, s)
			d.by[m.Name] = s
			if d.mode == Live && s.Todo > 0 {
				after = append(after, func() {
					b := d.bar(s)
					d.mu.Lock()
					d.bars[s.Name] = b
					d.mu.Unlock()
				})
			}
		}
	case runner.ModelStarted:
		if s := d.by[e.Model]; s != nil && s.Started.IsZero() {
			s.Started = now
		}
	case runner.WarmedUp:
		if s := d.by[e.Model]; s != nil && e.Err == nil {
			s.warmed(e.Response)
		}
	case runner.SampleFinished:
		s := d.by[e.Sample.Model]
		if s == nil {
			return
		}
		s.add(e.Sample, now)
		if b, n := d.bars[s.Name], s.Done; b != nil {
			after = append(after, func() { b.SetCurrent(int64(n)) })
		}
		if d.mode == Plain {
			// An error that stops the model is said by the run's error.
			if e.Sample.Outcome == record.Error && !e.StopsModel {
				fmt.Fprintf(d.w, "probe: %s %s: error: %s\n", s.Name, e.Sample.Key(), firstLine(e.Sample.Error))
			}
			if s.Done == s.Todo || now.Sub(d.last) >= d.interval {
				d.lines(now)
			}
		}
	case runner.ModelFinished:
		if b := d.bars[e.Model]; b != nil && e.Err != nil {
			after = append(after, func() { b.Abort(false) }) // stopped: the bar stays, short of its end
		}
	}
}

// Judged takes one verdict the judge stage wrote.
func (d *Display) Judged(jd record.Judgment) {
	if d.mode == Quiet {
		return
	}
	d.mu.Lock()
	d.judged++
	if d.labels[jd.Kind] == nil {
		d.kinds = append(d.kinds, jd.Kind)
		d.labels[jd.Kind] = map[string]int{}
	}
	d.labels[jd.Kind][jd.Label]++
	n, b := d.judged, d.judge
	if d.mode == Plain {
		defer d.mu.Unlock()
		if now := d.now(); now.Sub(d.lastJudge) >= d.interval {
			d.lastJudge = now
			fmt.Fprintf(d.w, "probe: judge: %s\n", d.judgeText())
		}
		return
	}
	d.mu.Unlock()
	if b == nil {
		b = d.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(
			decor.Name("judge", decor.WCSyncSpaceR),
			decor.Any(func(decor.Statistics) string {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.judgeText()
			}),
		))
		d.mu.Lock()
		if d.judge == nil {
			d.judge = b
		} else {
			b.Abort(true)
			b = d.judge
		}
		d.mu.Unlock()
	}
	// The total stays one ahead until Close: more verdicts may come.
	b.SetTotal(int64(n)+1, false)
	b.SetCurrent(int64(n))
}

// judgeText counts the verdicts of each question apart, as the report
// does: "verdicts af 6 (2 af, 1 unclassified), compliance 6". d.mu must
// be held.
func (d *Display) judgeText() string {
	parts := make([]string, 0, len(d.kinds))
	for _, k := range d.kinds {
		n := 0
		for _, c := range d.labels[k] {
			n += c
		}
		var of []string
		if c := d.labels[k][record.LabelAF]; k == record.KindAF && c > 0 {
			of = append(of, fmt.Sprintf("%d af", c))
		}
		if c := d.labels[k][record.LabelUnclassified]; c > 0 {
			of = append(of, fmt.Sprintf("%d unclassified", c))
		}
		p := fmt.Sprintf("%s %d", k, n)
		if len(of) > 0 {
			p += " (" + strings.Join(of, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return "verdicts " + strings.Join(parts, ", ")
}

// Close ends the display: the bars are drawn one last time and released;
// in Plain mode a model left unfinished gets its line once more. Closing
// again does nothing.
func (d *Display) Close() { d.closed.Do(d.close) }

func (d *Display) close() {
	if d.mode == Plain {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, s := range d.models {
			if !s.Started.IsZero() && s.Done < s.Todo {
				fmt.Fprintf(d.w, "probe: %s: %d/%d, %s\n", s.Name, s.Done, s.Todo, s.Summary(d.now()))
			}
		}
		return
	}
	if d.mode != Live {
		return
	}
	d.mu.Lock()
	bars := make([]*mpb.Bar, 0, len(d.bars))
	for _, b := range d.bars {
		bars = append(bars, b)
	}
	judge, n := d.judge, d.judged
	d.mu.Unlock()
	for _, b := range bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	if judge != nil {
		judge.SetTotal(int64(n), true)
	}
	close(d.stop)
	select {
	case d.refresh <- time.Now(): // the last redraw, with the messages since the one before
	case <-d.gone: // a redraw failed and mpb stopped: nothing is drawn any more
	}
	d.p.Wait()
}

// bar draws model s: name, a bar, done/total, and the numbers.
func (d *Display) bar(s *Stats) *mpb.Bar {
	return d.p.AddBar(int64(s.Todo),
		mpb.PrependDecorators(decor.Name(s.Name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.CountersNoUnit("%d/%d", decor.WCSyncSpace),
			decor.Any(func(decor.Statistics) string {
				d.mu.Lock()
				defer d.mu.Unlock()
				return s.Summary(d.now())
			}, decor.WC{C: decor.DextraSpace}),
		),
	)
}

// lines writes each started model's line. d.mu must be held.
func (d *Display) lines(now time.Time) {
	d.last = now
	for _, s := range d.models {
		if s.Todo == 0 || s.Started.IsZero() {
			continue
		}
		fmt.Fprintf(d.w, "probe: %s: %d/%d, %s\n", s.Name, s.Done, s.Todo, s.Summary(now))
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
