package tomlpos

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Lines holds the line of each key of a TOML text. A key is its dotted
// path, in which an element of an array of tables is its index:
// "model.2.tag", "judge.votes", "vars.developer", "variant.2" (the
// element's header). The first line a key appears on is kept.
type Lines map[string]int

// Line returns the line of the first of keys that is known, or 0.
func (l Lines) Line(keys ...string) int {
	for _, k := range keys {
		if n, ok := l[k]; ok {
			return n
		}
	}
	return 0
}

// Elem is the key of an element of an array of tables: Elem("model", 2)
// is "model.2", and Elem("model", 2, "tag") "model.2.tag".
func Elem(array string, i int, key ...string) string {
	return strings.Join(append([]string{array, strconv.Itoa(i)}, key...), ".")
}

// FirstOf finds the line of a key as the decoder names it (in
// MetaData.Undecoded, say), which does not tell which element of an array
// of tables it is in: the first line of any element's key of that name.
// It returns 0 when the key is not there.
func (l Lines) FirstOf(k toml.Key) int {
	want := k.String()
	best := 0
	for key, n := range l {
		var parts []string
		for _, p := range strings.Split(key, ".") {
			if _, err := strconv.Atoi(p); err != nil {
				parts = append(parts, p)
			}
		}
		if strings.Join(parts, ".") == want && (best == 0 || n < best) {
			best = n
		}
	}
	return best
}

// Scan reads the keys' lines from the text of a TOML file that has already
// been decoded without error, so it can be lenient about syntax. Lines
// inside a multi-line string or a value that spans lines hold no keys, and
// neither does an inline table.
func Scan(text string) Lines {
	out := Lines{}
	arrays := map[string]int{} // indexed path of an array of tables -> elements so far
	set := func(key string, n int) {
		if _, ok := out[key]; !ok {
			out[key] = n
		}
	}
	// resolve turns a header's dotted name into an indexed path: each part
	// that names an array of tables gets its current element's index, and
	// a [[header]] starts a new element.
	resolve := func(name string, array bool) string {
		cur := ""
		parts := splitKey(name)
		for i, p := range parts {
			cur = joinKey(cur, p)
			if i == len(parts)-1 && array {
				arrays[cur]++
			}
			if n, ok := arrays[cur]; ok {
				cur = joinKey(cur, strconv.Itoa(n-1))
			}
		}
		return cur
	}
	table := ""
	multi := ""  // the closing delimiter of a multi-line string being skipped
	nesting := 0 // open brackets of a value that spans lines
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		if multi != "" {
			if strings.Count(raw, multi)%2 == 1 {
				multi = ""
			}
			continue
		}
		line := strings.TrimSpace(stripComment(raw))
		if nesting > 0 {
			nesting += brackets(line)
			continue
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "[["):
			table = resolve(strings.Trim(line, "[] "), true)
			set(table, n)
		case strings.HasPrefix(line, "["):
			table = resolve(strings.Trim(line, "[] "), false)
			set(table, n)
		default:
			name, value, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			key := table
			for _, p := range splitKey(name) {
				key = joinKey(key, p)
				set(key, n)
			}
			for _, d := range []string{`"""`, `'''`} {
				if strings.Count(value, d)%2 == 1 {
					multi = d
				}
			}
			nesting = max(0, brackets(value))
		}
	}
	return out
}

func splitKey(s string) []string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return parts
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// brackets counts the brackets and braces s opens minus those it closes,
// outside quoted strings.
func brackets(s string) int {
	n := 0
	unquoted(s, func(_ int, c byte) bool {
		switch c {
		case '[', '{':
			n++
		case ']', '}':
			n--
		}
		return true
	})
	return n
}

// stripComment drops a # comment that is not inside a quoted string.
func stripComment(s string) string {
	end := len(s)
	unquoted(s, func(i int, c byte) bool {
		if c == '#' {
			end = i
			return false
		}
		return true
	})
	return s[:end]
}

// unquoted calls f with each byte of s outside a quoted string, and its
// index, until f returns false. A quote opens with ' or " and closes with
// the same; a backslash escapes the next byte inside "...".
func unquoted(s string, f func(i int, c byte) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case !f(i, c):
			return
		}
	}
}
