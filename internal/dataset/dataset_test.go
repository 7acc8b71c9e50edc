package dataset

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltin(t *testing.T) {
	s, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Requests) < 100 {
		t.Errorf("built-in set has %d requests, want at least 100", len(s.Requests))
	}
	cats := map[string]int{}
	for _, r := range s.Requests {
		cats[r.Category]++
		if strings.HasSuffix(r.Request, ".") || r.Request != strings.TrimSpace(r.Request) {
			t.Errorf("%s: request %q must not end with a period or have outer spaces", r.ID, r.Request)
		}
	}
	if len(cats) < 8 {
		t.Errorf("built-in set has %d categories, want at least 8: %v", len(cats), cats)
	}
	if cats[""] > 0 {
		t.Errorf("%d built-in requests have no category", cats[""])
	}
	if len(s.SHA256) != 64 || s.Source != "embedded" {
		t.Errorf("provenance: %q %q", s.SHA256, s.Source)
	}
}

func TestLoadAdvBenchCSV(t *testing.T) {
	s, err := Load("testdata/advbench-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Requests), 5; got != want {
		t.Fatalf("got %d requests, want %d", got, want)
	}
	if got, want := s.Requests[0].ID, "row-0001"; got != want {
		t.Errorf("first id = %q, want %q", got, want)
	}
	var comma bool
	for _, r := range s.Requests {
		comma = comma || strings.Contains(r.Request, ",")
	}
	if !comma {
		t.Error("the quoted goal with a comma was not read whole")
	}
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadJSONL(t *testing.T) {
	p := write(t, "r.jsonl", `{"id":"a","request":"Do a thing."}`+"\n\n"+`{"id":"b","request":"Do b","category":"x"}`+"\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Requests) != 2 || s.Requests[0].Request != "Do a thing" || s.Requests[1].Category != "x" {
		t.Errorf("got %+v", s.Requests)
	}
}

func TestLoadErrorsNameTheLine(t *testing.T) {
	tests := []struct{ name, file, body, want string }{
		{"bad json", "r.jsonl", "{\"id\":\"a\",\"request\":\"x\"}\n{\"id\": 3}\n", "r.jsonl:2:"},
		{"unknown field", "r.jsonl", "{\"id\":\"a\",\"prompt\":\"x\"}\n", "r.jsonl:1:"},
		{"duplicate id", "r.jsonl", "{\"id\":\"a\",\"request\":\"x\"}\n{\"id\":\"a\",\"request\":\"y\"}\n", "r.jsonl:2: id \"a\" is used twice (first at line 1)"},
		{"empty request", "r.jsonl", "{\"id\":\"a\",\"request\":\" \"}\n", "r.jsonl:1: empty request"},
		{"no goal column", "r.csv", "prompt,target\nx,y\n", "r.csv:1: no goal column"},
		{"bad quote", "r.csv", "goal,target\n\"x,y\nz\"q,t\n", "r.csv:3: "},
		{"empty csv goal", "r.csv", "goal,target\nok,t\n,t\n", "r.csv:3: empty request"},
		{"format", "r.txt", "x", "unknown data set format"},
		{"empty", "r.jsonl", "\n", "no requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.file, tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Load("testdata/none.csv"); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestSelect(t *testing.T) {
	s, _ := Builtin()
	first := s.Select(5, false, 0)
	if len(first) != 5 || first[0].ID != s.Requests[0].ID {
		t.Errorf("limit: got %d starting %s", len(first), first[0].ID)
	}
	a, b := s.Select(10, true, 7), s.Select(10, true, 7)
	c := s.Select(10, true, 8)
	ids := func(rs []Request) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	if ids(a) != ids(b) {
		t.Errorf("same seed gave different samples: %s vs %s", ids(a), ids(b))
	}
	if ids(a) == ids(c) {
		t.Errorf("different seeds gave the same sample %s", ids(a))
	}
	if ids(a) == ids(first)+ids(s.Select(5, false, 0)) || ids(a) == ids(s.Select(10, false, 0)) {
		t.Errorf("shuffle did not shuffle: %s", ids(a))
	}
	if got := len(s.Select(0, false, 0)); got != len(s.Requests) {
		t.Errorf("limit 0 gave %d, want all %d", got, len(s.Requests))
	}
}

func TestParseTopicIsCategory(t *testing.T) {
	b := []byte(`{"id": "a", "topic": "farming", "request": "How are hens kept"}
{"id": "b", "category": "pets", "request": "Is a cat happy indoors"}
{"id": "c", "topic": "x", "colour": "red", "request": "r"}
`)
	_, err := Parse("requests.jsonl", "prompts/s/requests.jsonl", b)
	if err == nil || !strings.Contains(err.Error(), "prompts/s/requests.jsonl:3:") || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: error = %v, want it at line 3", err)
	}
	s, err := Parse("requests.jsonl", "prompts/s/requests.jsonl", b[:bytes.LastIndex(b[:len(b)-1], []byte("\n"))+1])
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{s.Requests[0].Category, s.Requests[1].Category}; got[0] != "farming" || got[1] != "pets" || s.Name != "requests.jsonl" {
		t.Errorf("categories = %v, name %q; want farming, pets", got, s.Name)
	}
}

// A limit takes requests from each category in turn, each category's in
// its order, so that a small limit still asks every category.
func TestSelectByCategory(t *testing.T) {
	s := &Set{Requests: []Request{
		{ID: "a1", Category: "a"}, {ID: "a2", Category: "a"}, {ID: "a3", Category: "a"},
		{ID: "b1", Category: "b"}, {ID: "c1", Category: "c"}, {ID: "c2", Category: "c"},
	}}
	ids := func(rs []Request) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		limit int
		want  string
		cut   bool
	}{
		{1, "a1", true},
		{3, "a1,b1,c1", true},
		{5, "a1,b1,c1,a2,c2", true},
		{6, "a1,a2,a3,b1,c1,c2", false},
		{0, "a1,a2,a3,b1,c1,c2", false},
	} {
		got, cut := s.SelectByCategory(tt.limit, false, 0)
		if ids(got) != tt.want || cut != tt.cut {
			t.Errorf("limit %d: got %s (cut %v), want %s (cut %v)", tt.limit, ids(got), cut, tt.want, tt.cut)
		}
	}
	// Deterministic, and a larger limit asks what a smaller one did, so a
	// run resumed with a larger --limit extends itself.
	small, _ := s.SelectByCategory(3, true, 7)
	again, _ := s.SelectByCategory(3, true, 7)
	large, _ := s.SelectByCategory(5, true, 7)
	if ids(small) != ids(again) || !strings.HasPrefix(ids(large), ids(small)+",") {
		t.Errorf("shuffled: %s, again %s, larger limit %s", ids(small), ids(again), ids(large))
	}
}
