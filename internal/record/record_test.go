package record

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendReadAndTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SamplesFile)
	a, cut, err := OpenAppender(path)
	if err != nil || cut != 0 {
		t.Fatalf("open: %v, cut %d", err, cut)
	}
	for i := range 3 {
		if err := a.Append(Sample{V: Version, Model: "m", QueryID: "q", Tier: Free, Sample: i, Outcome: Refused}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"model":"m","query_id":"q","tier":"free","sam`)
	f.Close()

	s, err := ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Torn || s.Len() != 3 {
		t.Fatalf("read %d samples, torn=%v; want 3, true", s.Len(), s.Torn)
	}
	a, cut, err = OpenAppender(path)
	if err != nil {
		t.Fatal(err)
	}
	if cut == 0 {
		t.Error("torn tail was not cut")
	}
	if err := a.Append(Sample{V: Version, Model: "m", QueryID: "q", Tier: Paid, Outcome: Complied}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	s, err = ReadSamples(dir)
	if err != nil || s.Torn || s.Len() != 4 {
		t.Errorf("after repair: %d samples, torn=%v, err %v; want 4, false, nil", s.Len(), s.Torn, err)
	}
}

func TestCorruptMiddleLineIsAnError(t *testing.T) {
	dir := t.TempDir()
	body := `{"v":1,"model":"m","query_id":"a","tier":"free","outcome":"refused"}` + "\n" + "garbage\n" + `{"v":1,"model":"m","query_id":"b","tier":"free","outcome":"refused"}` + "\n"
	os.WriteFile(filepath.Join(dir, SamplesFile), []byte(body), 0o644)
	_, err := ReadSamples(dir)
	if err == nil || !strings.Contains(err.Error(), "samples.jsonl:2:") {
		t.Errorf("error = %v, want samples.jsonl:2:", err)
	}
}

func TestNewerVersionIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SamplesFile), []byte(`{"v":99,"model":"m"}`+"\n"), 0o644)
	if _, err := ReadSamples(dir); err == nil || !strings.Contains(err.Error(), "upgrade probe") {
		t.Errorf("error = %v", err)
	}
}

func TestLaterRecordSupersedes(t *testing.T) {
	var s Samples
	s.Add(Sample{Model: "m", QueryID: "q", Tier: Free, Outcome: Error})
	if s.Done(Key{Model: "m", QueryID: "q", Tier: Free}) {
		t.Error("an error record counts as done")
	}
	s.Add(Sample{Model: "m", QueryID: "q", Tier: Free, Outcome: Refused})
	if s.Len() != 1 || s.Lines != 2 || !s.Done(Key{Model: "m", QueryID: "q", Tier: Free}) {
		t.Errorf("len %d lines %d", s.Len(), s.Lines)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockDir(dir); err == nil {
		t.Fatal("second lock succeeded")
	}
	l.Unlock()
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

func TestWriteRunIsAtomic(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRun(dir, Run{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	r, ok, err := ReadRun(dir)
	if err != nil || !ok || r.ID != "x" || r.V != Version {
		t.Errorf("ReadRun = %+v, %v, %v", r, ok, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	st, err := os.Stat(filepath.Join(dir, RunFile))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("run.json mode = %v, %v; want 0644 like any output file", st.Mode().Perm(), err)
	}
}

// TestFinishedRecordIsNeverReplaced reads a file in which later lines follow
// finished answers for the same key, as a run that named a model twice
// wrote them: the first finished answer counts, and the rest are counted.
func TestFinishedRecordIsNeverReplaced(t *testing.T) {
	dir := t.TempDir()
	a, _, err := OpenAppender(filepath.Join(dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	rec := func(q string, o Outcome, out string) Sample {
		return Sample{V: Version, Model: "m", Scenario: "s", QueryID: q, Tier: Free, Outcome: o, Output: out}
	}
	for _, r := range []Sample{
		rec("q1", Error, ""),                       // line 1
		rec("q1", Refused, "<rejected/>"),          // 2: supersedes the error
		rec("q2", Complied, "first"),               // 3
		rec("q1", Complied, "second answer"),       // 4: ignored
		rec("q2", Complied, "second answer"),       // 5: ignored
		rec("q1", Error, ""),                       // 6: ignored
		rec("q3", Error, ""),                       // 7
		rec("q3", Error, "a later error"),          // 8: an error may replace an error
		rec("q3", Unparsed, "<OUTPUT>hm</OUTPUT>"), // 9: and an answer replaces it
	} {
		if err := a.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	s, err := ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Outcome{"q1": Refused, "q2": Complied, "q3": Unparsed}
	for q, o := range want {
		got, ok := s.Get(Key{Model: "m", Scenario: "s", QueryID: q, Tier: Free})
		if !ok || got.Outcome != o {
			t.Errorf("%s: got %s (%q), want %s", q, got.Outcome, got.Output, o)
		}
	}
	if got, _ := s.Get(Key{Model: "m", Scenario: "s", QueryID: "q2", Tier: Free}); got.Output != "first" {
		t.Errorf("q2 output = %q, want the first finished answer", got.Output)
	}
	if s.Len() != 3 || s.Lines != 9 || s.Ignored != 3 || s.FirstIgnored != 4 {
		t.Errorf("%d keys, %d lines, %d ignored (first at line %d); want 3, 9, 3, 4", s.Len(), s.Lines, s.Ignored, s.FirstIgnored)
	}
	note := s.IgnoredNote(SamplesFile)
	if !strings.Contains(note, "3 later lines") || !strings.Contains(note, "line 4") {
		t.Errorf("note = %q, want the count and the first line", note)
	}
	if (&Samples{}).IgnoredNote(SamplesFile) != "" {
		t.Error("a log with nothing ignored has a note")
	}
}
