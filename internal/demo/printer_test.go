package demo

import (
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/screen"
)

func TestPrinterWraps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		width  int
		prefix string
		pieces []string
		want   string
	}{
		{"no width: lines as they come", 0, "", []string{"one two three\nfour"}, "one two three\nfour\n"},
		{"wraps between words", 10, "", []string{"one two three four"}, "one two\nthree four\n"},
		{"a word split between pieces", 10, "", []string{"one tw", "o three"}, "one two\nthree\n"},
		{"prefix on every line", 10, "| ", []string{"one two three"}, "| one two\n| three\n"},
		{"a word longer than a line is cut", 6, "", []string{"abcdefghij"}, "abcdef\nghij\n"},
		{"spaces at a wrap are dropped", 8, "", []string{"abc      def"}, "abc\ndef\n"},
		{"tabs stop every 4 columns", 0, "", []string{"a\tb\tc"}, "a   b   c\n"},
		{"wide characters count twice", 6, "", []string{"世界 世界"}, "世界\n世界\n"},
		{"empty lines keep the prefix", 0, "> ", []string{"a\n\nb"}, "> a\n> \n> b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPrinter(screen.Style{}, tc.width, tc.prefix, "")
			for _, s := range tc.pieces {
				p.text("", s)
			}
			p.endLine()
			got := p.take()
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for _, l := range lines(got) {
				if tc.width > 0 && screen.Width(l) > tc.width {
					t.Errorf("line %q is %d columns, over %d", l, screen.Width(l), tc.width)
				}
			}
		})
	}
}

// Colour is switched only where it changes, and every line ends with
// none, so that a line can be redrawn or padded on its own.
func TestPrinterPaints(t *testing.T) {
	p := newPrinter(screen.Style{Color: true}, 12, "│ ", screen.Yellow)
	p.text(screen.Bold, "one two three")
	p.text("", " four")
	p.endLine()
	got := p.take()
	want := "\x1b[33m│ \x1b[0m\x1b[1mone two\x1b[0m\n\x1b[33m│ \x1b[0m\x1b[1mthree\x1b[0m four\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for _, l := range lines(got) {
		if !strings.HasSuffix(l, "\x1b[0m") && !strings.HasSuffix(l, "four") {
			t.Errorf("line %q ends with a colour in force", l)
		}
	}
}

// A phrase follows a space, and moves to the next line whole.
func TestPrinterPhrase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		width int
		want  string
	}{
		{"fits", 0, "loading... ready in 1 s\n"},
		{"moves whole", 16, "loading...\nready in 1 s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPrinter(screen.Style{}, tc.width, "", "")
			p.text("", "loading...")
			p.phrase("", "ready in 1 s")
			p.endLine()
			if got := p.take(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
