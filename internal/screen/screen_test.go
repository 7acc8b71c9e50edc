package screen

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain text is kept", "Hello, world.\n\tIndented.", "Hello, world.\n\tIndented."},
		{"unicode is kept", "Grüße, 世界 🙂", "Grüße, 世界 🙂"},
		{"clear screen", "a\x1b[2Jb", "a␛[2Jb"},
		{"colour", "\x1b[31mred\x1b[0m", "␛[31mred␛[0m"},
		{"window title (OSC ended by BEL)", "\x1b]0;pwned\x07", "␛]0;pwned␇"},
		{"bell and backspace", "a\x07b\x08c", "a␇b␈c"},
		{"NUL and DEL", "a\x00b\x7f", "a␀b␡"},
		{"CRLF becomes LF", "one\r\ntwo", "one\ntwo"},
		{"lone CR is shown", "safe\rEVIL", "safe␍EVIL"},
		{"CR at the end", "end\r", "end␍"},
		{"C1 CSI", "a\u009b2Jb", "a<U+009B>2Jb"},
		{"bidi override", "abc\u202edef", "abc<U+202E>def"},
		{"isolate", "x\u2066y\u2069", "x<U+2066>y<U+2069>"},
		{"invalid UTF-8", "a\xffb", "a\ufffdb"},
		{"truncated UTF-8 at the end", "a\xe4\xb8", "a\ufffd\ufffd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Text(tc.in)
			if got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.ContainsAny(got, "\x1b\x07\x08\x00\x7f\r\u009b\u202e") {
				t.Errorf("Text(%q) = %q still holds a control character", tc.in, got)
			}
		})
	}
}

// Pieces split anywhere give the same text as the whole, so a model's
// stream is neutralised exactly as its answer would be.
func TestStreamSplitAnywhere(t *testing.T) {
	whole := "a\r\nb 世界\x1b[2J\u009bx\xffé\r"
	want := Text(whole)
	for i := 0; i <= len(whole); i++ {
		for j := i; j <= len(whole); j++ {
			var st Stream
			got := st.Text(whole[:i]) + st.Text(whole[i:j]) + st.Text(whole[j:]) + st.Flush()
			if got != want {
				t.Fatalf("split at %d and %d: got %q, want %q", i, j, got, want)
			}
		}
	}
}

func TestStyle(t *testing.T) {
	on, off := Style{Color: true}, Style{}
	if got, want := on.Paint(Bold.With(Yellow), "hi"), "\x1b[1;33mhi\x1b[0m"; got != want {
		t.Errorf("on: got %q, want %q", got, want)
	}
	if got := off.Paint(Bold.With(Yellow), "hi"); got != "hi" {
		t.Errorf("off: got %q, want plain", got)
	}
	if got := on.Paint(Bold, ""); got != "" {
		t.Errorf("empty text: got %q, want nothing", got)
	}
}

func TestWidth(t *testing.T) {
	on := Style{Color: true}
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"abc", 3},
		{on.Paint(Red, "abc") + "de", 5},
		{"世界", 4},
		{"␛[2J", 4},
		{"", 0},
	} {
		if got := Width(tc.in); got != tc.want {
			t.Errorf("Width(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
