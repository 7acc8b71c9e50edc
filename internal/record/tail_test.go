package record

import (
	"os"
	"path/filepath"
	"testing"
)

// A line is read once it is finished, never half, and never twice.
func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	tail := NewTail[map[string]int](path)
	var got []int
	read := func() {
		t.Helper()
		if err := tail.Read(func(line int, v map[string]int) error {
			got = append(got, v["n"]*10+line)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	read() // no file yet
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("{\"n\":1}\n{\"n\":2}\n{\"n\"")
	read()
	f.WriteString(":3}\n\n{\"n\":4}\n")
	read()
	read()
	want := []int{11, 22, 33, 45}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v (n*10 + line)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v (n*10 + line)", got, want)
		}
	}
	f.WriteString("not json\n")
	if err := tail.Read(func(int, map[string]int) error { return nil }); err == nil || err.Error()[:len(path)+2] != path+":6" {
		t.Errorf("err = %v, want %s:6: ...", err, path)
	}
}
