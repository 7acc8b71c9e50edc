package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/runner"
	"github.com/probe-eval/probe/internal/screen"
)

// MinSideBySide is the narrowest terminal, in columns, that shows the two
// tiers side by side; a narrower one shows them one after the other.
const MinSideBySide = 100

// redrawEvery is how often at most side-by-side columns are redrawn while
// they stream; the last drawing of a request is never skipped.
const redrawEvery = 50 * time.Millisecond

// pauseAfterShown bounds the wait, before a pause, for the previous
// request's last answer to be shown: it is written a moment after the next
// request starts, unless writing it failed and the run is ending.
const pauseAfterShown = 5 * time.Second

// Options configure a View.
type Options struct {
	Out   io.Writer
	Style screen.Style
	// Live is set when Out is a terminal: side-by-side columns are redrawn
	// in place as they stream.
	Live bool
	// Width and Height are the terminal's size; Width 0 leaves lines
	// unwrapped (output to a file or a pipe).
	Width, Height int
	// SideBySide shows the two tiers of a request next to each other; it
	// takes a live terminal at least MinSideBySide columns wide.
	SideBySide bool
	// Intro is written before anything else, once the run stage has
	// planned the run (its PlanEvent), so that a run it refuses shows
	// nothing.
	Intro string
	// Requests are the requests the run asks, in its order.
	Requests []dataset.Request
	// Earlier are samples an earlier session of the run finished: they are
	// shown, in their place, without streaming.
	Earlier []record.Sample
	// Pause, when set, is called before each request this session asks
	// but the first, once the one before is shown: it waits for the
	// presenter, and returns false when the demo is ending.
	Pause func() bool
	// Now is the clock (time.Now in the program).
	Now func() time.Time
}

// View shows a run's answers as they stream. Give its Observe to the run
// stage and Close it when the run returns. It is safe for concurrent use.
type View struct {
	o    Options
	side bool

	mu    sync.Mutex
	items []*item // for each request, the training tier then the unmonitored one
	cur   int     // the first item (one after the other) or request (side by side) not yet shown in full
	// moved is closed, and replaced, whenever cur moves on.
	moved chan struct{}
	// seq lays out the current item when shown one after the other.
	seq *printer
	// shown counts the lines of the side-by-side frame on the screen,
	// which the next drawing replaces; drawn is when it was drawn.
	shown int
	drawn time.Time
	// headed is the last request whose heading is printed, -1 for none.
	headed int
	// asked is the last request this session started, -1 for none.
	asked int
	// loading lays out the line that says the model is loading while it
	// is open, so that what the warm-up says is wrapped after it; nil
	// once it is closed.
	loading *printer
	started time.Time
	// planned is set once the run stage has planned the run and the
	// intro is written.
	planned bool
	closed  bool
}

type item struct {
	req     int
	tier    record.Tier
	a       answer
	started bool
	done    bool
	earlier bool
	// printed counts the pieces shown so far (one after the other).
	printed int
}

// SideBySideFits reports whether a terminal of width columns shows the
// tiers side by side.
func SideBySideFits(width int) bool { return width >= MinSideBySide }

// New returns a view of a run that asks o.Requests in both tiers. Side by
// side needs a live terminal wide enough (see SideBySideFits); otherwise
// the tiers are shown one after the other.
func New(o Options) *View {
	if o.Now == nil {
		o.Now = time.Now
	}
	v := &View{o: o, side: o.SideBySide && o.Live && SideBySideFits(o.Width), moved: make(chan struct{}), headed: -1, asked: -1}
	for i := range o.Requests {
		for _, t := range record.Tiers {
			v.items = append(v.items, &item{req: i, tier: t})
		}
	}
	for _, s := range o.Earlier {
		if it := v.find(s.QueryID, s.Tier); it != nil && !it.done {
			it.a.whole(s)
			it.a.finish(s)
			it.started, it.done, it.earlier = true, true, true
		}
	}
	return v
}

// SideBySide reports whether the view shows the tiers side by side.
func (v *View) SideBySide() bool { return v.side }

func (v *View) find(queryID string, tier record.Tier) *item {
	for _, it := range v.items {
		if it.tier == tier && v.o.Requests[it.req].ID == queryID {
			return it
		}
	}
	return nil
}

// Observe takes one event of the run stage.
func (v *View) Observe(ev runner.Event) {
	switch e := ev.(type) {
	case runner.PlanEvent:
		v.mu.Lock()
		defer v.mu.Unlock()
		if !v.planned {
			v.planned = true
			v.write(v.o.Intro)
		}
		v.show()
	case runner.ModelStarted:
		v.mu.Lock()
		defer v.mu.Unlock()
		v.started = v.o.Now()
		v.loading = newPrinter(v.o.Style, max(0, v.o.Width-1), "", "")
		v.loading.text(screen.Dim, "Loading the model and reading its long system prompt once (on a laptop CPU this can take a minute)...")
		v.loading.flush()
		v.write(v.loading.take())
	case runner.WarmedUp:
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.loading == nil {
			return
		}
		took := v.o.Now().Sub(v.started).Seconds()
		if e.Err != nil {
			v.loading.text(screen.Dim, fmt.Sprintf(" the warm-up failed (%s); the answers will say more", screen.Text(e.Err.Error())))
		} else {
			v.loading.phrase(screen.Dim, fmt.Sprintf("ready in %.1f s", took))
		}
		v.endLoading()
	case runner.SampleStarted:
		it := v.item(e.Job.Key())
		if it == nil {
			return
		}
		v.pauseBefore(it.req)
		v.mu.Lock()
		defer v.mu.Unlock()
		it.started = true
		v.show()
	case runner.Chunk:
		v.mu.Lock()
		defer v.mu.Unlock()
		it := v.itemLocked(e.Key)
		if it == nil || it.done {
			return
		}
		it.a.chunk(e)
		v.show()
	case runner.SampleFinished:
		v.mu.Lock()
		defer v.mu.Unlock()
		it := v.itemLocked(e.Sample.Key())
		if it == nil || it.done {
			return
		}
		it.a.finish(e.Sample)
		it.started, it.done = true, true
		v.show()
	}
}

func (v *View) item(k record.Key) *item {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.itemLocked(k)
}

func (v *View) itemLocked(k record.Key) *item { return v.find(k.QueryID, k.Tier) }

// pauseBefore waits for the presenter before request req, when it is a
// new request of this session and not its first: once the request before
// is shown in full, it says so and calls Pause.
func (v *View) pauseBefore(req int) {
	v.mu.Lock()
	first := v.asked < 0
	fresh := req > v.asked
	if fresh {
		v.asked = req
	}
	v.mu.Unlock()
	if v.o.Pause == nil || first || !fresh {
		return
	}
	deadline := time.NewTimer(pauseAfterShown)
	defer deadline.Stop()
wait:
	for {
		v.mu.Lock()
		ready := v.closed || v.shownBefore(req)
		moved := v.moved
		v.mu.Unlock()
		if ready {
			break
		}
		select {
		case <-moved:
		case <-deadline.C:
			break wait
		}
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.endLoading()
	end := " "
	if !v.o.Live {
		// No Enter echoed by a terminal will end the line.
		end = "\n"
	}
	v.write(v.o.Style.Paint(screen.Bold, "Press Enter for the next request...") + end)
	v.mu.Unlock()
	v.o.Pause()
}

// shownBefore reports whether every request before req is shown in full.
func (v *View) shownBefore(req int) bool {
	if v.side {
		return v.cur >= req
	}
	return v.cur >= 2*req
}

// write puts s on the screen; a write error is left to the run, whose own
// output would fail the same way.
func (v *View) write(s string) {
	if s != "" {
		_, _ = io.WriteString(v.o.Out, s)
	}
}

// endLoading closes the loading line if it is still open.
func (v *View) endLoading() {
	if v.loading != nil {
		v.loading.endLine()
		v.write(v.loading.take() + "\n")
		v.loading = nil
	}
}

// show puts on the screen what can be shown now, in order.
func (v *View) show() {
	if v.side {
		v.showSide(false)
	} else {
		v.showSeq()
	}
}

func (v *View) advance() {
	v.cur++
	close(v.moved)
	v.moved = make(chan struct{})
}

// heading prints request req's heading once.
func (v *View) heading(req int) {
	if v.headed >= req {
		return
	}
	v.headed = req
	v.endLoading()
	st := v.o.Style
	r := v.o.Requests[req]
	title := fmt.Sprintf("━━━ Request %d of %d ", req+1, len(v.o.Requests))
	rule := title + strings.Repeat("━", max(0, ruleWidth(v.o.Width)-screen.Width(title)))
	p := newPrinter(st, max(0, v.o.Width-1), "", "")
	p.line(screen.Bold, rule)
	p.line(screen.Bold, screen.Text(r.Request))
	v.write(p.take() + "\n")
}

// ruleWidth is the length of a heading's rule.
func ruleWidth(width int) int {
	if width <= 0 {
		return 60
	}
	return width - 1
}

// tierHeading puts on p the line that names tier t: a badge, and what the
// model is told.
func tierHeading(p *printer, t record.Tier) {
	badge, gloss := " UNMONITORED ", "paid-tier user: the model is told nobody sees or trains on this conversation"
	if t == record.Free {
		badge, gloss = " TRAINING ", "free-tier user: the model is told this conversation is used to train it"
	}
	p.endLine()
	p.text(screen.Bold.With(reverse).With(tierPaint(t)), badge)
	p.text("", " ")
	p.text(tierPaint(t), gloss)
	p.endLine()
}

// reverse swaps the text and background colours: a badge.
const reverse screen.Paint = "7"

func tierPaint(t record.Tier) screen.Paint {
	if t == record.Free {
		return screen.Yellow
	}
	return screen.Cyan
}

// paintOf is how a piece looks.
func paintOf(pc piece) screen.Paint {
	if pc.paint != "" {
		return pc.paint
	}
	switch pc.kind {
	case kOutput:
		return screen.Bold
	case kThinking, kNote, kAside:
		return screen.Dim
	case kLabel:
		return screen.Magenta
	}
	return ""
}

// lay puts pieces on p.
func lay(p *printer, pieces []piece) {
	for _, pc := range pieces {
		switch pc.kind {
		case kLabel, kNote:
			p.line(paintOf(pc), pc.text)
		case kOutcome:
			p.endLine()
			p.text(paintOf(pc), pc.text)
		case kAside:
			p.text("", " ")
			p.text(paintOf(pc), pc.text)
		case kBreak:
			p.endLine()
		default:
			p.text(paintOf(pc), pc.text)
		}
	}
}

// showSeq shows the items one after the other: the current one as far as
// it has streamed, then, once it is done, the next.
func (v *View) showSeq() {
	for v.cur < len(v.items) {
		it := v.items[v.cur]
		if !it.started {
			return
		}
		if v.seq == nil {
			v.heading(it.req)
			head := newPrinter(v.o.Style, max(0, v.o.Width-1), "", "")
			tierHeading(head, it.tier)
			v.write(head.take())
			v.seq = newPrinter(v.o.Style, max(0, v.o.Width-1), "│ ", tierPaint(it.tier))
			if it.earlier {
				v.seq.line(screen.Dim, "(answered in an earlier session of this run)")
			}
		}
		v.endLoading()
		lay(v.seq, it.a.pieces[it.printed:])
		it.printed = len(it.a.pieces)
		if !it.done {
			v.write(v.seq.take())
			return
		}
		v.seq.endLine()
		v.write(v.seq.take() + "\n")
		v.seq = nil
		v.advance()
	}
}

// showSide shows the current request's two tiers in columns, redrawn in
// place as they stream (at most every redrawEvery unless final), and moves
// on once both are done.
func (v *View) showSide(force bool) {
	for v.cur < len(v.o.Requests) {
		free, paid := v.items[2*v.cur], v.items[2*v.cur+1]
		if !free.started && !paid.started {
			return
		}
		v.heading(v.cur)
		done := free.done && paid.done
		now := v.o.Now()
		if !done && !force && v.shown > 0 && now.Sub(v.drawn) < redrawEvery {
			return
		}
		v.draw(v.columns(free, paid), done)
		v.drawn = now
		if !done {
			return
		}
		// A blank line ends the request, as one after the other.
		v.write("\n")
		v.advance()
	}
}

// colWidth is the width of one column side by side.
func (v *View) colWidth() int { return (v.o.Width - 1 - 3) / 2 }

// columns lays out the two tiers next to each other.
func (v *View) columns(free, paid *item) []string {
	w := v.colWidth()
	col := func(it *item) []string {
		p := newPrinter(v.o.Style, w, "", "")
		tierHeading(p, it.tier)
		p.newline()
		if it.earlier {
			p.line(screen.Dim, "(answered in an earlier session of this run)")
		}
		lay(p, it.a.pieces)
		p.flush()
		return lines(p.take())
	}
	left, right := col(free), col(paid)
	sep := v.o.Style.Paint(screen.Dim, " │ ")
	out := make([]string, max(len(left), len(right)))
	for i := range out {
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out[i] = pad(l, w) + sep + r
	}
	return out
}

// draw replaces the frame on the screen with ls: while the request
// streams only its last lines that fit the terminal, since lines that
// scrolled away cannot be redrawn; in full once it is done.
func (v *View) draw(ls []string, final bool) {
	var b strings.Builder
	if v.shown > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.shown)
	}
	b.WriteString("\r\x1b[J")
	frame := ls
	if room := v.o.Height - 3; !final && room > 1 && len(ls) > room {
		above := len(ls) - (room - 1)
		note := fmt.Sprintf("… %d lines above, shown in full when both answers are done", above)
		frame = append([]string{v.o.Style.Paint(screen.Dim, note)}, ls[above:]...)
	}
	for _, l := range frame {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	v.shown = len(frame)
	if final {
		v.shown = 0
	}
	v.write(b.String())
}

// Close shows what is left: the answer being drawn, in full. Call it when
// the run stage has returned.
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	close(v.moved)
	v.moved = make(chan struct{})
	v.endLoading()
	if v.side {
		if v.cur < len(v.o.Requests) && v.shown > 0 {
			free, paid := v.items[2*v.cur], v.items[2*v.cur+1]
			v.draw(v.columns(free, paid), true)
		}
		return
	}
	if v.seq != nil {
		v.seq.endLine()
		v.write(v.seq.take())
		v.seq = nil
	}
}
