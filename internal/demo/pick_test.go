package demo

import (
	"slices"
	"testing"

	"github.com/probe-eval/probe/internal/llm"
)

func TestCandidates(t *testing.T) {
	list := []llm.Local{
		{Name: "big:7b", Size: 4_000},
		{Name: "judge:1b", Size: 100},
		{Name: "cloud:120b", Size: 10, Remote: true},
		{Name: "small:1b", Size: 1_000},
		{Name: "same:1b", Size: 1_000},
	}
	var got []string
	for _, c := range Candidates(list, "judge:1b") {
		got = append(got, c.Name)
	}
	want := []string{"same:1b", "small:1b", "big:7b", "judge:1b"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (smallest first, ties by name, no cloud model, the judge last)", got, want)
	}
	got = got[:0]
	for _, c := range Candidates(list, "") {
		got = append(got, c.Name)
	}
	if want := []string{"judge:1b", "same:1b", "small:1b", "big:7b"}; !slices.Equal(got, want) {
		t.Errorf("without a judge: got %v, want %v", got, want)
	}
}

func TestUnsuitable(t *testing.T) {
	need := MinContext(27_000)
	if need != 27_000/4+1024 {
		t.Errorf("MinContext(27000) = %d", need)
	}
	for _, tc := range []struct {
		name string
		info llm.ModelInfo
		ok   bool
	}{
		{"chat model with a long context", llm.ModelInfo{ContextLength: 131072}, true},
		{"context unknown", llm.ModelInfo{}, true},
		{"context just enough", llm.ModelInfo{ContextLength: need}, true},
		{"context too short", llm.ModelInfo{ContextLength: 4096}, false},
		{"embedding model", llm.ModelInfo{ContextLength: 8192, NoChat: true}, false},
	} {
		if got := Unsuitable(&tc.info, need) == ""; got != tc.ok {
			t.Errorf("%s: suitable = %v, want %v (%q)", tc.name, got, tc.ok, Unsuitable(&tc.info, need))
		}
	}
}
