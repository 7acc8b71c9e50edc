package tomlpos

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScan(t *testing.T) {
	text := `name = "x" # a comment with = in it
system = [
  "a.md",
  "b = c.md",
]
[vars]
developer = "A"
[[variant]]
name = "v"
drop = ["a"]
[variant.vars]
developer = "B"
[[variant]]
name = "w"
description = """
key = not a key
"""
insert = [{ before = "a", files = ["c.md"] }]
[ judge ] # the judge
"model" = 'j#1'
server.host = "h"
`
	l := Scan(text)
	want := map[string]int{
		"name": 1, "system": 2, "vars": 6, "vars.developer": 7, "variant.0": 8, "variant.0.name": 9, "variant.0.drop": 10,
		"variant.0.vars": 11, "variant.0.vars.developer": 12, "variant.1": 13, "variant.1.name": 14, "variant.1.insert": 18,
		"judge": 19, "judge.model": 20, "judge.server": 21, "judge.server.host": 21,
	}
	for k, n := range want {
		if got := l.Line(k); got != n {
			t.Errorf("line of %s = %d, want %d", k, got, n)
		}
	}
	for _, k := range []string{"b", "key", "variant.1.key", "before", "variant.1.insert.before"} {
		if n, ok := l[k]; ok {
			t.Errorf("%q found at line %d; it is inside a value", k, n)
		}
	}
}

func TestLineFirstKnown(t *testing.T) {
	l := Scan("a = 1\nb = 2\n")
	tests := []struct {
		keys []string
		want int
	}{
		{[]string{"b", "a"}, 2},
		{[]string{"c", "a"}, 1},
		{[]string{"c"}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := l.Line(tt.keys...); got != tt.want {
			t.Errorf("Line(%q) = %d, want %d", tt.keys, got, tt.want)
		}
	}
}

// The decoder names a key of an array of tables without its element, so
// FirstOf finds the earliest element that has it.
func TestFirstOf(t *testing.T) {
	l := Scan("[[model]]\nname = \"a\"\n[[model]]\nname = \"b\"\ntemprature = 1\n[[model]]\ntemprature = 2\n[judge]\nmodle = \"j\"\n")
	tests := []struct {
		key  toml.Key
		want int
	}{
		{toml.Key{"model", "temprature"}, 5},
		{toml.Key{"model", "name"}, 2},
		{toml.Key{"model"}, 1},
		{toml.Key{"judge", "modle"}, 9},
		{toml.Key{"judge", "model"}, 0},
	}
	for _, tt := range tests {
		if got := l.FirstOf(tt.key); got != tt.want {
			t.Errorf("FirstOf(%s) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestElem(t *testing.T) {
	if got := Elem("model", 2); got != "model.2" {
		t.Errorf("Elem(model, 2) = %q, want model.2", got)
	}
	if got := Elem("model", 0, "tag"); got != "model.0.tag" {
		t.Errorf("Elem(model, 0, tag) = %q, want model.0.tag", got)
	}
}

func TestStripComment(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a = 1 # note`, `a = 1 `},
		{`a = "x # y" # z`, `a = "x # y" `},
		{`a = 'x # y'`, `a = 'x # y'`},
		{`a = "q\" # still" # gone`, `a = "q\" # still" `},
		{`# all`, ``},
	}
	for _, tt := range tests {
		if got := stripComment(tt.in); got != tt.want {
			t.Errorf("stripComment(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
