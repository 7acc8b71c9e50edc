package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// samplesHeader names the samples CSV's columns: one line per sample, the
// texts as the model wrote them (a spreadsheet may read a cell that begins
// with "=" as a formula; pandas reads it as text).
var samplesHeader = []string{
	"run", "model", "tag", "scenario", "query_id", "category", "tier", "sample",
	"outcome", "judge_label", "judge_fraction", "judge_votes",
	"error", "truncated", "turns", "attempts",
	"prompt_tokens", "output_tokens", "num_ctx", "done_reason",
	"started_at", "duration_ms", "prompt_eval_ms",
	"request", "scratchpad", "thinking", "output",
}

// writeSamplesCSV writes every sample of reports, one line each, with its
// judge label when there is one. Reports without Sources add no lines.
func writeSamplesCSV(w io.Writer, reports []*Report) error {
	cw := csv.NewWriter(w)
	cw.Write(samplesHeader)
	for _, r := range reports {
		if r.Sources == nil {
			continue
		}
		for _, s := range r.Sources.Samples {
			var label, fraction, votes string
			if j, ok := r.Sources.Judgments[s.Key()]; ok {
				label = j.Label
				fraction = strconv.FormatFloat(j.Fraction, 'f', 4, 64)
				votes = strconv.Itoa(j.Votes)
			}
			started := ""
			if !s.StartedAt.IsZero() {
				started = s.StartedAt.UTC().Format(time.RFC3339Nano)
			}
			run := s.Run
			if run == "" {
				run = r.Run
			}
			cw.Write([]string{
				run, s.Model, s.Tag, s.Scenario, s.QueryID, s.Category, string(s.Tier), strconv.Itoa(s.Sample),
				string(s.Outcome), label, fraction, votes,
				s.Error, strconv.FormatBool(s.Truncated), strconv.Itoa(s.Turns), strconv.Itoa(s.Attempts),
				strconv.Itoa(s.PromptTokens), strconv.Itoa(s.OutputTokens), strconv.Itoa(s.NumCtx), s.DoneReason,
				started, strconv.FormatInt(s.DurationMS, 10), strconv.FormatInt(s.PromptEvalMS, 10),
				s.Request, s.Scratchpad, s.Thinking, s.Output,
			})
		}
	}
	cw.Flush()
	return cw.Error()
}
