package prompt

import (
	"strconv"
	"strings"
)

// tomlLines holds the line of each key of a scenario.toml, since the TOML
// decoder does not say where a key was. A key is its dotted path, in which
// an element of an array of tables is its index: "variant.2.drop",
// "vars.developer", "variant.2" (the element's header). The first line a
// key appears on is kept.
type tomlLines map[string]int

// line returns the line of the first of keys that is known, or 0.
func (l tomlLines) line(keys ...string) int {
	for _, k := range keys {
		if n, ok := l[k]; ok {
			return n
		}
	}
	return 0
}

// scanLines reads the keys' lines from the text of a TOML file that has
// already been decoded without error, so it can be lenient about syntax.
func scanLines(text string) tomlLines {
	out := tomlLines{}
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
		case c == '[' || c == '{':
			n++
		case c == ']' || c == '}':
			n--
		}
	}
	return n
}

// stripComment drops a # comment that is not inside a quoted string.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return s[:i]
		}
	}
	return s
}
