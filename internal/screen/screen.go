package screen

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// Text returns s with every character a terminal would act on rather than
// show made visible: C0 controls as their Unicode control pictures (ESC as
// ␛, so "\x1b[2J" shows as "␛[2J"), DEL as ␡, C1 controls and the
// bidirectional overrides that reorder a line as <U+XXXX>, bytes that are
// not UTF-8 as U+FFFD. Newlines and tabs are kept, and "\r\n" becomes
// "\n"; a carriage return alone, which would let a line overwrite itself,
// is shown as ␍.
func Text(s string) string {
	var st Stream
	return st.Text(s) + st.Flush()
}

// Stream is Text for text that arrives in pieces, as a model's answer
// streams: a character split between two pieces, or a "\r\n" split after
// its "\r", is held until the next piece completes it. The zero value is
// ready to use; it is not safe for concurrent use.
type Stream struct {
	carry []byte
}

// Text neutralises the next piece and returns what can be shown of it now.
func (st *Stream) Text(piece string) string {
	s := piece
	if len(st.carry) > 0 {
		s = string(st.carry) + piece
		st.carry = st.carry[:0]
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '\r' {
				switch {
				case i+1 == len(s):
					// "\r\n" may be split here: wait for the next piece.
					st.carry = append(st.carry, c)
					return b.String()
				case s[i+1] == '\n':
					i++
					continue
				}
			}
			writeASCII(&b, c)
			i++
			continue
		}
		if !utf8.FullRuneInString(s[i:]) {
			st.carry = append(st.carry, s[i:]...)
			return b.String()
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		writeRune(&b, r, n)
		i += n
	}
	return b.String()
}

// Flush returns what a piece left held, neutralised as it stands: the
// text has ended.
func (st *Stream) Flush() string {
	if len(st.carry) == 0 {
		return ""
	}
	var b strings.Builder
	for _, c := range st.carry {
		if c < utf8.RuneSelf {
			writeASCII(&b, c)
		} else {
			b.WriteRune(utf8.RuneError)
		}
	}
	st.carry = st.carry[:0]
	return b.String()
}

func writeASCII(b *strings.Builder, c byte) {
	switch {
	case c == '\n' || c == '\t':
		b.WriteByte(c)
	case c < 0x20:
		b.WriteRune(0x2400 + rune(c)) // ␀ ... ␟
	case c == 0x7f:
		b.WriteRune('\u2421') // ␡
	default:
		b.WriteByte(c)
	}
}

// writeRune writes a decoded rune of n bytes (n == 1 with RuneError for a
// byte that is not UTF-8).
func writeRune(b *strings.Builder, r rune, n int) {
	switch {
	case r == utf8.RuneError && n == 1:
		b.WriteRune(utf8.RuneError)
	case hidden(r):
		fmt.Fprintf(b, "<U+%04X>", r)
	default:
		b.WriteRune(r)
	}
}

// hidden reports whether a terminal acts on r, or reorders or hides text
// around it, rather than showing it: the C1 controls (U+009B is a second
// way to begin an escape sequence) and the bidirectional formatting
// characters.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Style colours the program's own text, or leaves it plain: plain when
// output is not a terminal, with --no-color, or when NO_COLOR is set.
type Style struct {
	Color bool
}

// Paint is a Select Graphic Rendition parameter list, such as "1;33" for
// bold yellow.
type Paint string

// The paints the program uses.
const (
	Bold    Paint = "1"
	Dim     Paint = "2"
	Italic  Paint = "3"
	Red     Paint = "31"
	Green   Paint = "32"
	Yellow  Paint = "33"
	Blue    Paint = "34"
	Magenta Paint = "35"
	Cyan    Paint = "36"
)

// With combines paints: Bold.With(Yellow) is bold yellow.
func (p Paint) With(q Paint) Paint {
	switch {
	case p == "":
		return q
	case q == "":
		return p
	}
	return p + ";" + q
}

// Paint returns text in paint p, ending with a reset so that nothing
// after it is coloured; plain text when colour is off. text must already
// be safe (the program's own, or passed through Text).
func (s Style) Paint(p Paint, text string) string {
	if !s.Color || p == "" || text == "" {
		return text
	}
	return "\x1b[" + string(p) + "m" + text + "\x1b[0m"
}

// Width is how many columns s takes on a terminal: s is safe text, which
// holds no control characters but the colour codes Style writes, and
// those take none. A tab counts as one column; callers that align text
// expand tabs first.
func Width(s string) int {
	w := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			// A colour code: ESC [ parameters m.
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			i += j + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		w += RuneWidth(r)
		i += n
	}
	return w
}

// RuneWidth is the columns r takes: 0, 1 or 2. East Asian ambiguous
// characters count as narrow, whatever the locale, so that a layout does
// not change with the environment.
func RuneWidth(r rune) int {
	if r == '\t' {
		return 1
	}
	var cond runewidth.Condition
	return cond.RuneWidth(r)
}
