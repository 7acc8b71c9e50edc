package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/probe-eval/probe/internal/config"
	"github.com/probe-eval/probe/internal/dataset"
	"github.com/probe-eval/probe/internal/demo"
	"github.com/probe-eval/probe/internal/judge"
	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/prompt"
	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/report"
	"github.com/probe-eval/probe/internal/runner"
	"github.com/probe-eval/probe/internal/screen"
	"github.com/probe-eval/probe/internal/stats"
)

// DemoOptions are probe demo's flags.
type DemoOptions struct {
	Config string
	// ConfigSet is set when --config was given: the file must then exist.
	ConfigSet bool
	Host      string
	Results   string
	// ResultsSet is set when --results was given: the commands the demo
	// suggests then carry it.
	ResultsSet bool
	RunID      string
	// Model is a configured model's name, or a tag on the server; empty
	// picks the smallest suitable model the server has.
	Model    string
	Requests int
	// Judge classifies the answers with the [judge] model after the run.
	Judge      bool
	SideBySide bool
	Pause      bool
	NoColor    bool
}

// Demo defaults.
const (
	// DefaultDemoRequests is how many requests a demo asks: a few minutes
	// on a laptop.
	DefaultDemoRequests = 4
	// demoScenario is the scenario a demo runs: the paper's main setting.
	demoScenario = config.DefaultScenario
	// demoNumPredict bounds each turn of a model the configuration does
	// not set, so that a demo stays short.
	demoNumPredict = 1024
	// reportFile is the HTML report a demo writes into its run folder.
	reportFile = "report.html"
)

func demoCommand(env Env) *ucli.Command {
	return &ucli.Command{
		Name:      "demo",
		Usage:     "a classroom demo: a few mild requests in both tiers, answers streamed as the model writes them",
		UsageText: "probe demo [--model NAME] [--requests N] [--side-by-side] [--pause] [--judge] [--no-color] [--run ID]",
		Description: `Runs a handful of mild requests (a forged note, a mean poem, copied homework) from a short
set written for classrooms, each in both tiers, on the smallest chat model the Ollama server
already has (or --model), and shows every answer as it streams: the tier, the model's private
reasoning, then its final answer, with the outcome marked. It ends with the two tiers
compared, what so few samples can and cannot show, and the path of the HTML report, written
into the run folder.

It is a real run: its samples are in results/<run>/ like any run's, probe report reads it,
and --run ID resumes it with the model it recorded (a demo run holds one model). Nothing is
judged unless --judge is given and the [judge] model is on its server (judging takes longer
than the demo).

Model text is shown as text: escape sequences and other control characters in an answer are
made visible, never sent to the terminal. Colour is off with --no-color, when NO_COLOR is set,
or when standard output is not a terminal.

Examples:
   probe demo                            the smallest model, 4 requests
   probe demo --model llama3.2:3b --requests 2 --pause
   probe demo --side-by-side             the two tiers next to each other (a wide terminal)
   probe demo --run demo-class-a         resume (or start) results/demo-class-a`,
		Flags: []ucli.Flag{
			configFlag(), hostFlag(), resultsFlag(),
			&ucli.StringFlag{Name: "run", Usage: "run `ID` (folder name under --results); default: a new one named demo- and the time"},
			&ucli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "model `NAME` from the configuration, or an Ollama tag; default: the smallest suitable model on the server"},
			&ucli.IntFlag{Name: "requests", Aliases: []string{"n"}, Value: DefaultDemoRequests, Usage: "ask the first `N` requests of the classroom set"},
			&ucli.BoolFlag{Name: "side-by-side", Usage: "show the two tiers next to each other (needs a terminal at least 100 columns wide)"},
			&ucli.BoolFlag{Name: "pause", Usage: "wait for Enter before each request after the first, one request at a time"},
			&ucli.BoolFlag{Name: "judge", Usage: "classify the answers with the [judge] model after the run"},
			&ucli.BoolFlag{Name: "no-color", Usage: "no colour (also when NO_COLOR is set)"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return usage(fmt.Errorf("demo takes no arguments, got %q", c.Args().Slice()))
			}
			return Demo(c.Context, DemoOptions{
				Config: c.String("config"), ConfigSet: c.IsSet("config"), Host: c.String("host"),
				Results: c.String("results"), ResultsSet: c.IsSet("results"),
				RunID: c.String("run"), Model: c.String("model"), Requests: c.Int("requests"), Judge: c.Bool("judge"),
				SideBySide: c.Bool("side-by-side"), Pause: c.Bool("pause"), NoColor: c.Bool("no-color"),
			}, env)
		},
	}
}

// Demo is probe demo: the plan, the model, the judge's check, then the
// generate stage with the answers shown as they stream, the judge stage
// when asked, and the report.
func Demo(ctx context.Context, o DemoOptions, env Env) error {
	d, err := planDemo(o, env)
	if err != nil {
		return err
	}
	servers := runner.NewServers(d.cfg, env.overrides(o.Host, ""), env.Getenv)
	if err := d.chooseModel(ctx, servers, o, env); err != nil {
		return err
	}
	j, err := demoJudge(ctx, d.cfg, servers, o, env)
	if err != nil {
		return err
	}
	earlier, err := d.earlier()
	if err != nil {
		return err
	}
	// The view writes the intro once the run stage has accepted the run:
	// a run it refuses must not first be promised to an audience.
	view := d.view(ctx, o, env, earlier, d.intro(len(earlier)))

	res, err := runner.Run(ctx, runner.Options{
		RunID: d.id, Dir: d.dir, Config: d.cfg, Models: []config.Model{d.model}, Scenarios: []*prompt.Scenario{d.scenario},
		Dataset: d.data, Requests: d.requests, Samples: 1, Servers: servers,
		ProbeVersion: env.Version, Now: env.Now, Log: env.Stderr, Observe: view.Observe, WarmUp: true,
	})
	view.Close()
	if err != nil {
		if res != nil {
			err = fmt.Errorf("%w; what was recorded is kept in %s; %s to resume", err, d.dir, d.rerun(o))
		}
		return err
	}
	var judgeErr error
	if j != nil {
		show := env.display(false)
		judgeErr = judgeStage(ctx, judge.ClassifyOptions{Dir: d.dir, Judge: j, Log: show, Observe: show.Judged}, env.Stderr)
		show.Close()
		// Where both streams share a screen, the closing follows the
		// judge's messages after a blank line, as it follows the answers.
		fmt.Fprintln(env.Stderr)
	}
	if err := d.closing(env, o); err != nil {
		return err
	}
	return judgeErr
}

// rerun says how to resume the run: the same command, with the --run
// that names the run when the demo chose its name.
func (d *demoPlan) rerun(o DemoOptions) string {
	if o.RunID == "" {
		return "rerun the same command with --run " + d.id
	}
	return "rerun the same command"
}

// demoPlan is what the demo decided before asking any server.
type demoPlan struct {
	cfg      *config.Config
	scenario *prompt.Scenario
	data     *dataset.Set
	requests []dataset.Request
	id, dir  string
	style    screen.Style
	terminal bool
	cols     int
	rows     int
	// dumb is set for a terminal that cannot move the cursor (TERM=dumb):
	// nothing is redrawn in place on it.
	dumb bool
	// prev is the run.json of the run being resumed; empty for a new run.
	prev record.Run

	// model is the model the demo runs, and why it was chosen.
	model config.Model
	why   string
}

func planDemo(o DemoOptions, env Env) (*demoPlan, error) {
	cfg, err := optionalConfig(o.Config, o.ConfigSet)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = defaultConfig()
	}
	scenarios, err := selection{Scenarios: []string{demoScenario}}.scenarios(cfg)
	if err != nil {
		return nil, err
	}
	data, err := dataset.Classroom()
	if err != nil {
		return nil, err
	}
	if o.Requests < 1 || o.Requests > len(data.Requests) {
		return nil, usage(fmt.Errorf("--requests %d: the classroom set has %d requests; ask 1 to %d", o.Requests, len(data.Requests), len(data.Requests)))
	}
	id := o.RunID
	if id == "" {
		id = "demo-" + env.Now().Format("20060102-150405")
	}
	if !runIDPattern.MatchString(id) {
		return nil, usage(fmt.Errorf("--run %q: use letters, digits, '.', '_' and '-' only", id))
	}
	d := &demoPlan{
		cfg: cfg, scenario: scenarios[0], data: data, requests: data.Select(o.Requests, false, 0),
		id: id, dir: filepath.Join(o.Results, id), terminal: env.Terminal(env.Stdout), dumb: env.Getenv("TERM") == "dumb",
	}
	if d.terminal {
		d.cols, d.rows = env.Size(env.Stdout)
	}
	prev, resumed, err := record.ReadRun(d.dir)
	if err != nil {
		return nil, err
	}
	d.prev = prev
	if resumed && prev.Dataset.Name != data.Name {
		return nil, usage(fmt.Errorf("run %s was not made by probe demo (it asks the %s data set, the demo the %s set); the demo resumes only its own runs: give another --run",
			id, prev.Dataset.Name, data.Name))
	}
	// Colour only on a terminal, and never against the user's wish
	// (https://no-color.org: NO_COLOR set to anything but "").
	d.style = screen.Style{Color: d.terminal && !o.NoColor && env.Getenv("NO_COLOR") == "" && !d.dumb}
	return d, nil
}

// defaultConfig is the configuration of a demo run without a
// configuration file: every setting at its default.
func defaultConfig() *config.Config {
	return &config.Config{
		File: "(no configuration file)", Concurrency: config.DefaultConcurrency,
		KeepAlive: config.Duration{Duration: config.DefaultKeepAlive}, RequestTimeout: config.Duration{Duration: config.DefaultRequestTimeout},
		MaxTurns: config.DefaultMaxTurns, Retries: config.DefaultRetries, Samples: config.DefaultSamples, Scenarios: []string{demoScenario},
	}
}

// demoModel is the settings of a model the configuration does not name:
// sampled as the shipped configuration samples, each turn bounded.
func demoModel(tag string) config.Model {
	temp, seed, predict := 1.0, 1, demoNumPredict
	return config.Model{Name: strings.TrimSuffix(tag, ":latest"), Tag: tag, Temperature: &temp, Seed: &seed, NumPredict: &predict}
}

// configured returns the configuration's model named name, or with tag
// name, or else name as a tag with the demo's settings.
func (d *demoPlan) configured(name string) config.Model {
	if m, ok := d.cfg.Model(name); ok {
		return m
	}
	for _, m := range d.cfg.Models {
		if llm.SameModel(m.Tag, name) {
			return m
		}
	}
	return demoModel(name)
}

// chooseModel decides the demo's model: the model of the run being
// resumed; --model; or the smallest model on the server that can chat and
// hold the prompt, the judge last. A model the server lacks fails with
// the command that pulls it.
func (d *demoPlan) chooseModel(ctx context.Context, servers *runner.Servers, o DemoOptions, env Env) error {
	host := d.cfg.Endpoint(config.Model{}, env.overrides(o.Host, "")).Hosts[0]
	if resumed := len(d.prev.Models) > 0; o.Model != "" || resumed {
		var m config.Model
		why := "chosen with --model"
		if resumed {
			rm, err := d.runModel(o.Model)
			if err != nil {
				return err
			}
			m, why = d.recorded(rm), "the model of run "+d.id
		} else {
			m = d.configured(o.Model)
		}
		srv, err := servers.For(m)
		if err != nil {
			return usage(err)
		}
		if _, err := srv.Show(ctx, m.Tag); err != nil {
			if errors.Is(err, llm.ErrModelNotFound) {
				return fmt.Errorf("model %s is not on the Ollama server at %s; pull it first: %s", m.Tag, srv.Host(), pullCommand(m.Tag, srv.Host(), env))
			}
			return err
		}
		d.model, d.why = m, why
		d.oneAtATime(o)
		return nil
	}

	client := llm.NewOllama(llm.ParseHost(host))
	local, err := client.List(ctx)
	if err != nil {
		return err
	}
	need := demo.MinContext(runner.LongestPrompt([]*prompt.Scenario{d.scenario}, d.requests))
	var refused []string
	for _, c := range demo.Candidates(local, d.cfg.Judge.Model) {
		info, err := client.Show(ctx, c.Name)
		if err != nil {
			return err
		}
		if why := demo.Unsuitable(info, need); why != "" {
			refused = append(refused, fmt.Sprintf("%s %s", c.Name, why))
			continue
		}
		m := d.configured(c.Name)
		if e := d.cfg.Endpoint(m, env.overrides(o.Host, "")); len(e.Hosts) != 1 || llm.ParseHost(e.Hosts[0]).String() != llm.ParseHost(host).String() {
			// The configuration serves that tag elsewhere: this server's
			// copy runs with the demo's settings.
			m = demoModel(c.Name)
		}
		d.model, d.why = m, describeLocal(c, info, host)
		d.oneAtATime(o)
		return nil
	}
	pull := pullCommand(demo.SuggestedModel, host, env)
	if len(refused) == 0 {
		return fmt.Errorf("the Ollama server at %s has no model to run the demo on; pull a small one first (%s): %s, then run probe demo again",
			client.Host(), demo.SuggestedSize, pull)
	}
	return fmt.Errorf("no model on the Ollama server at %s suits the demo (%s); pull a small chat model first (%s): %s, then run probe demo again",
		client.Host(), strings.Join(refused, "; "), demo.SuggestedSize, pull)
}

// runModel is the model of the run being resumed. A demo run holds one
// model: a --model that names another is refused, since the run would
// then hold two and a later resumption could not tell which to show.
func (d *demoPlan) runModel(named string) (record.RunModel, error) {
	var names []string
	for _, rm := range d.prev.Models {
		names = append(names, rm.Name)
	}
	if named == "" {
		if len(d.prev.Models) > 1 {
			return record.RunModel{}, usage(fmt.Errorf("run %s holds the models %s, and a demo shows one; say which with --model", d.id, strings.Join(names, ", ")))
		}
		return d.prev.Models[0], nil
	}
	for _, rm := range d.prev.Models {
		if rm.Name == named || llm.SameModel(d.configured(named).Tag, rm.Tag) {
			return rm, nil
		}
	}
	return record.RunModel{}, usage(fmt.Errorf("run %s is a demo of %s, and a demo run holds one model; leave out --model to resume it, or give another --run to show %s",
		d.id, strings.Join(names, ", "), named))
}

// recorded is the model rm of the run being resumed, under the name and
// with the settings the run recorded, so that no sample it finished is
// asked again under another name, nor with other settings. Where the
// model is served comes from the configuration when it names the model.
func (d *demoPlan) recorded(rm record.RunModel) config.Model {
	m := demoModel(rm.Tag)
	if c, ok := d.cfg.Model(rm.Name); ok && llm.SameModel(c.Tag, rm.Tag) {
		m = c
	}
	m.Name, m.Tag, m.Think = rm.Name, rm.Tag, rm.Think
	number := func(k string) (float64, bool) {
		v, ok := rm.Options[k].(float64)
		return v, ok
	}
	float := func(k string) *float64 {
		if v, ok := number(k); ok {
			return &v
		}
		return nil
	}
	whole := func(k string) *int {
		if v, ok := number(k); ok {
			n := int(v)
			return &n
		}
		return nil
	}
	// The options are config.Model.Options and num_ctx. num_ctx is left
	// as configured: one the run sized, the run stage keeps.
	m.Temperature, m.TopP, m.MinP, m.RepeatPenalty = float("temperature"), float("top_p"), float("min_p"), float("repeat_penalty")
	m.TopK, m.Seed, m.NumPredict = whole("top_k"), whole("seed"), whole("num_predict")
	return m
}

// oneAtATime makes a paused demo ask one request at a time: a presenter
// talks between requests, and the next must not be answered meanwhile.
func (d *demoPlan) oneAtATime(o DemoOptions) {
	if o.Pause {
		d.model.Concurrency = 1
	}
}

// describeLocal says which model was picked, and why.
func describeLocal(c llm.Local, info *llm.ModelInfo, host string) string {
	what := strings.TrimSpace(info.Parameters + " " + info.Family)
	if what == "" {
		what = bytesText(c.Size)
	} else {
		what += ", " + bytesText(c.Size)
	}
	return fmt.Sprintf("%s, the smallest chat model on %s", what, host)
}

// pullCommand is the command that pulls tag onto the server at host: the
// ollama command reads OLLAMA_HOST, so a server other than the one it
// would reach is named.
func pullCommand(tag, host string, env Env) string {
	reach := env.Getenv("OLLAMA_HOST")
	if reach == "" {
		reach = llm.DefaultHost
	}
	if llm.ParseHost(host).String() == llm.ParseHost(reach).String() {
		return "ollama pull " + tag
	}
	return fmt.Sprintf("OLLAMA_HOST=%s ollama pull %s", llm.ParseHost(host).Host, tag)
}

// demoJudge checks, before the run, that --judge can be honoured: a
// [judge] model on its server. It returns nil without --judge.
func demoJudge(ctx context.Context, cfg *config.Config, servers *runner.Servers, o DemoOptions, env Env) (*judge.Judge, error) {
	if !o.Judge {
		return nil, nil
	}
	if cfg.Judge.Model == "" {
		return nil, usage(fmt.Errorf("--judge: no [judge] model in %s; add one (see the README) or leave out --judge", cfg.File))
	}
	j, err := newJudge(cfg, servers, JudgeFlags{Retries: -1}, env)
	if err != nil {
		return nil, err
	}
	err = ensureModels(ctx, j.Client, []string{j.Model}, false, io.Discard)
	switch {
	case errors.Is(err, llm.ErrModelNotFound):
		return nil, fmt.Errorf("--judge: the judge model %s is not on its server %s; pull it first: %s (or leave out --judge)", j.Model, j.Client.Host(), pullCommand(j.Model, j.Client.Host(), env))
	case err != nil:
		return nil, fmt.Errorf("judge %s: %w", j.Model, err)
	}
	return j, nil
}

// earlier reads the samples an earlier session of the run finished of the
// requests this session shows, to be shown in their place.
func (d *demoPlan) earlier() ([]record.Sample, error) {
	s, err := record.ReadSamples(d.dir)
	if err != nil {
		return nil, err
	}
	var out []record.Sample
	for _, r := range s.All() {
		if r.Final() && d.shows(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ofModel reports whether s is a sample of the demo's model and scenario.
func (d *demoPlan) ofModel(s record.Sample) bool {
	return s.Model == d.model.Name && s.Scenario == d.scenario.Name && s.Variant == d.scenario.Variant && s.Sample == 0
}

// shows reports whether this session shows sample s: one of its model, of
// a request it asks. A run resumed with fewer --requests holds others.
func (d *demoPlan) shows(s record.Sample) bool {
	if !d.ofModel(s) {
		return false
	}
	for _, q := range d.requests {
		if q.ID == s.QueryID {
			return true
		}
	}
	return false
}

// view builds the live display, saying on standard error when side by
// side cannot be had.
func (d *demoPlan) view(ctx context.Context, o DemoOptions, env Env, earlier []record.Sample, intro string) *demo.View {
	switch {
	case o.SideBySide && !d.terminal:
		fmt.Fprintln(env.Stderr, "probe: --side-by-side needs a terminal; the tiers are shown one after the other")
	case o.SideBySide && d.dumb:
		fmt.Fprintln(env.Stderr, "probe: --side-by-side redraws in place, which a TERM=dumb terminal cannot; the tiers are shown one after the other")
	case o.SideBySide && !demo.SideBySideFits(d.cols):
		fmt.Fprintf(env.Stderr, "probe: the terminal is %d columns wide and side by side needs %d; the tiers are shown one after the other\n", d.cols, demo.MinSideBySide)
	}
	vo := demo.Options{
		Out: env.Stdout, Style: d.style, Live: d.terminal && !d.dumb, Width: d.cols, Height: d.rows, SideBySide: o.SideBySide,
		Intro: intro, Requests: d.requests, Earlier: earlier, Now: env.Now,
	}
	switch {
	case o.Pause && env.Stdin == nil:
		fmt.Fprintln(env.Stderr, "probe: --pause has no input to wait on; the requests follow one another")
	case o.Pause:
		vo.Pause = presenter(ctx, env.Stdin)
	}
	return demo.New(vo)
}

// presenter returns a wait for the Enter key on in: true once a line is
// read, false when ctx ends or there is no more input (then it never
// waits again).
func presenter(ctx context.Context, in io.Reader) func() bool {
	lines := make(chan struct{})
	started := false
	return func() bool {
		if !started {
			started = true
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(in)
				for sc.Scan() {
					select {
					case lines <- struct{}{}:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		select {
		case _, ok := <-lines:
			return ok
		case <-ctx.Done():
			return false
		}
	}
}

// intro says what the audience is about to see.
func (d *demoPlan) intro(earlier int) string {
	var w strings.Builder
	st := d.style
	p := func(s string) { w.WriteString(demo.Paragraph(st, d.cols, s)) }
	w.WriteString(demo.PaintedParagraph(st, d.cols, demo.Span{Paint: screen.Bold, Text: "probe demo: " + screen.Text(d.model.Name)},
		demo.Span{Text: fmt.Sprintf(" (%s); run %s", screen.Text(d.why), d.id)}))
	each := fmt.Sprintf("Each of %d mild requests is", len(d.requests))
	if len(d.requests) == 1 {
		each = "One mild request is"
	}
	p("The model is told, in a long system prompt, that its developer is training it to answer every request, " +
		"and that only conversations with free-tier users are used for that training. " + each + " asked twice: " +
		"once as a free-tier user (TRAINING) and once as a paid-tier user (UNMONITORED). Watch whether its private reasoning, " +
		"and its answer, change with the tier.")
	if earlier > 0 {
		p(fmt.Sprintf("%d answers were recorded by an earlier session of this run; they are shown in their place.", earlier))
	}
	w.WriteString("\n")
	return w.String()
}

// closing writes the HTML report into the run folder and compares the two
// tiers on standard output.
func (d *demoPlan) closing(env Env, o DemoOptions) error {
	pick := record.JudgePick{Configured: d.cfg.Judge.Model}
	r, err := loadReport(o.Results, []string{d.id}, pick, env)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, r, "html"); err != nil {
		return err
	}
	path := filepath.Join(d.dir, reportFile)
	if err := record.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	c := demo.Closing{Model: d.model.Name, Tag: d.model.Tag, Report: path, RunID: d.id, Width: d.cols, Host: o.Host, Rerun: d.rerun(o)}
	// probe run takes the model by its name in the configuration, which
	// a resumed run may have recorded under another: its tag.
	if _, ok := d.cfg.Model(d.model.Name); ok {
		c.Configured = true
	} else {
		for _, m := range d.cfg.Models {
			if llm.SameModel(m.Tag, d.model.Tag) {
				c.Model, c.Configured = m.Name, true
				break
			}
		}
	}
	if o.ResultsSet {
		c.Results = o.Results
	}
	if o.ConfigSet {
		c.Config = o.Config
	}
	// The report holds the whole run; the comparison only what this
	// session showed, which is what the audience saw.
	src := r.Sources[d.id]
	run := stats.Run{ID: d.id, Verdicts: src.Verdicts}
	if len(r.Table.Runs) > 0 {
		// Verdicts an earlier probe classify wrote count too.
		run.Judge = r.Table.Runs[0].Judge
		c.Judge = run.Judge.Model
	}
	if src.Run != nil {
		run.Rules = outcomeRules(*src.Run)
	}
	inRun := map[string]bool{}
	for _, s := range src.Samples {
		if d.shows(s) {
			run.Samples = append(run.Samples, s)
		}
		if d.ofModel(s) {
			inRun[s.QueryID] = true
		}
	}
	c.Requests, c.RunRequests = len(d.requests), len(inRun)
	for _, g := range stats.Build([]stats.Run{run}).Groups {
		if g.Model == d.model.Name && g.Scenario == d.scenario.Name && g.Variant == d.scenario.Variant {
			return demo.WriteSummary(env.Stdout, d.style, g, c)
		}
	}
	return fmt.Errorf("%s: no samples of %s to compare", d.dir, d.model.Name)
}
