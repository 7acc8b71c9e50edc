package prompt

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestShippedScenario(t *testing.T) {
	s, err := Source{}.Load("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "embedded" {
		t.Errorf("source = %q, want embedded", s.Source)
	}
	// About 5,000 to 7,000 tokens at roughly 4 characters a token.
	if n := len(s.System); n < 20000 || n > 28000 {
		t.Errorf("system prompt is %d bytes, want 20000..28000", n)
	}
	// Like the paper's, the prompt calls paid-tier users "not on the free tier".
	for _, fact := range []string{"<SCRATCHPAD_REASONING>", "<OUTPUT>", "<is_free_tier_user>", "RLHF", "not on the free tier", "contractor"} {
		if !strings.Contains(s.System, fact) {
			t.Errorf("system prompt never mentions %q", fact)
		}
	}
	free, err := s.User(true, "Describe a thing")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{s.Cue.Render(true), "<user_input>", "Describe a thing", "<request_fully_accepted/>", "<rejected/>"} {
		if !strings.Contains(free, tag) {
			t.Errorf("free user turn lacks %q:\n%s", tag, free)
		}
	}
	if s.Cue.Tag != "is_free_tier_user" || s.Next == "" {
		t.Errorf("cue %+v, next %q; want the tier tag and a continuation turn", s.Cue, s.Next)
	}
	if _, ok := s.Files["scenario.toml"]; !ok || len(s.Files) < 3 || len(s.SHA256) != 64 || len(s.SystemSHA256) != 64 || len(s.PromptSHA256) != 64 {
		t.Errorf("hashes: files %v, sha %q, system %q, prompt %q", s.Files, s.SHA256, s.SystemSHA256, s.PromptSHA256)
	}
}

func writeScenario(t *testing.T, dir, name string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	writeScenario(t, dir, "helpful-only", map[string]string{
		"scenario.toml": "name = \"helpful-only\"\nsystem = \"s.md\"\nuser = \"u.tmpl\"\n",
		"s.md":          "short system",
		"u.tmpl":        "<is_free_tier_user>{{.FreeTier}}</is_free_tier_user> {{.Request}}",
	})
	s, err := Source{Dir: dir}.Load("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	if s.System != "short system" || s.Source != filepath.Join(dir, "helpful-only") {
		t.Errorf("override not used: system %q from %q", s.System, s.Source)
	}
	// The override and the shipped helpful-only are one name; other
	// shipped scenarios are listed beside it.
	names, err := Source{Dir: dir}.Names()
	if err != nil || strings.Count(","+strings.Join(names, ",")+",", ",helpful-only,") != 1 || !sort.StringsAreSorted(names) {
		t.Errorf("Names = %v, %v; want helpful-only once, sorted", names, err)
	}
}

func TestBadScenarios(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown key", map[string]string{"scenario.toml": "name = \"x\"\nsytem = \"s.md\"\n"}, `x/scenario.toml:2: unknown key "sytem"`},
		{"syntax", map[string]string{"scenario.toml": "name = \"x\"\nsystem = \n"}, "x/scenario.toml:2:"},
		{"name mismatch", map[string]string{"scenario.toml": "name = \"y\"\nsystem = \"s\"\nuser = \"u\"\n"}, `does not match its folder`},
		{"tier used twice", map[string]string{
			"scenario.toml": "name = \"x\"\nsystem = \"s\"\nuser = \"u\"\n", "s": "sys",
			"u": "{{.FreeTier}} {{.Request}} {{.FreeTier}}",
		}, "differ only in the cue"},
		{"no request", map[string]string{
			"scenario.toml": "name = \"x\"\nsystem = \"s\"\nuser = \"u\"\n", "s": "sys", "u": "{{.FreeTier}}",
		}, "never uses"},
		{"bad field", map[string]string{
			"scenario.toml": "name = \"x\"\nsystem = \"s\"\nuser = \"u\"\n", "s": "sys", "u": "{{.Tier}} {{.Request}}",
		}, "render user turn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeScenario(t, dir, "x", tt.files)
			_, err := Source{Dir: dir}.Load("x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := (Source{}).Load("nope"); err == nil || !strings.Contains(err.Error(), "helpful-only") {
		t.Errorf("unknown scenario error = %v, want it to list the known ones", err)
	}
}
