package report

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probe-eval/probe/internal/record"
	"github.com/probe-eval/probe/internal/stats"
)

// A spreadsheet reads a cell that begins with =, +, -, @, a tab or a
// carriage return as a formula, and can be made to run one. Model-written
// text must never run, so every text cell the CSV formats write is
// neutralised with a leading apostrophe, the usual convention (OWASP, "CSV
// Injection"); a spreadsheet shows the apostrophe, pandas keeps it.
// samples.jsonl keeps the exact text. Numbers written here are written as
// numbers: a negative gap stays -0.5.

// text neutralises a text cell.
func text(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
func integer(n int) string { return strconv.Itoa(n) }

// pnum writes a p-value with every digit it has (1.5417145561750705e-07),
// since six decimals would round a small one to 0.000000.
func pnum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// csvHeader names the report CSV's columns, one line per group and tier,
// then per category and tier, then per ablation, each line's kind in the
// kind column. New columns go at the end, so that a script reading by
// position keeps working.
var csvHeader = []string{
	"run", "model", "scenario", "tier", "n", "complied", "refused", "unparsed", "errors", "truncated",
	"rate", "ci_lo", "ci_hi", "gap", "gap_ci_lo", "gap_ci_hi", "gap_p", "gap_test", "gap_fisher_p",
	"af", "af_rate", "af_ci_lo", "af_ci_hi", "complied_af", "maybe", "unclassified", "judged",
	"judged_complied", "compliance_judged", "judged_rate", "judged_ci_lo", "judged_ci_hi",
	"compliance_disagree", "complied_tag_only", "complied_judge_only", "compliance_unclassified",
	"variant", "outcome_rule", "pairs", "significant", "requests_needed", "gap_free_rate", "gap_paid_rate",
	"samples_per_request", "ci_method", "requests", "design_effect", "effective_n", "af_n",
	"stop_window", "stop_length", "stop_turns",
	"judge", "judge_chosen_by", "judge_af_prompt_sha256", "judge_compliance_prompt_sha256",
	"rate_n", "unjudged", "outcome_unclassified", "outcome_counted", "outcome_other", "outcome_judge", "outcome_prompt_sha256",
	"category", "gap_measured",
	"kind", "ablation_requests", "ablation_gap", "ablation_base_gap", "ablation_diff", "ablation_diff_ci_lo", "ablation_diff_ci_hi",
	"af_ci_method", "judged_ci_method",
}

// Kinds of the report CSV's lines.
const (
	kindGroup    = "group"
	kindCategory = "category"
	kindAblation = "ablation"
)

func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	judges := map[string]stats.RunSummary{}
	for _, run := range r.Table.Runs {
		judges[run.Run] = run
	}
	for _, g := range r.Table.Groups {
		j := judges[g.Run].Judge
		writeRows := func(category string, free, paid stats.TierSummary, gap stats.GapSummary) {
			for i, t := range []stats.TierSummary{free, paid} {
				cw.Write(groupRow(g, j, i, t, gap, category))
			}
		}
		writeRows("", g.Free, g.Paid, g.Gap)
		// A group broken down by category adds a row per category and
		// tier, named in the category column.
		for _, c := range g.Categories {
			writeRows(categoryName(c.Category), c.Free, c.Paid, c.Gap)
		}
	}
	for _, a := range r.Table.Ablations {
		cw.Write(ablationRow(a))
	}
	cw.Flush()
	return cw.Error()
}

// ablationRow is an ablation's line of the report CSV: it names the run,
// model, scenario and variant, fills the ablation columns, and leaves a
// group's cells empty, so that it is never summed with them.
func ablationRow(a stats.Ablation) []string {
	row := make([]string, len(csvHeader))
	set := func(name, v string) { row[slices.Index(csvHeader, name)] = v }
	set("run", text(a.Run))
	set("model", text(a.Model))
	set("scenario", text(a.Scenario))
	set("variant", text(a.Variant))
	set("kind", kindAblation)
	set("ablation_requests", integer(a.Requests))
	if a.Measured {
		set("ablation_gap", num(a.Gap))
		set("ablation_base_gap", num(a.BaseGap))
		set("ablation_diff", num(a.Diff))
	}
	if len(a.DiffCI) == 2 {
		set("ablation_diff_ci_lo", num(a.DiffCI[0]))
		set("ablation_diff_ci_hi", num(a.DiffCI[1]))
	}
	return row
}

// categoryName shows a category a request left empty as such, so that a
// breakdown row is never taken for the group's own.
func categoryName(c string) string {
	if c == "" {
		return "(none)"
	}
	return c
}

// groupRow is one line of the report CSV: tier i of group g, or of one of
// its categories when category is set.
func groupRow(g stats.Group, j record.JudgeChoice, i int, t stats.TierSummary, gap stats.GapSummary, category string) []string {
	// Without a pair there is no gap: its cells are empty, as is an
	// interval that would be a point.
	gapNum := func(format func(float64) string, x float64) string {
		if !gap.Measured {
			return ""
		}
		return format(x)
	}
	gapLo, gapHi := "", ""
	if len(gap.CI) == 2 {
		gapLo, gapHi = num(gap.CI[0]), num(gap.CI[1])
	}
	kind := kindGroup
	if category != "" {
		kind = kindCategory
	}
	row := []string{
		text(g.Run), text(g.Model), text(g.Scenario), tierName(i),
		integer(t.N), integer(t.Complied), integer(t.Refused), integer(t.Unparsed), integer(t.Errors), integer(t.Truncated),
		num(t.Rate), num(t.CI[0]), num(t.CI[1]), gapNum(num, gap.Value), gapLo, gapHi, gapNum(pnum, gap.P), text(gap.Test), gapNum(pnum, gap.FisherP),
		integer(t.AF), num(t.AFRate), num(t.AFCI[0]), num(t.AFCI[1]), integer(t.CompliedAF), integer(t.Maybe), integer(t.Unclassified), integer(t.Judged),
		integer(t.JudgedComplied), integer(t.ComplianceJudged), num(t.JudgedRate), num(t.JudgedCI[0]), num(t.JudgedCI[1]),
		integer(t.ComplianceDisagree), integer(t.CompliedTagOnly), integer(t.CompliedJudgeOnly), integer(t.ComplianceUnclassified),
		text(g.Variant), text(g.OutcomeRule), integer(gap.Pairs), strconv.FormatBool(gap.Significant), integer(gap.RequestsNeeded), gapNum(num, gap.FreeRate), gapNum(num, gap.PaidRate),
		num(gap.SamplesPerRequest), text(t.CIMethod), integer(t.Requests), num(t.DesignEffect), num(t.EffectiveN), integer(t.AFN),
		integer(t.StopWindow), integer(t.StopLength), integer(t.StopTurns),
		text(j.Model), text(j.ChosenBy), text(j.AFPrompt), text(j.CompliancePrompt),
		integer(t.RateN), integer(t.Unjudged), integer(t.OutcomeUnclassified), text(g.Outcomes.Counted), text(g.Outcomes.Other), text(g.OutcomeJudge), text(g.OutcomePrompt),
		text(category), strconv.FormatBool(gap.Measured),
		kind,
	}
	// The ablation columns stay empty.
	row = append(row, make([]string, slices.Index(csvHeader, "af_ci_method")-len(row))...)
	return append(row, text(t.AFCIMethod), text(t.JudgedCIMethod))
}

// samplesHeader names the samples CSV's columns: one line per sample, the
// texts as the model wrote them, neutralised for spreadsheets. New columns
// go at the end.
var samplesHeader = []string{
	"run", "model", "tag", "scenario", "query_id", "category", "tier", "sample",
	"outcome", "judge_label", "judge_fraction", "judge_votes",
	"error", "truncated", "turns", "attempts",
	"prompt_tokens", "output_tokens", "num_ctx", "done_reason",
	"started_at", "duration_ms", "prompt_eval_ms",
	"request", "scratchpad", "thinking", "output",
	"variant", "stop", "judge_compliance",
	"judge_outcome",
}

// writeSamplesCSV writes every sample of the report's sources, one line
// each, with the judge's verdict when there is one. Runs without sources
// add no lines.
func writeSamplesCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	cw.Write(samplesHeader)
	rules := groupRules(r.Table)
	for _, run := range r.Table.Runs {
		src := r.Sources[run.Run]
		if src == nil {
			continue
		}
		for _, s := range src.Samples {
			var label, fraction, votes, compliance, decided string
			v, ok := src.Verdicts[s.Key()]
			if ok {
				label, compliance = v.AF, v.Compliance
				if v.AF != "" {
					fraction = strconv.FormatFloat(v.Fraction, 'f', 4, 64)
					votes = strconv.Itoa(v.Votes)
				}
			}
			if q, judged := record.RuleQuestion(rules[groupOf(run.Run, s)].OutcomeRule); judged {
				decided = v.Labels[q]
			}
			started := ""
			if !s.StartedAt.IsZero() {
				started = s.StartedAt.UTC().Format(time.RFC3339Nano)
			}
			id := s.Run
			if id == "" {
				id = run.Run
			}
			cw.Write([]string{
				text(id), text(s.Model), text(s.Tag), text(s.Scenario), text(s.QueryID), text(s.Category), text(string(s.Tier)), integer(s.Sample),
				text(string(s.Outcome)), text(label), fraction, votes,
				text(s.Error), strconv.FormatBool(s.Truncated), integer(s.Turns), integer(s.Attempts),
				integer(s.PromptTokens), integer(s.OutputTokens), integer(s.NumCtx), text(s.DoneReason),
				text(started), strconv.FormatInt(s.DurationMS, 10), strconv.FormatInt(s.PromptEvalMS, 10),
				text(s.Request), text(s.Scratchpad), text(s.Thinking), text(s.Output),
				text(s.Variant), text(s.Stop), text(compliance),
				text(decided),
			})
		}
	}
	cw.Flush()
	return cw.Error()
}
