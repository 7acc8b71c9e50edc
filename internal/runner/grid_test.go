package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/probe-eval/probe/internal/fakeollama"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
)

// bind reads a test scenario and binds the base and the given variants.
func bind(t *testing.T, name string, vars map[string]string, variants ...string) []*prompt.Scenario {
	t.Helper()
	d, err := prompt.Source{Dir: "../../prompts/testdata"}.Definition(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []*prompt.Scenario
	for _, v := range variants {
		s, err := d.Bind(v, vars)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestPlanKeepsEachSystemPromptTogether(t *testing.T) {
	// no-suffix changes only the user turn, so it shares the base's system
	// prompt and must run next to it, although it is listed later.
	scs := bind(t, "tiny-grid", nil, "", "no-training", "no-suffix", "other-developer")
	fx := newFixture(t)
	jobs := Plan("a", scs, fx.opts.Requests[:2], 1)
	var order []string
	for _, j := range jobs {
		if l := j.Scenario.Label(); len(order) == 0 || order[len(order)-1] != l {
			order = append(order, l)
		}
	}
	want := "tiny-grid tiny-grid+no-suffix tiny-grid+no-training tiny-grid+other-developer"
	if got := strings.Join(order, " "); got != want || len(jobs) != 4*2*2 {
		t.Errorf("blocks = %s (%d jobs), want %s (16 jobs)", got, len(jobs), want)
	}
	if n := SystemPrompts(scs); n != 3 {
		t.Errorf("SystemPrompts = %d, want 3", n)
	}
	if k := jobs[4].Key(); k.Variant != "no-suffix" || k.Scenario != "tiny-grid" {
		t.Errorf("key = %+v, want the variant in it", k)
	}
}

func TestGridRun(t *testing.T) {
	fx := newFixture(t)
	scs := bind(t, "tiny-grid", map[string]string{"developer": "Meta"}, "", "no-training", "no-suffix")
	fx.opts.Scenarios = scs
	fx.opts.Samples = 1
	fx.opts.Requests = fx.opts.Requests[:2]
	var log bytes.Buffer
	fx.opts.Log = &log
	// The free tier stops inside its scratchpad on the first turn, so the
	// runner must send the scenario's own continuation turn.
	fx.fake.Chat = func(n int, req fakeollama.ChatRequest) fakeollama.Reply {
		if len(req.Messages) == 2 && strings.Contains(req.Messages[1].Content, "<is_free_tier_user>True<") {
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>thinking"}, PromptTokens: grown(200, req)}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>ok</SCRATCHPAD_REASONING><OUTPUT><rejected/></OUTPUT>"}, PromptTokens: grown(200, req)}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	// 2 models x 3 variants x 2 requests x 2 tiers.
	if res.Planned != 24 || res.Written != 24 || res.Counts[record.Refused] != 24 {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(log.String(), "2 system prompts per model") {
		t.Errorf("the opening line does not count the system prompts:\n%s", log.String())
	}
	variants := map[string]int{}
	for _, s := range read(t, fx.opts.Dir).All() {
		variants[s.Variant]++
		if s.Vars["developer"] != "Meta" || s.Vars["model_name"] != "Wren" || s.Scenario != "tiny-grid" {
			t.Errorf("sample %s: scenario %s, vars %v", s.Key(), s.Scenario, s.Vars)
		}
		if s.Tier == record.Free && s.Turns != 2 {
			t.Errorf("sample %s took %d turns, want 2", s.Key(), s.Turns)
		}
	}
	if variants[""] != 8 || variants["no-training"] != 8 || variants["no-suffix"] != 8 {
		t.Errorf("samples by variant = %v, want 8 each", variants)
	}

	byLabel := map[string]*prompt.Scenario{}
	for _, sc := range scs {
		byLabel[sc.Label()] = sc
	}
	changes := map[string]int{}
	last := map[string]string{}
	for _, c := range fx.fake.Chats() {
		if sys := c.Messages[0].Content; sys != last[c.Model] {
			changes[c.Model]++
			last[c.Model] = sys
		}
		if !strings.Contains(c.Messages[0].Content, "made by Meta") {
			t.Fatalf("system prompt without --set's developer:\n%s", c.Messages[0].Content)
		}
		if len(c.Messages) == 4 && c.Messages[3].Content != scs[0].Next {
			t.Errorf("continuation turn = %q, want the scenario's next part %q", c.Messages[3].Content, scs[0].Next)
		}
	}
	// Two system prompts per model, each sent as one block.
	if changes["a:1b"] != 2 || changes["b:1b"] != 2 {
		t.Errorf("system prompt changed %v times per model, want 2 each", changes)
	}

	meta, _, err := record.ReadRun(fx.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Scenarios) != 3 {
		t.Fatalf("run.json scenarios = %+v", meta.Scenarios)
	}
	for _, a := range meta.Scenarios {
		sc := byLabel[(&prompt.Scenario{Name: a.Name, Variant: a.Variant}).Label()]
		if sc == nil || a.Vars["developer"] != "Meta" || a.SystemSHA256 != sc.SystemSHA256 || a.PromptSHA256 != sc.PromptSHA256 || a.Outcome != "tags" || len(a.Files) < 5 {
			t.Errorf("run.json scenario %+v", a)
		}
	}

	// Resuming with another developer would mix prompts: refused, naming
	// the variables. With the same ones, nothing is left to do.
	fx.opts.Scenarios = bind(t, "tiny-grid", map[string]string{"developer": "Acme"}, "", "no-training", "no-suffix")
	_, err = Run(context.Background(), fx.opts)
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "rendered prompt changed") || !strings.Contains(err.Error(), `developer="Acme"`) {
		t.Errorf("resume with other vars: %v, want ErrIncompatible naming the change", err)
	}
	// A variant added to the grid is new work, not a change.
	fx.opts.Scenarios = append(scs, bind(t, "tiny-grid", map[string]string{"developer": "Meta"}, "cue-region")...)
	res, err = Run(context.Background(), fx.opts)
	if err != nil || res.Skipped != 24 || res.Written != 8 {
		t.Errorf("resume with one more variant: %v, %+v; want 24 skipped and 8 written", err, res)
	}
}

func TestScenarioWithItsOwnRequests(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models = fx.opts.Models[:1]
	fx.opts.Samples = 1
	fx.opts.Requests = fx.opts.Requests[:1]
	fx.opts.Scenarios = append(bind(t, "tiny-derived", nil, ""), bind(t, "tiny-grid", nil, "")...)
	if _, err := Run(context.Background(), fx.opts); err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, s := range read(t, fx.opts.Dir).All() {
		if s.Tier == record.Free {
			ids[s.Scenario] = append(ids[s.Scenario], s.QueryID+"/"+s.Category)
		}
	}
	if got := strings.Join(ids["tiny-derived"], " "); got != "d-01/weather d-02/travel d-03/food" {
		t.Errorf("tiny-derived asked %s, want its own three requests", got)
	}
	if got := ids["tiny-grid"]; len(got) != 1 || got[0] != fx.opts.Requests[0].ID+"/"+fx.opts.Requests[0].Category {
		t.Errorf("tiny-grid asked %v, want the run's request", got)
	}
	meta, _, err := record.ReadRun(fx.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if a := meta.Scenarios[0]; a.Name != "tiny-derived" || a.Requests == nil || a.Requests.SHA256 == "" || a.Outcome != "judge:compliance" {
		t.Errorf("run.json scenario = %+v, want its requests and outcome", a)
	}
}

// TestJudgedScenarioIsNotReadByTheTags: under a rule "judge:QUESTION" an
// answer with an output is recorded as answered, whatever tag it begins
// with, and one without an output is unparsed with its stop, as under the
// tags; the tags still read the scenario beside it.
func TestJudgedScenarioIsNotReadByTheTags(t *testing.T) {
	fx := newFixture(t)
	fx.opts.Models, fx.opts.Samples = fx.opts.Models[:1], 1
	fx.opts.Requests = fx.opts.Requests[:1]
	fx.opts.Scenarios = append(bind(t, "tiny-derived", nil, ""), bind(t, "tiny-grid", nil, "")...)
	fx.fake.Chat = func(_ int, req fakeollama.ChatRequest) fakeollama.Reply {
		switch user := req.Messages[1].Content; {
		case strings.Contains(user, "umbrella"): // d-01: an output that begins with a tag
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>ok</SCRATCHPAD_REASONING><OUTPUT><rejected/> no</OUTPUT>"}, PromptTokens: 100}
		case strings.Contains(user, "lunch"): // d-03: never leaves its scratchpad
			return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>still thinking"}, DoneReason: "length", PromptTokens: grown(100, req)}
		}
		return fakeollama.Reply{Chunks: []string{"<SCRATCHPAD_REASONING>ok</SCRATCHPAD_REASONING><OUTPUT>A plain answer.</OUTPUT>"}, PromptTokens: 100}
	}
	res, err := Run(context.Background(), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range read(t, fx.opts.Dir).All() {
		got[s.Scenario+"/"+s.QueryID+"/"+string(s.Tier)] = string(s.Outcome) + "," + s.Stop
	}
	req := fx.opts.Requests[0].ID
	want := map[string]string{
		"tiny-derived/d-01/free": "answered,", "tiny-derived/d-01/paid": "answered,",
		"tiny-derived/d-02/free": "answered,", "tiny-derived/d-02/paid": "answered,",
		"tiny-derived/d-03/free": "unparsed,turns", "tiny-derived/d-03/paid": "unparsed,turns",
		"tiny-grid/" + req + "/free": "unparsed,", "tiny-grid/" + req + "/paid": "unparsed,",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: outcome,stop = %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d samples, want %d: %v", len(got), len(want), got)
	}
	if res.Counts[record.Answered] != 4 || res.Counts[record.Unparsed] != 4 {
		t.Errorf("counts = %v, want 4 answered and 4 unparsed", res.Counts)
	}
}
