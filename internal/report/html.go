package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// The HTML report is one self-contained file: its style, script and figure
// are inlined, and a Content-Security-Policy forbids it to load anything,
// so it works from a USB stick without a network. Every model-written
// string goes through html/template, which escapes it for where it stands;
// the transcripts are HTML rendered here, not data handed to the script,
// whose only job is to show and hide them.

//go:embed assets/report.html.tmpl assets/report.css assets/report.js
var assets embed.FS

// htmlPage is the template's data.
type htmlPage struct {
	Title   string
	Summary string
	Samples int
	// MultiRun is set when groups come from more than one run, so that the
	// run is named in the table and the transcripts can be filtered by it.
	MultiRun bool
	Judged   bool
	// JudgeRule is set when a judge question decides a group's outcome.
	JudgeRule bool
	// Judges name each run's judge, and its note.
	Judges      []htmlJudge
	Sections    []section
	Figure      template.HTML
	Runs        []htmlRun
	Transcripts []htmlTranscript
	Filters     []htmlFilter
	HasSources  bool
	CSS         template.CSS
	JS          template.JS
}

// htmlJudge is a run's judge, in words.
type htmlJudge struct{ Line, Note string }

// htmlFilter is one select of the transcript browser.
type htmlFilter struct {
	Key, Name string
	Options   []htmlOption
}

type htmlOption struct{ Value, Text string }

// htmlRun is one run's provenance.
type htmlRun struct {
	ID      string
	HasMeta bool
	Facts   [][2]string
	Models  []htmlModel
	Inputs  []htmlArtifact
	Config  string
	Session []htmlSession
}

type htmlModel struct {
	Name, Tag, Digest, Options, Think string
	ContextLength                     int
}

type htmlArtifact struct {
	Kind, Name, Source, SHA256 string
	Files                      [][2]string
}

type htmlSession struct{ Started, Finished, Status string }

// htmlTranscript is one sample in the browser.
type htmlTranscript struct {
	Run, Model, Scenario, Variant, QueryID, Category string
	Tier, TierName, Outcome, Label                   string
	// OutcomeVerdict is, under a judge rule, the question and the label
	// of its verdict that decided the outcome, e.g. "anti-lab: acted".
	OutcomeVerdict         string
	Sample                 int
	Request, Output, Error string
	Reasoning, Thinking    []textPart
	Judgment               *record.Verdict
	Quotes                 []htmlQuote
	Details                string
}

type htmlQuote struct {
	Text  string
	Found bool
}

// textPart is a stretch of a transcript, marked when a judge's quote
// covers it.
type textPart struct {
	Text string
	Mark bool
}

// labelNone is the browser's label for a sample the judge has not seen.
const labelNone = "none"

// writeHTML renders the report as one page.
func writeHTML(w io.Writer, r *Report) error {
	tmpl, err := template.New("report.html.tmpl").Funcs(htmlFuncs()).ParseFS(assets, "assets/report.html.tmpl")
	if err != nil {
		return fmt.Errorf("html template: %w", err)
	}
	css, err := assets.ReadFile("assets/report.css")
	if err != nil {
		return err
	}
	js, err := assets.ReadFile("assets/report.js")
	if err != nil {
		return err
	}
	fig, err := layoutFigure(r.Table)
	if err != nil {
		return err
	}
	var svg strings.Builder
	if err := writeSVG(&svg, fig, false); err != nil {
		return err
	}
	t := r.Table
	p := htmlPage{
		Samples:  t.Samples(),
		MultiRun: multiRun(r),
		Judged:   t.Judged(),
		Sections: sections(r),
		// writeSVG escapes every text it writes.
		Figure: template.HTML(svg.String()),
		CSS:    template.CSS(css),
		JS:     template.JS(js),
	}
	for _, s := range p.Sections {
		p.JudgeRule = p.JudgeRule || s.JudgeRule
	}
	var ids []string
	for _, run := range t.Runs {
		ids = append(ids, run.Run)
		p.Judges = append(p.Judges, htmlJudge{Line: judgeLine(run, p.MultiRun), Note: run.Judge.Note})
	}
	if !p.MultiRun {
		p.Title = "probe report: run " + ids[0]
	} else {
		p.Title = fmt.Sprintf("probe report: %d runs", len(ids))
	}
	p.Summary = fmt.Sprintf("%d samples from %s: %s.", p.Samples, count(len(ids), "run", "runs"), strings.Join(ids, ", "))
	values := map[string]map[string]bool{}
	rules := groupRules(t)
	for _, run := range t.Runs {
		src := r.Sources[run.Run]
		if src == nil {
			p.Runs = append(p.Runs, htmlRun{ID: run.Run})
			continue
		}
		p.HasSources = true
		p.Runs = append(p.Runs, provenance(run.Run, src.Run))
		for _, s := range src.Samples {
			tr := transcript(run.Run, s, src.Verdicts, rules[groupOf(run.Run, s)])
			p.Transcripts = append(p.Transcripts, tr)
			for k, v := range map[string]string{"run": tr.Run, "model": tr.Model, "scenario": tr.Scenario, "variant": tr.Variant, "outcome": tr.Outcome, "label": tr.Label} {
				if values[k] == nil {
					values[k] = map[string]bool{}
				}
				values[k][v] = true
			}
		}
	}
	p.Filters = filters(values, p.MultiRun)
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// filters builds the browser's selects from the values the transcripts
// hold. Tiers and outcomes are listed in their fixed order.
func filters(values map[string]map[string]bool, multiRun bool) []htmlFilter {
	sorted := func(k string) []htmlOption {
		var out []htmlOption
		for v := range values[k] {
			out = append(out, htmlOption{Value: v, Text: v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
		return out
	}
	var out []htmlFilter
	if multiRun {
		out = append(out, htmlFilter{Key: "run", Name: "run", Options: sorted("run")})
	}
	out = append(out,
		htmlFilter{Key: "model", Name: "model", Options: sorted("model")},
		htmlFilter{Key: "scenario", Name: "scenario", Options: sorted("scenario")},
	)
	// The variant filter only when a sample was asked under a variant.
	if vs := values["variant"]; len(vs) > 1 || len(vs) == 1 && !vs[variantName("")] {
		var vs []htmlOption
		for _, o := range sorted("variant") {
			o.Text = o.Value
			vs = append(vs, o)
		}
		out = append(out, htmlFilter{Key: "variant", Name: "variant", Options: vs})
	}
	out = append(out,
		htmlFilter{Key: "tier", Name: "tier", Options: []htmlOption{{string(record.Free), tierNames[0]}, {string(record.Paid), tierNames[1]}}},
	)
	// Known outcomes in their order, then those a judge question names
	// (acted, declined) and unjudged.
	var outcomes []htmlOption
	knownOutcome := map[string]bool{}
	for _, o := range []record.Outcome{record.Complied, record.Refused, record.Unparsed, record.Error} {
		knownOutcome[string(o)] = true
		if values["outcome"][string(o)] {
			outcomes = append(outcomes, htmlOption{string(o), string(o)})
		}
	}
	for _, o := range sorted("outcome") {
		if !knownOutcome[o.Value] {
			outcomes = append(outcomes, o)
		}
	}
	out = append(out, htmlFilter{Key: "outcome", Name: "outcome", Options: outcomes})
	// Known labels in their order, then any other a judge gave.
	var labels []htmlOption
	known := map[string]bool{}
	for _, l := range []string{record.LabelAF, record.LabelMaybe, record.LabelNo, record.LabelUnclassified, labelNone} {
		known[l] = true
		if values["label"][l] {
			labels = append(labels, htmlOption{l, labelText(l)})
		}
	}
	for _, o := range sorted("label") {
		if !known[o.Value] {
			labels = append(labels, o)
		}
	}
	return append(out, htmlFilter{Key: "label", Name: "judge label", Options: labels})
}

func labelText(l string) string {
	switch l {
	case record.LabelAF:
		return "alignment faking"
	case record.LabelMaybe:
		return "maybe"
	case record.LabelNo:
		return "no alignment faking"
	case record.LabelUnclassified:
		return "unclassified (judge failed)"
	case labelNone:
		return "not judged"
	}
	return l
}

// groupKey names the group a sample is counted in.
type groupKey struct{ run, model, scenario, variant string }

func groupOf(run string, s record.Sample) groupKey {
	return groupKey{run, s.Model, s.Scenario, s.Variant}
}

// groupRules maps each group of the table to its outcome rule and names.
func groupRules(t *stats.Table) map[groupKey]stats.Group {
	out := map[groupKey]stats.Group{}
	for _, g := range t.Groups {
		out[groupKey{g.Run, g.Model, g.Scenario, g.Variant}] = stats.Group{OutcomeRule: g.OutcomeRule, Outcomes: g.Outcomes}
	}
	return out
}

// judgedOutcome is the outcome of an answered sample under a judge rule:
// its verdict's label when it is one of the rule's two, else unjudged (an
// answer without output stays unparsed). ok is false under the tags.
func judgedOutcome(g stats.Group, s record.Sample, v record.Verdict) (outcome, verdict string, ok bool) {
	q, judged := record.RuleQuestion(g.OutcomeRule)
	if !judged || !s.Answered() {
		return "", "", false
	}
	if strings.TrimSpace(s.Output) == "" {
		return string(record.Unparsed), "", true
	}
	switch l := v.Labels[q]; l {
	case g.Outcomes.Counted, g.Outcomes.Other:
		return l, string(q) + ": " + l, true
	case "":
		return outcomeUnjudged, "", true
	default:
		return outcomeUnjudged, string(q) + ": " + l, true
	}
}

// outcomeUnjudged is the browser's outcome of an answer a judge question
// decides and has not yet decided.
const outcomeUnjudged = "unjudged"

func transcript(run string, s record.Sample, verdicts record.Verdicts, g stats.Group) htmlTranscript {
	t := htmlTranscript{
		Run: run, Model: s.Model, Scenario: s.Scenario, Variant: variantName(s.Variant), QueryID: s.QueryID, Category: s.Category,
		Tier: string(s.Tier), TierName: string(s.Tier), Outcome: string(s.Outcome), Label: labelNone,
		Sample: s.Sample, Request: s.Request, Output: s.Output, Error: s.Error,
	}
	switch s.Tier {
	case record.Free:
		t.TierName = tierNames[0]
	case record.Paid:
		t.TierName = tierNames[1]
	}
	var quotes []string
	v, ok := verdicts[s.Key()]
	if ok {
		t.Judgment = &v
		if v.AF != "" {
			t.Label = v.AF
		}
		quotes = v.Quotes
	}
	if o, verdict, judged := judgedOutcome(g, s, v); judged {
		t.Outcome, t.OutcomeVerdict = o, verdict
	}
	var foundR, foundT []bool
	t.Reasoning, foundR = highlight(s.Scratchpad, quotes)
	t.Thinking, foundT = highlight(s.Thinking, quotes)
	for i, q := range quotes {
		t.Quotes = append(t.Quotes, htmlQuote{Text: q, Found: foundR[i] || foundT[i]})
	}
	var d []string
	if s.Turns > 1 {
		d = append(d, fmt.Sprintf("%d turns", s.Turns))
	}
	if s.PromptTokens > 0 || s.OutputTokens > 0 {
		d = append(d, fmt.Sprintf("%d prompt + %d output tokens", s.PromptTokens, s.OutputTokens))
	}
	if s.NumCtx > 0 {
		d = append(d, fmt.Sprintf("num_ctx %d", s.NumCtx))
	}
	if s.DoneReason != "" {
		d = append(d, "done: "+s.DoneReason)
	}
	if s.Stop != "" {
		d = append(d, "stopped without output: "+s.Stop)
	}
	if s.DurationMS > 0 {
		d = append(d, fmt.Sprintf("%.1f s", float64(s.DurationMS)/1000))
	}
	if s.Truncated {
		d = append(d, "prompt filled num_ctx")
	}
	t.Details = strings.Join(d, " · ")
	return t
}

// highlight splits text into parts, marking those that a quote covers, and
// reports which quotes it found. Matching ignores case and runs of white
// space, since judges rarely copy spacing exactly.
func highlight(text string, quotes []string) ([]textPart, []bool) {
	found := make([]bool, len(quotes))
	if text == "" {
		return nil, found
	}
	norm, starts, ends := normalize(text)
	type span struct{ lo, hi int }
	var spans []span
	for i, q := range quotes {
		for _, frag := range strings.FieldsFunc(strings.ReplaceAll(q, "...", "…"), func(r rune) bool { return r == '…' }) {
			nq, _, _ := normalize(strings.Trim(strings.TrimSpace(frag), `"“”'`))
			nq = strings.TrimSpace(nq)
			if utf8.RuneCountInString(nq) < 4 {
				continue
			}
			for off := 0; ; {
				k := strings.Index(norm[off:], nq)
				if k < 0 {
					break
				}
				lo, hi := off+k, off+k+len(nq)
				spans = append(spans, span{starts[lo], ends[hi-1]})
				found[i] = true
				off = hi
			}
		}
	}
	if len(spans) == 0 {
		return []textPart{{Text: text}}, found
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var parts []textPart
	pos := 0
	for i := 0; i < len(spans); {
		lo, hi := spans[i].lo, spans[i].hi
		for i++; i < len(spans) && spans[i].lo <= hi; i++ {
			hi = max(hi, spans[i].hi)
		}
		if lo > pos {
			parts = append(parts, textPart{Text: text[pos:lo]})
		}
		parts = append(parts, textPart{Text: text[lo:hi], Mark: true})
		pos = hi
	}
	if pos < len(text) {
		parts = append(parts, textPart{Text: text[pos:]})
	}
	return parts, found
}

// normalize lowercases s and turns each run of white space into one space.
// For each byte of the result, starts and ends give the span of s it came
// from, so that a match in the result maps back to s.
func normalize(s string) (string, []int, []int) {
	var b strings.Builder
	var starts, ends []int
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		end := i + size
		if unicode.IsSpace(r) {
			if space {
				ends[len(ends)-1] = end
				i = end
				continue
			}
			space = true
			r = ' '
		} else {
			space = false
			r = unicode.ToLower(r)
		}
		n := utf8.RuneLen(r)
		if n < 0 {
			n, r = 3, utf8.RuneError
		}
		b.WriteRune(r)
		for range n {
			starts = append(starts, i)
			ends = append(ends, end)
		}
		i = end
	}
	return b.String(), starts, ends
}

// provenance lists what a run was made with, from its run.json.
func provenance(id string, r *record.Run) htmlRun {
	h := htmlRun{ID: id}
	if r == nil {
		return h
	}
	h.HasMeta = true
	add := func(k, v string) {
		if v != "" {
			h.Facts = append(h.Facts, [2]string{k, v})
		}
	}
	add("probe version", r.ProbeVersion)
	add("Ollama version", r.Ollama)
	add("Ollama host", r.Host)
	add("configuration", r.ConfigFile)
	add("created", stamp(r.CreatedAt))
	add("requests", fmt.Sprint(r.Requests))
	add("samples per request and tier", fmt.Sprint(r.SamplesPer))
	add("planned samples", fmt.Sprint(r.Planned))
	add("record format", fmt.Sprintf("v%d", r.V))
	for _, m := range r.Models {
		hm := htmlModel{Name: m.Name, Tag: m.Tag, Digest: m.Digest, Options: compactJSON(m.Options), ContextLength: m.ContextLength}
		if m.Think != nil {
			hm.Think = compactJSON(m.Think)
		}
		h.Models = append(h.Models, hm)
	}
	art := func(kind string, a record.Artifact) {
		ha := htmlArtifact{Kind: kind, Name: a.Name, Source: a.Source, SHA256: a.SHA256}
		var names []string
		for f := range a.Files {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			ha.Files = append(ha.Files, [2]string{f, a.Files[f]})
		}
		h.Inputs = append(h.Inputs, ha)
	}
	for _, s := range r.Scenarios {
		art("scenario", s)
	}
	if r.Dataset.Name != "" || r.Dataset.SHA256 != "" {
		art("dataset", r.Dataset)
	}
	if r.Config != nil {
		if b, err := json.MarshalIndent(r.Config, "", "  "); err == nil {
			h.Config = string(b)
		}
	}
	for _, s := range r.Sessions {
		h.Session = append(h.Session, htmlSession{Started: stamp(s.StartedAt), Finished: stamp(s.FinishedAt), Status: s.Status + fmt.Sprintf(", %d written", s.Written)})
	}
	return h
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// compactJSON renders v on one line with sorted keys.
func compactJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// htmlFuncs format numbers for the template; they return plain strings,
// which the template escapes like any other.
func htmlFuncs() template.FuncMap {
	return template.FuncMap{
		"pct":     pct,
		"rate":    rate,
		"ci":      func(t stats.TierSummary) string { return ciCell(t.RateN > 0, t.CI) },
		"afRate":  afRate,
		"afCI":    func(t stats.TierSummary) string { return ciCell(t.AFN > 0, t.AFCI) },
		"pts":     func(x float64) string { return fmt.Sprintf("%+.1f", 100*x) },
		"pval":    pval,
		"verdict": verdict,
		"label":   labelText,
		"variant": variantName,
		"upper":   upper,
		"diffCI":  diffCI,
		"gapCI":   gapCI,
		"gapP":    gapP,
		"fisherP": fisherP,
		"gapPts":  gapPts,
		"clustered": func(t stats.TierSummary) bool {
			return t.CIMethod == stats.MethodWilsonDesignEffect
		},
		"filterLink": func(g stats.Group, s section) string {
			f := "model:" + hashPart(g.Model) + ",scenario:" + hashPart(g.Scenario)
			if s.Variants {
				f += ",variant:" + hashPart(variantName(g.Variant))
			}
			if s.Multi {
				f = "run:" + hashPart(g.Run) + "," + f
			}
			return "#filter=" + f
		},
		"fraction": func(v *record.Verdict) string {
			if v.Votes == 0 {
				return ""
			}
			return fmt.Sprintf("%.0f%% of %d votes said alignment faking", 100*v.Fraction, v.Votes)
		},
		"cells": func(t stats.TierSummary, s section) tierCells {
			return tierCells{t, s.Judged, s.Clustered, s.JudgeRule}
		},
		// cols is the number of columns of a section's results table.
		"cols": func(s section) int { return 9 + boolInt(s.Clustered) + 2*boolInt(s.Judged) + boolInt(s.JudgeRule) },
	}
}

// ciCell is an interval in the HTML table, or nothing.
func ciCell(known bool, lohi []float64) string {
	if !known || len(lohi) != 2 {
		return ""
	}
	return fmt.Sprintf("[%.1f, %.1f]", 100*lohi[0], 100*lohi[1])
}

// tierCells is the data of the template's "tier" block.
type tierCells struct {
	T                            stats.TierSummary
	Judged, Clustered, JudgeRule bool
}

// hashPart escapes a value for the #filter= fragment the script reads.
func hashPart(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
