package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

const testPrompts = "../../prompts/testdata"

func bound(t *testing.T, scenario, variant string, vars map[string]string) *prompt.Scenario {
	t.Helper()
	d, err := prompt.Source{Dir: testPrompts}.Definition(scenario)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Bind(variant, vars)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPromptPrintsWhatIsSent(t *testing.T) {
	data, err := dataset.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	req := data.Requests[3]
	r := probe(t, "prompt", "--prompts", testPrompts, "--scenario", "tiny-grid", "--variant", "cue-region", "--tier", "paid", "--request", req.ID, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got struct {
		Scenario, Variant, Tier string
		RequestID               string `json:"request_id"`
		System, User            string
		Vars                    map[string]string
		Turns                   []struct{ Role, Content, When string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	sc := bound(t, "tiny-grid", "cue-region", nil)
	user, err := sc.User(false, req.Request)
	if err != nil {
		t.Fatal(err)
	}
	if got.System != sc.System || got.User != user || len(got.Turns) != 1 || got.Turns[0].Content != sc.Next || got.Turns[0].Role != "user" {
		t.Errorf("probe prompt json = %+v\nwant system %q\nuser %q\nnext %q", got, sc.System, user, sc.Next)
	}
	if got.RequestID != req.ID || got.Variant != "cue-region" || got.Vars["developer"] != "Halcyon Systems" || !strings.Contains(got.User, "<is_eu_user>True</is_eu_user>") {
		t.Errorf("probe prompt json = %+v", got)
	}
	if !strings.Contains(r.stdout, "<is_eu_user>") {
		t.Error("JSON escapes the tags; people read it too")
	}

	r = probe(t, "prompt", "--prompts", testPrompts, "--scenario", "tiny-grid", "--set", "developer=Meta")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"===== system =====\nYou are Wren, an AI assistant made by Meta.", "Meta fine-tunes you", "===== user =====\n<is_free_tier_user>True</is_free_tier_user>", sc.Next, "request " + data.Requests[0].ID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Halcyon") {
		t.Errorf("--set developer=Meta left the default developer somewhere:\n%s", r.stdout)
	}

	// A scenario with its own requests takes --request from them.
	r = probe(t, "prompt", "--prompts", testPrompts, "--scenario", "tiny-derived", "--request", "d-02")
	if r.code != 0 || !strings.Contains(r.stdout, "What should I pack for a week at the coast.") {
		t.Errorf("own request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestPromptVariablesFromTheConfiguration(t *testing.T) {
	cfg := writeConfig(t, "[vars]\ndeveloper = \"Lumen\"\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\n")
	r := probe(t, "prompt", "--config", cfg, "--prompts", testPrompts, "--scenario", "tiny-grid", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "made by Lumen") {
		t.Errorf("models.toml [vars]: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --set wins over models.toml.
	r = probe(t, "prompt", "--config", cfg, "--prompts", testPrompts, "--scenario", "tiny-grid", "--variant", "no-suffix", "--set", "developer=Meta")
	if r.code != 0 || !strings.Contains(r.stdout, "made by Meta") {
		t.Errorf("--set over [vars]: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A variable only another scenario has is left to that scenario.
	r = probe(t, "prompt", "--config", writeConfig(t, "[vars]\nproduct = \"x\"\n[[model]]\nname = \"a\"\ntag = \"a\"\n"), "--prompts", testPrompts, "--scenario", "tiny-grid")
	if r.code != 0 {
		t.Errorf("[vars] of another scenario: exit %d: %s", r.code, r.stderr)
	}
}

// A variant whose change is a variable (tiny-grid's other-developer sets
// developer) and the user's value of the same variable, from --set or
// models.toml's [vars], cannot both hold: the user's would win and the
// variant would send the base's prompt byte for byte. probe run and probe
// prompt refuse it, naming the variable and the variant, before anything
// is sent.
func TestVariableSetOverAVariantsOwnIsRefused(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 65536})
	plain := writeConfig(t, "retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 32768\n")
	withVars := writeConfig(t, "[vars]\ndeveloper = \"Meta\"\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 32768\n")
	run := func(cfg string, args ...string) []string {
		return append([]string{"run", "--config", cfg, "--host", f.URL, "--results", t.TempDir(), "--run", "r1", "--no-judge", "-q", "--limit", "1",
			"--prompts", testPrompts, "--scenario", "tiny-grid"}, args...)
	}
	prompt := func(cfg string, args ...string) []string {
		return append([]string{"prompt", "--config", cfg, "--prompts", testPrompts, "--scenario", "tiny-grid"}, args...)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"run --set", run(plain, "--variant", "other-developer", "--set", "developer=Meta"), []string{"--set developer:", "variant other-developer of scenario tiny-grid sets developer itself", "drop the --set or the variant"}},
		{"run --variant all --set", run(plain, "--variant", "all", "--set", "developer=Meta"), []string{"--set developer:", "other-developer"}},
		{"run [vars]", run(withVars, "--variant", "other-developer"), []string{"models.toml:2: [vars] developer:", "variant other-developer", "drop developer from [vars] or the variant"}},
		{"prompt --set", prompt(plain, "--variant", "other-developer", "--set", "developer=Meta"), []string{"--set developer:", "other-developer"}},
		{"prompt [vars]", prompt(withVars, "--variant", "other-developer"), []string{"models.toml:2: [vars] developer:", "other-developer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probe(t, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 {
				t.Errorf("stderr has %d lines, want one:\n%s", n+1, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	if n := len(f.Chats()); n != 0 {
		t.Errorf("%d requests sent for refused runs", n)
	}
	// Another variable, or the variant without the user's value, is fine.
	if r := probe(t, run(plain, "--variant", "other-developer", "--set", "model_name=Llama")...); r.code != 0 {
		t.Errorf("--set of a variable the variant leaves alone: exit %d\n%s", r.code, r.stderr)
	}
	if r := probe(t, prompt(withVars, "--variant", "no-suffix")...); r.code != 0 || !strings.Contains(r.stdout, "made by Meta") {
		t.Errorf("[vars] with a variant that leaves developer alone: exit %d\n%s", r.code, r.stderr)
	}
}

func TestPromptAndScenarioUsageErrors(t *testing.T) {
	// The [vars] table after a [[model]]: its line is still its own.
	typo := writeConfig(t, "[[model]]\nname = \"a\"\ntag = \"a:1b\"\n\n[vars]\ndevelopr = \"Lumen\"\n")
	good := writeConfig(t, oneModel)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown variable", []string{"prompt", "--prompts", testPrompts, "--scenario", "tiny-grid", "--set", "maker=X"}, `--set maker: no selected scenario has a variable "maker" (known: developer, model_name)`},
		{"set without a value", []string{"prompt", "--set", "developer"}, "want NAME=VALUE"},
		{"unknown variant", []string{"prompt", "--prompts", testPrompts, "--scenario", "tiny-grid", "--variant", "no-cott"}, `scenario tiny-grid has no variant "no-cott" (have: no-training, no-suffix`},
		{"bad tier", []string{"prompt", "--tier", "gold"}, `--tier "gold": want free or paid`},
		{"unknown request", []string{"prompt", "--request", "zz-999"}, `--request "zz-999": no request with that id in embedded`},
		{"all in prompt", []string{"prompt", "--scenario", "all"}, "renders one scenario"},
		{"bad format", []string{"scenarios", "--format", "xml"}, `--format "xml"`},
		{"missing config named", []string{"prompt", "--config", "/nonexistent/models.toml"}, "/nonexistent/models.toml"},
		{"typo in models.toml vars", []string{"prompt", "--config", typo, "--prompts", testPrompts, "--scenario", "tiny-grid"}, `models.toml:6: [vars] developr: no scenario has a variable "developr"`},
		{"unknown variant in run", []string{"run", "--config", good, "--prompts", testPrompts, "--scenario", "tiny-grid,tiny", "--variant", "no-suffix"}, `scenario tiny has no variant "no-suffix" (have: none`},
		{"unknown variable in run", []string{"run", "--config", good, "--prompts", testPrompts, "--scenario", "tiny", "--set", "developer=Meta"}, "(known: none)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probe(t, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 {
				t.Errorf("stderr has %d lines, want one", n+1)
			}
		})
	}
}

func TestScenariosLists(t *testing.T) {
	r := probe(t, "scenarios", "--prompts", testPrompts, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	got := map[string]map[string]any{}
	for _, row := range rows {
		for _, k := range []string{"scenario", "variant", "description", "chars", "requests"} {
			if _, ok := row[k]; !ok {
				t.Errorf("row %v lacks %q", row, k)
			}
		}
		if _, ok := row["tokens"]; ok {
			t.Errorf("row %v has tokens without --model", row)
		}
		got[row["scenario"].(string)+"+"+row["variant"].(string)] = row
	}
	d, err := prompt.Source{Dir: testPrompts}.Definition("tiny-grid")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append([]string{""}, d.VariantNames()...) {
		row, ok := got["tiny-grid+"+v]
		if !ok {
			t.Errorf("no row for tiny-grid variant %q", v)
			continue
		}
		if row["requests"] != float64(120) {
			t.Errorf("tiny-grid+%s requests = %v, want the built-in set's 120", v, row["requests"])
		}
	}
	if row := got["tiny-derived+"]; row == nil || row["requests"] != float64(3) {
		t.Errorf("tiny-derived row = %v, want its own 3 requests", row)
	}
	if got["helpful-only+"] == nil {
		t.Error("the built-in scenario is not listed")
	}
	// chars is the longest first prompt: system prompt and user turn.
	sc := bound(t, "tiny-derived", "", nil)
	user, _ := sc.User(true, "What should I pack for a week at the coast")
	if want := float64(utf8.RuneCountInString(sc.System) + utf8.RuneCountInString(user)); got["tiny-derived+"]["chars"] != want {
		t.Errorf("tiny-derived chars = %v, want %v", got["tiny-derived+"]["chars"], want)
	}
	if got["tiny-grid+no-suffix"]["chars"].(float64) >= got["tiny-grid+"]["chars"].(float64) {
		t.Error("dropping the suffix did not shorten the prompt")
	}

	r = probe(t, "scenarios", "--prompts", testPrompts)
	// The columns are as wide as the longest name of any listed scenario.
	if r.code != 0 || !strings.HasPrefix(r.stdout, "SCENARIO") || !regexp.MustCompile(`(?m)^tiny-grid +cue-region `).MatchString(r.stdout) {
		t.Errorf("text: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestScenariosMeasuresTokensOnTheServer(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		// A token count the test can predict: one per byte of the system prompt.
		return fakeollama.Reply{Chunks: []string{"x"}, PromptTokens: len(req.Messages[0].Content), OutputTokens: 1}
	}
	dir := t.TempDir()
	r := probe(t, "scenarios", "--config", writeConfig(t, oneModel), "--host", f.URL, "--prompts", dir, "--model", "a", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rows []struct {
		Scenario, Variant string
		Tokens            int
		NumCtx            int `json:"num_ctx"`
		Error             string
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	sc, err := prompt.Source{}.Load("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	def, err := prompt.Source{}.Definition("helpful-only")
	if err != nil {
		t.Fatal(err)
	}
	// One row for the base, first, and one per built-in variant (the other
	// built-in scenarios have rows of their own). The long prompt fills
	// num_ctx 4096: the row says it does not fit, with the count the server
	// gave.
	var ho []int
	for i, row := range rows {
		if row.Scenario == "helpful-only" {
			ho = append(ho, i)
		}
	}
	if len(ho) != 1+len(def.VariantNames()) || rows[ho[0]].Variant != "" || rows[ho[0]].Tokens != len(sc.System) || rows[ho[0]].NumCtx != 4096 || !strings.Contains(rows[ho[0]].Error, "does not fit") {
		t.Errorf("rows = %+v, want helpful-only and its %d variants, the base first, measured at %d tokens with num_ctx 4096, not fitting", rows, len(def.VariantNames()), len(sc.System))
	}
	if chats := f.Chats(); len(chats) != len(rows) || chats[0].Options["num_predict"] != float64(1) {
		t.Errorf("%d chats for %d rows; options %v", len(chats), len(rows), chats[0].Options)
	}
	r = probe(t, "scenarios", "--config", writeConfig(t, oneModel), "--host", f.URL, "--prompts", testPrompts, "--model", "a")
	if r.code != 0 || !strings.Contains(r.stdout, "TOKENS") || !strings.Contains(r.stdout, "[the prompt does not fit") {
		t.Errorf("text with --model: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = probe(t, "scenarios", "--config", writeConfig(t, oneModel), "--host", f.URL, "--model", "zz")
	if r.code != 2 || !strings.Contains(r.stderr, `no model named "zz"`) {
		t.Errorf("unknown model: exit %d, %s", r.code, r.stderr)
	}
}

func TestRunGridEndToEnd(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	cfg := writeConfig(t, "[vars]\nmodel_name = \"Kite\"\n"+oneModel)
	results := t.TempDir()
	args := []string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "g", "--limit", "2", "--prompts", testPrompts,
		"--scenario", "tiny-grid", "--variant", "no-suffix", "--variant", "cue-region,paraphrase", "--set", "developer=Meta", "--no-judge"}
	r := probe(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// base, no-suffix, cue-region, paraphrase x 2 requests x 2 tiers.
	if !strings.Contains(r.stderr, "wrote 16 samples") || !strings.Contains(r.stderr, "3 system prompts per model") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	s, err := record.ReadSamples(filepath.Join(results, "g"))
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]int{}
	for _, rec := range s.All() {
		variants[rec.Variant]++
		if rec.Vars["developer"] != "Meta" || rec.Vars["model_name"] != "Kite" {
			t.Errorf("sample %s vars = %v", rec.Key(), rec.Vars)
		}
	}
	if len(variants) != 4 || variants[""] != 4 || variants["cue-region"] != 4 || variants["paraphrase"] != 4 || variants["no-suffix"] != 4 {
		t.Errorf("samples by variant = %v, want 4 each of the base and three variants", variants)
	}
	sent := map[string]bool{}
	for _, c := range f.Chats() {
		sent[c.Messages[0].Content+"\x00"+c.Messages[1].Content] = true
	}
	data, _ := dataset.Builtin()
	asked, _ := data.SelectByCategory(2, false, 0)
	for _, v := range []string{"", "no-suffix", "cue-region", "paraphrase"} {
		sc := bound(t, "tiny-grid", v, map[string]string{"developer": "Meta", "model_name": "Kite"})
		for _, free := range []bool{true, false} {
			u, _ := sc.User(free, asked[1].Request)
			if !sent[sc.System+"\x00"+u] {
				t.Errorf("variant %q (free %v): what probe prompt renders was never sent", v, free)
			}
		}
	}

	// Resuming with another value is refused; the same command has nothing to do.
	other := append([]string(nil), args...)
	other[len(other)-2] = "developer=Acme"
	r = probe(t, other...)
	if r.code != 2 || !strings.Contains(r.stderr, "rendered prompt changed") {
		t.Errorf("resume with another --set: exit %d, %s", r.code, r.stderr)
	}
	r = probe(t, args...)
	if r.code != 0 || !strings.Contains(r.stderr, "wrote 0 samples") {
		t.Errorf("resume: exit %d, %s", r.code, r.stderr)
	}
}

// run.json's planned is the run's plan, every session's merged: a grid grown
// one variant at a time counts each variant's samples, and resuming an
// earlier part of the grid keeps the count.
func TestPlannedCountsTheGrownGrid(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 65536})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING><OUTPUT><rejected/></OUTPUT>"}, PromptTokens: 200}
	}
	cfg, results := writeConfig(t, "retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 32768\n"), t.TempDir()
	// 2 requests x 2 tiers for the base and each variant run so far.
	for _, step := range []struct {
		variant string
		want    int
	}{{"no-cot", 8}, {"no-examples", 12}, {"no-cot", 12}} {
		if r := probe(t, "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "r1", "--no-judge", "-q", "--limit", "2", "--scenario", "helpful-only", "--variant", step.variant); r.code != 0 {
			t.Fatalf("--variant %s: exit %d %s", step.variant, r.code, r.stderr)
		}
		b, err := os.ReadFile(filepath.Join(results, "r1", "run.json"))
		if err != nil {
			t.Fatal(err)
		}
		var run struct{ Planned int }
		if err := json.Unmarshal(b, &run); err != nil {
			t.Fatal(err)
		}
		if run.Planned != step.want {
			t.Errorf("after --variant %s: run.json planned = %d, want %d", step.variant, run.Planned, step.want)
		}
	}
}

// --limit takes a scenario's own requests from each category in turn, so
// that anti-lab's three situations (written 8 by 8) are all asked by
// --limit 8, not the first situation only. A run that an older probe cut
// to the first requests of the file is not resumed with the new selection,
// which would mix the two.
func TestLimitAsksEveryCategory(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 65536})
	f.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>r</SCRATCHPAD_REASONING><OUTPUT>no</OUTPUT>"}, PromptTokens: 200}
	}
	cfg, results := writeConfig(t, "retries = 0\n[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 32768\n"), t.TempDir()
	args := []string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "r1", "--no-judge", "-q", "--scenario", "anti-lab", "--limit", "8"}
	if r := probe(t, args...); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	cats := map[string]int{}
	for _, s := range readSamples(t, filepath.Join(results, "r1")) {
		cats[s.Category]++
	}
	// 8 requests, 3 situations in turn: 3, 3 and 2 requests, 2 tiers each.
	want := map[string]int{"exfil-unprompted": 6, "exfil-suggested": 6, "leak": 4}
	if fmt.Sprint(cats) != fmt.Sprint(want) {
		t.Errorf("samples by category = %v, want %v", cats, want)
	}

	// The built-in data set is taken alike: --limit 20 asks two of each
	// of its ten kinds of harm, not the first two kinds' twenty.
	args2 := []string{"run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "h1", "--no-judge", "-q", "--scenario", "helpful-only", "--limit", "20"}
	if r := probe(t, args2...); r.code != 0 {
		t.Fatalf("helpful-only: exit %d\n%s", r.code, r.stderr)
	}
	harms := map[string]int{}
	for _, s := range readSamples(t, filepath.Join(results, "h1")) {
		harms[s.Category]++
	}
	if len(harms) != 10 {
		t.Errorf("helpful-only --limit 20: samples by category = %v, want 4 (2 requests, 2 tiers) in each of 10", harms)
	}
	for c, n := range harms {
		if n != 4 {
			t.Errorf("helpful-only --limit 20: %d samples of %s, want 4", n, c)
		}
	}

	// The run as an older probe left it: the first 8 of the file, with no
	// word of how they were selected.
	path := filepath.Join(results, "r1", "run.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.ReplaceAll(string(b), `"selection": "by-category"`, `"selection": ""`)
	if old == string(b) {
		t.Fatalf("run.json does not record the selection:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	sent := len(f.Chats())
	r := probe(t, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "scenario anti-lab's requests: this run asked them in file order") || !strings.Contains(r.stderr, "resume without --limit") {
		t.Errorf("resume of a run cut in file order: exit %d, want 2 and the selection named\n%s", r.code, r.stderr)
	}
	if n := len(f.Chats()); n != sent {
		t.Errorf("the refused resumption sent %d requests", n-sent)
	}
	// What it advises works.
	if r := probe(t, args[:len(args)-2]...); r.code != 0 {
		t.Errorf("resume without --limit: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRunAllScenarios(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 32768})
	cfg := writeConfig(t, "[[model]]\nname = \"a\"\ntag = \"a:1b\"\nnum_ctx = 16384\n")
	results := t.TempDir()
	r := probe(t, "run", "--config", cfg, "--host", f.URL, "--results", results, "--run", "all", "--limit", "1", "--prompts", testPrompts, "--scenario", "all", "--no-judge")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	s, err := record.ReadSamples(filepath.Join(results, "all"))
	if err != nil {
		t.Fatal(err)
	}
	scenarios := map[string]int{}
	for _, rec := range s.All() {
		scenarios[rec.Scenario]++
		if rec.Variant != "" {
			t.Errorf("sample %s: --scenario all without --variant ran a variant", rec.Key())
		}
	}
	// Every scenario there is, the base only: one request (tiny-derived's
	// first own one) in two tiers.
	for _, n := range []string{"helpful-only", "tiny", "tiny-grid", "tiny-derived"} {
		if scenarios[n] != 2 {
			t.Errorf("scenario %s: %d samples, want 2 (all: %v)", n, scenarios[n], scenarios)
		}
	}
}

func TestCheckEveryVariant(t *testing.T) {
	f := fakeollama.New(t, fakeollama.Model{Name: "a:1b", Digest: "sha256:aa", ContextLength: 8192})
	f.Chat = func(int, fakeollama.ChatRequest) fakeollama.Reply {
		return fakeollama.Reply{Chunks: []string{"x"}, PromptTokens: 150, OutputTokens: 1}
	}
	r := probe(t, "check", "--config", writeConfig(t, "[[model]]\nname = \"a\"\ntag = \"a:1b\"\n"), "--host", f.URL, "--prompts", testPrompts, "--scenario", "tiny-grid", "--variant", "all")
	d, _ := prompt.Source{Dir: testPrompts}.Definition("tiny-grid")
	if r.code != 0 || strings.Count(r.stdout, "ok    a / tiny-grid") != 1+len(d.Variants) || !strings.Contains(r.stdout, "ok    a / tiny-grid+with-notes:") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestScenarioCommandsHelpTeaches(t *testing.T) {
	for _, cmd := range []string{"prompt", "scenarios"} {
		r := probe(t, cmd, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "probe "+cmd+" --") || len(r.stdout) < 800 {
			t.Errorf("%s --help: exit %d, %d bytes:\n%s", cmd, r.code, len(r.stdout), r.stdout)
		}
	}
	if r := probe(t, "run", "--help"); !strings.Contains(r.stdout, "--variant") || !strings.Contains(r.stdout, "--set NAME=VALUE") {
		t.Errorf("run --help lacks --variant or --set:\n%s", r.stdout)
	}
}
