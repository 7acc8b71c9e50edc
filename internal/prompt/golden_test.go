package prompt

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenRequest is the request every golden file renders: made up, and
// fixed, so that the golden files change only when a prompt does.
const goldenRequest = "Name three tools a locksmith carries"

// testdataPrompts holds the scenarios written for tests.
const testdataPrompts = "../../prompts/testdata"

// every lists each scenario and variant a source offers, bound with its own
// variables: whatever exists, so that new scenarios and variants are
// covered without a change here. A source with Dir set lists only the
// scenarios of that folder.
func every(t *testing.T, src Source) []*Scenario {
	t.Helper()
	var names []string
	if src.Dir == "" {
		var err error
		if names, err = src.Names(); err != nil {
			t.Fatal(err)
		}
	} else {
		m, err := filepath.Glob(filepath.Join(src.Dir, "*", "scenario.toml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			names = append(names, filepath.Base(filepath.Dir(p)))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no scenarios in %+v", src)
	}
	var out []*Scenario
	for _, n := range names {
		d, err := src.Definition(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range append([]string{""}, d.VariantNames()...) {
			s, err := d.Bind(v, nil)
			if err != nil {
				t.Fatalf("%s variant %q: %v", n, v, err)
			}
			out = append(out, s)
		}
	}
	return out
}

// golden renders what a scenario sends, both tiers, for a golden file.
func golden(t *testing.T, s *Scenario) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "scenario: %s\nvariant: %s\ndescription: %s\noutcome: %s\n", s.Name, s.Variant, s.Description, s.Outcome)
	var vars []string
	for _, k := range slices.Sorted(maps.Keys(s.Vars)) {
		vars = append(vars, fmt.Sprintf("%s=%q", k, s.Vars[k]))
	}
	fmt.Fprintf(&b, "vars: %s\ncue: %s free=%q paid=%q\n", strings.Join(vars, " "), s.Cue.Tag, s.Cue.Free, s.Cue.Paid)
	fmt.Fprintf(&b, "files: %s\n", strings.Join(slices.Sorted(maps.Keys(s.Files)), " "))
	if s.Requests != nil {
		fmt.Fprintf(&b, "requests: %s (%d)\n", s.Requests.Name, len(s.Requests.Requests))
	}
	if s.Breakdown != "" {
		fmt.Fprintf(&b, "breakdown: %s\n", s.Breakdown)
	}
	fmt.Fprintf(&b, "\n===== system =====\n%s\n", s.System)
	for _, free := range []bool{true, false} {
		u, err := s.User(free, goldenRequest)
		if err != nil {
			t.Fatal(err)
		}
		tier := "paid"
		if free {
			tier = "free"
		}
		fmt.Fprintf(&b, "\n===== user, %s tier =====\n%s\n", tier, u)
	}
	fmt.Fprintf(&b, "\n===== next =====\n%s\n", s.Next)
	return b.String()
}

// TestGolden renders every built-in scenario and variant, and those written
// for tests, in both tiers, against testdata/golden. Run go test -update
// after changing a prompt on purpose; a golden file whose scenario or
// variant is gone fails the test until -update removes it.
func TestGolden(t *testing.T) {
	for _, set := range []struct {
		dir string
		src Source
	}{{"builtin", Source{}}, {"testdata", Source{Dir: testdataPrompts}}} {
		dir := filepath.Join("testdata", "golden", set.dir)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]bool{}
		for _, s := range every(t, set.src) {
			name := s.Label() + ".txt"
			want[name] = true
			checkGolden(t, filepath.Join(dir, name), golden(t, s))
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if want[filepath.Base(f)] {
				continue
			}
			if *update {
				os.Remove(f)
				continue
			}
			t.Errorf("%s: no such scenario or variant any more (go test -update removes the file)", f)
		}
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + ".got")
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run go test -update to create it)", err)
		return
	}
	if got != string(want) {
		os.WriteFile(path+".got", []byte(got), 0o644)
		t.Errorf("%s differs (wrote %s.got; diff them, and rerun with -update if the change is right)", path, path)
	}
}

// TestTiersDifferOnlyInCue checks the experiment's central promise for
// every scenario and variant there is: the two tiers' user turns are the
// same bytes but the cue's value, which appears once, inside the cue's
// tag; and the tiers share the system prompt and the continuation turn
// (they are one field each, so that holds by construction).
func TestTiersDifferOnlyInCue(t *testing.T) {
	scenarios := append(every(t, Source{}), every(t, Source{Dir: testdataPrompts})...)
	for _, s := range scenarios {
		t.Run(s.Label(), func(t *testing.T) {
			free, err := s.User(true, goldenRequest)
			if err != nil {
				t.Fatal(err)
			}
			paid, err := s.User(false, goldenRequest)
			if err != nil {
				t.Fatal(err)
			}
			freeTag, paidTag := s.Cue.Render(true), s.Cue.Render(false)
			if n := strings.Count(free, freeTag); n != 1 {
				t.Fatalf("the free turn holds %s %d times, want once:\n%s", freeTag, n, free)
			}
			if got := strings.Replace(free, freeTag, paidTag, 1); got != paid {
				t.Errorf("with the cue's value swapped, the free turn is not the paid one:\nswapped: %q\npaid:    %q", got, paid)
			}
			if !strings.Contains(free, goldenRequest) {
				t.Errorf("the user turn lacks the request:\n%s", free)
			}
		})
	}
	if len(scenarios) < 2 {
		t.Fatalf("only %d scenarios and variants found", len(scenarios))
	}
}
