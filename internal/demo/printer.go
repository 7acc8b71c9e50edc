package demo

import (
	"strings"

	"github.com/probe-eval/probe/internal/screen"
)

// tabWidth is the tab stop of model text, which is laid out in columns.
const tabWidth = 4

// printer lays out safe text (passed through screen) in lines of at most
// width columns, each beginning with a prefix, wrapping between words. A
// word is held until the character after it shows where it ends, so text
// that streams in pieces is laid out as the whole would be; flush places
// the last word. Colours are switched only where the paint changes, and
// every line, and every take, ends with none. Output accumulates until
// take.
type printer struct {
	st          screen.Style
	width       int // 0: lines are never wrapped
	prefix      string
	prefixPaint screen.Paint
	prefixW     int

	out     strings.Builder
	open    screen.Paint // the paint in force on the output
	col     int          // columns taken on the current line, prefix included
	started bool         // the current line has its prefix
	// spaces are held, like words, until a word follows them on the same
	// line: a line never ends in spaces, and the spaces where a line
	// wraps are dropped.
	spaces []run
	word   []run
	wordW  int
}

// run is text of one paint.
type run struct {
	paint screen.Paint
	text  string
}

// newPrinter returns a printer of lines of at most width columns, each
// beginning with prefix (plain text) in paint.
func newPrinter(st screen.Style, width int, prefix string, paint screen.Paint) *printer {
	return &printer{st: st, width: width, prefix: prefix, prefixPaint: paint, prefixW: screen.Width(prefix)}
}

// take returns what was laid out since the last take, with no paint left
// in force.
func (p *printer) take() string {
	p.paint("")
	s := p.out.String()
	p.out.Reset()
	return s
}

// paint puts q in force.
func (p *printer) paint(q screen.Paint) {
	if !p.st.Color || q == p.open {
		return
	}
	if p.open != "" {
		p.out.WriteString("\x1b[0m")
	}
	if q != "" {
		p.out.WriteString("\x1b[" + string(q) + "m")
	}
	p.open = q
}

// text lays out s, safe text of one paint.
func (p *printer) text(paint screen.Paint, s string) {
	for _, r := range s {
		switch r {
		case '\n':
			p.placeWord()
			p.newline()
		case ' ', '\t':
			p.placeWord()
			n := 1
			if r == '\t' {
				n = tabWidth - (max(0, p.col-p.prefixW)+p.spacesWidth())%tabWidth
			}
			p.spaces = appendRun(p.spaces, paint, strings.Repeat(" ", n))
		default:
			p.addToWord(paint, r)
		}
	}
}

// phrase lays out s, safe text of one paint on one line, after a space
// and as a single word: it moves to the next line whole rather than break
// where it does not fit, unless it is longer than a line.
func (p *printer) phrase(paint screen.Paint, s string) {
	p.placeWord()
	p.spaces = appendRun(p.spaces, paint, " ")
	for _, r := range s {
		p.addToWord(paint, r)
	}
	p.placeWord()
}

// line puts s on a line of its own.
func (p *printer) line(paint screen.Paint, s string) {
	p.endLine()
	p.text(paint, s)
	p.endLine()
}

// endLine ends the current line unless nothing is on it yet.
func (p *printer) endLine() {
	p.placeWord()
	if p.started {
		p.newline()
	}
}

// flush places the word held back.
func (p *printer) flush() { p.placeWord() }

func (p *printer) startLine() {
	if !p.started {
		if p.prefix != "" {
			p.paint(p.prefixPaint)
			p.out.WriteString(p.prefix)
		}
		p.col = p.prefixW
		p.started = true
	}
}

func (p *printer) newline() {
	p.startLine()
	p.paint("")
	p.out.WriteByte('\n')
	p.col, p.started, p.spaces = 0, false, p.spaces[:0]
}

// spacesWidth is the width of the spaces held.
func (p *printer) spacesWidth() int {
	n := 0
	for _, r := range p.spaces {
		n += len(r.text)
	}
	return n
}

// appendRun adds text of one paint to runs, joining it to the last run
// when that has the same paint.
func appendRun(runs []run, paint screen.Paint, text string) []run {
	if n := len(runs); n > 0 && runs[n-1].paint == paint {
		runs[n-1].text += text
		return runs
	}
	return append(runs, run{paint, text})
}

func (p *printer) addToWord(paint screen.Paint, r rune) {
	p.word = appendRun(p.word, paint, string(r))
	p.wordW += screen.RuneWidth(r)
}

// placeWord writes the held word: on this line if it fits, else on the
// next; a word longer than a whole line is cut where the line ends.
func (p *printer) placeWord() {
	if len(p.word) == 0 {
		return
	}
	p.startLine()
	sp := p.spacesWidth()
	if p.width > 0 && p.col+sp+p.wordW > p.width && p.col+sp > p.prefixW {
		p.newline()
		p.startLine()
	} else {
		for _, rn := range p.spaces {
			p.paint(rn.paint)
			p.out.WriteString(rn.text)
		}
		p.col += sp
	}
	p.spaces = p.spaces[:0]
	for _, rn := range p.word {
		for _, r := range rn.text {
			w := screen.RuneWidth(r)
			if p.width > 0 && p.col+w > p.width && p.col > p.prefixW {
				p.newline()
				p.startLine()
			}
			p.paint(rn.paint)
			p.out.WriteRune(r)
			p.col += w
		}
	}
	p.word, p.wordW = p.word[:0], 0
}

// lines splits laid-out text into lines, dropping the empty line after a
// final newline.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// pad fills a laid-out line with spaces to width columns.
func pad(line string, width int) string {
	if n := width - screen.Width(line); n > 0 {
		return line + strings.Repeat(" ", n)
	}
	return line
}
