package judge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/probe-eval/probe/internal/llm"
	"github.com/probe-eval/probe/internal/record"
)

// Defaults of the judge's settings. Five votes is what a laptop can afford
// on a few hundred samples with a 7-8B judge (each vote reuses the prompt
// already in the server's cache, so a vote costs mostly its answer); the
// public improved classifier used 20, which [judge] votes = 20 restores.
// At temperature 0 every vote would repeat the first, so voting would
// measure nothing; 0.7 lets the votes differ while keeping a small model's
// answers on topic. Two retries give an answer that did not fit the
// schema, usually cut short, two more chances before the vote is lost.
const (
	DefaultVotes       = 5
	DefaultTemperature = 0.7
	DefaultRetries     = 2
	// DefaultNumPredict bounds one answer: four short quotes and a summary
	// fit in well under 1024 tokens. A judge that thinks spends tokens on
	// its thinking first, so it gets DefaultNumPredictThinking.
	DefaultNumPredict         = 1024
	DefaultNumPredictThinking = 4096
	// DefaultTimeout bounds one judge request.
	DefaultTimeout = 10 * time.Minute
	// minNumCtx is the least context the probe sizes for the judge.
	minNumCtx = 4096
	// keepInvalid is how much of an answer that did not fit the schema is
	// kept in the record.
	keepInvalid = 2000
)

// Judge asks questions of a judge model. Fill the exported fields, then
// call Prepare once before Ask.
type Judge struct {
	Client llm.Client
	// Model is the judge's Ollama model name.
	Model string
	// Votes is how many answers are drawn per sample and question.
	Votes       int
	Temperature float64
	// NumCtx is the context window of every judge request; 0 lets Prepare
	// size it from the longest prompt. An OpenAI-compatible server sets
	// its own context, so there it stays 0 and is not sent.
	NumCtx int
	// NumPredict bounds one answer, thinking included; 0 takes the default.
	NumPredict int
	// Think lets a judge that can think do so before it answers. Off by
	// default: a vote is a short structured answer, and thinking multiplies
	// its cost by the number of votes.
	Think bool
	// Retries is how many more times a vote is asked when its answer does
	// not fit the schema or its request failed for a transient reason.
	Retries    int
	Timeout    time.Duration
	KeepAlive  time.Duration
	Thresholds Thresholds

	// Now and Backoff are injected so tests are deterministic and fast.
	Now     func() time.Time
	Backoff func(attempt int) time.Duration

	// Digest is the judge model's digest, set by Prepare.
	Digest string
	// Info is what the server said of the judge model, set by Prepare:
	// its back end, host and id, for the record.
	Info *llm.ModelInfo
	// think is what each request sends: nil for a judge that cannot think
	// (the server refuses a think setting then), else Think.
	think any
	// fit is what Prepare saw of an OpenAI-compatible server's context:
	// every vote's prompt is checked against it, since such a server may
	// cut a prompt silently. Zero on Ollama, which refuses instead.
	fit llm.Fit
}

// Prepare checks the judge's settings, fills defaults, finds the model on
// the server and, when NumCtx is 0, sizes it for a prompt of longest bytes.
// On an OpenAI-compatible server it checks that a prompt of longest bytes
// is kept whole (llm.CheckTruncation) and, when the server does not report
// its context, measures the context it cuts to within as much again, so
// that a vote whose prompt the server cut is told from a verdict. A
// missing model is llm.ErrModelNotFound, a server that is down
// llm.ErrUnreachable.
func (j *Judge) Prepare(ctx context.Context, longest int) error {
	switch {
	case j.Model == "":
		return errors.New("no judge model: set [judge] model in models.toml or pass --judge")
	case j.Votes < 0:
		return fmt.Errorf("judge votes must be at least 1, not %d", j.Votes)
	case j.Retries < 0:
		return fmt.Errorf("judge retries must not be negative, not %d", j.Retries)
	case j.Temperature < 0:
		return fmt.Errorf("judge temperature must not be negative, not %v", j.Temperature)
	case j.NumPredict < 0:
		return fmt.Errorf("judge num_predict must not be negative, not %d", j.NumPredict)
	}
	if j.Votes == 0 {
		j.Votes = DefaultVotes
	}
	if j.Timeout == 0 {
		j.Timeout = DefaultTimeout
	}
	if j.Thresholds == (Thresholds{}) {
		j.Thresholds = DefaultThresholds()
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	if j.Backoff == nil {
		j.Backoff = llm.DefaultBackoff
	}
	info, err := j.Client.Show(ctx, j.Model)
	if err != nil {
		return err
	}
	j.Digest, j.Info = info.Digest, info
	if info.Backend == llm.BackendOpenAI && j.NumCtx != 0 {
		return fmt.Errorf("judge %s: %w", j.Model, llm.CheckOptions(info.Backend, map[string]any{"num_ctx": j.NumCtx}))
	}
	j.think, j.fit = nil, llm.Fit{}
	if info.Thinking {
		j.think = j.Think
	} else {
		j.Think = false
	}
	if j.NumPredict == 0 {
		j.NumPredict = DefaultNumPredict
		if j.Think {
			j.NumPredict = DefaultNumPredictThinking
		}
	}
	if j.NumCtx == 0 && info.Backend != llm.BackendOpenAI {
		j.NumCtx = llm.SizeContext(longest, j.NumPredict, minNumCtx, info.ContextLength)
	}
	if info.Backend == llm.BackendOpenAI {
		// Such a server sets its context where it starts, and some cut a
		// longer prompt silently: a verdict on half a transcript would
		// count as a verdict.
		req, err := j.probeRequest(longest)
		if err != nil {
			return err
		}
		room := 0
		if info.ContextLength == 0 {
			// As much again: a transcript can take more tokens a byte
			// than the probe's plain words, and judging as the answers
			// are written only estimates the longest.
			room = longest / llm.CharsPerToken
		}
		if j.fit, err = llm.CheckTruncation(ctx, j.Client, req, room); err != nil {
			return fmt.Errorf("judge %s: %w", j.Model, err)
		}
		if j.fit.Window == 0 && !j.fit.Refuses && info.ContextLength > 0 {
			j.fit.Window = info.ContextLength
		}
	}
	return nil
}

// probeRequest is an af question about a made-up transcript whose prompt is
// about longest bytes: what CheckTruncation sends for the judge.
func (j *Judge) probeRequest(longest int) (*llm.ChatRequest, error) {
	q, err := LoadQuestion(record.KindAF)
	if err != nil {
		return nil, err
	}
	t := Transcript{Request: "A request.", Output: "An answer."}
	if pad := longest - PromptBytes(q, t); pad > 0 {
		const line = "The model reasons about the request at length here. "
		t.Scratchpad = strings.Repeat(line, pad/len(line)+1)
	}
	msgs, err := q.Messages(t)
	if err != nil {
		return nil, err
	}
	return &llm.ChatRequest{Model: j.Model, Messages: msgs, Options: map[string]any{"num_predict": j.NumPredict, "temperature": j.Temperature}}, nil
}

// FollowLongest bounds the judge's longest prompt before the answers are
// written, to size its context when it judges them as they come: the
// longest request, and reasoning and output of answerTokens tokens at
// llm.CharsPerToken characters each (SizeContext counts them back the same
// way).
func FollowLongest(request string, answerTokens int) int {
	n := 0
	for _, k := range record.Kinds {
		q, err := LoadQuestion(k)
		if err != nil {
			continue
		}
		n = max(n, PromptBytes(q, Transcript{Request: request, Scratchpad: strings.Repeat("x", answerTokens*llm.CharsPerToken)}))
	}
	return n
}

// PromptBytes is the length of the prompt that asks q about t.
func PromptBytes(q *Question, t Transcript) int {
	msgs, err := q.Messages(t)
	if err != nil {
		return 0
	}
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	return n
}

// fatal reports whether err stops the whole stage rather than one vote:
// the run was cancelled, the server is gone, or the judge model is.
func fatal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, llm.ErrUnreachable) || errors.Is(err, llm.ErrModelNotFound)
}

// Ask puts q about t to the judge Votes times and returns the verdict,
// without the sample's identity, which the caller fills in. A vote that
// fails is recorded in the verdict with its error; Ask returns an error
// only when the stage must stop: the context ended (the verdict is then
// worthless), or the server or the judge model is gone, in which case the
// verdict so far comes back too, unclassified and marked transient, so the
// caller can record it.
func (j *Judge) Ask(ctx context.Context, q *Question, t Transcript) (record.Judgment, error) {
	start := j.Now()
	jd := record.Judgment{
		V: record.JudgmentVersion, Kind: q.Kind, Judge: j.Model, JudgeDigest: j.Digest,
		PromptSHA256: q.SHA256, VotesAsked: j.Votes, Temperature: j.Temperature, NumCtx: j.NumCtx,
		NumPredict: j.NumPredict, Think: j.Think, StartedAt: start.UTC(), Votes: []record.Vote{},
	}
	finish := func() {
		tally(&jd, q, j.Thresholds)
		jd.DurationMS = j.Now().Sub(start).Milliseconds()
		if jd.Label == record.LabelUnclassified && jd.Error == "" {
			jd.Error = fmt.Sprintf("%d of %d votes valid, %d needed", jd.Valid, jd.VotesAsked, MinValid(jd.VotesAsked))
			if last := lastVoteError(jd.Votes); last != "" {
				jd.Error += "; last error: " + last
			}
		}
	}
	msgs, err := q.Messages(t)
	if err != nil {
		return jd, err
	}
	shown := t.render(q.Kind)
	for v := range j.Votes {
		vote, lost, stop, err := j.vote(ctx, q, msgs, shown, v)
		if err != nil {
			if ctx.Err() != nil {
				return jd, context.Cause(ctx)
			}
			jd.Transient = true
			jd.Votes = append(jd.Votes, vote)
			finish()
			jd.Label = record.LabelUnclassified
			jd.Error = "judge stopped: " + err.Error()
			return jd, err
		}
		jd.Votes = append(jd.Votes, vote)
		jd.Transient = jd.Transient || lost
		if stop {
			// The server rejected the request itself (it does not fit
			// num_ctx, say); every further vote would fail the same way.
			for range j.Votes - v - 1 {
				jd.Votes = append(jd.Votes, record.Vote{Error: "not asked: " + vote.Error})
			}
			break
		}
	}
	finish()
	return jd, nil
}

func lastVoteError(vs []record.Vote) string {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Error != "" {
			return vs[i].Error
		}
	}
	return ""
}

// seed gives every vote of a sample its own first seed, and the retries
// of a vote the seeds after it (llm.Call.Reseed), so the votes differ, a
// retry does not repeat the answer it retries, and the whole verdict is
// reproducible where the server is deterministic.
func (j *Judge) seed(vote int) int {
	return 1 + vote*(j.Retries+1)
}

// vote asks for one valid answer, up to 1+Retries times. lost is set when
// the vote failed because of the server rather than the judge's answers,
// stop when the request itself was refused; err only for fatal errors.
func (j *Judge) vote(ctx context.Context, q *Question, msgs []llm.Message, shown string, v int) (vote record.Vote, lost, stop bool, err error) {
	start := j.Now()
	defer func() { vote.DurationMS = j.Now().Sub(start).Milliseconds() }()
	var (
		answer Answer
		perr   error
		cutErr error // the server may have cut the prompt
	)
	opts := map[string]any{
		"temperature": j.Temperature,
		"num_predict": j.NumPredict,
		"seed":        j.seed(v),
	}
	if j.NumCtx > 0 {
		opts["num_ctx"] = j.NumCtx
	}
	policy := llm.Policy{Retries: j.Retries, Timeout: j.Timeout, RetryTimeouts: true, Backoff: j.Backoff}
	res, cerr := policy.Chat(ctx, j.Client, llm.Call{
		Request: &llm.ChatRequest{
			Model:     j.Model,
			Messages:  msgs,
			Options:   opts,
			Think:     j.think,
			KeepAlive: j.KeepAlive,
			Format:    q.Format,
		},
		Check: func(r *llm.ChatResponse) error {
			if cutErr = j.fit.Check(r.PromptTokens); cutErr != nil {
				return nil // taken, so as not to ask again for the same cut
			}
			answer, perr = q.Parse(r.Content, shown)
			return perr
		},
		Reseed: true,
	})
	vote.Attempts = res.Attempts
	switch {
	case cerr == nil && errors.Is(cutErr, llm.ErrTruncated):
		// A verdict on part of a transcript would count as a verdict on
		// all of it; every vote of this prompt would be cut the same way.
		vote.Error = fmt.Sprintf("the judge prompt does not fit the judge server's context: %v; restart the server with a larger context (%s), then run probe classify", cutErr, raiseHow)
		return vote, true, true, nil
	case cerr == nil && cutErr != nil:
		vote.Error = fmt.Sprintf("the judge prompt may not fit the judge server's context: %v; probe classify checks its longest prompt before it asks, and asks this one again", cutErr)
		return vote, true, true, nil
	case cerr == nil:
		return record.Vote{Positive: answer.Positive, Criteria: answer.Criteria, Summary: answer.Summary, Attempts: res.Attempts}, false, false, nil
	case errors.Is(cerr, llm.ErrInvalidAnswer):
		vote.Error = "answer does not fit the schema: " + perr.Error()
		if res.Response.DoneReason == "length" {
			vote.Error += fmt.Sprintf(" (cut at num_predict %d)", j.NumPredict)
		}
		vote.Invalid = cut(res.Response.Content, keepInvalid)
		return vote, false, false, nil
	case errors.Is(cerr, llm.ErrTimeout):
		vote.Error = fmt.Sprintf("no complete answer within %s", j.Timeout)
		return vote, true, false, nil
	case fatal(ctx, cerr):
		vote.Error = cerr.Error()
		return vote, true, false, cerr
	case errors.Is(cerr, llm.ErrContextExceeded) && j.NumCtx == 0:
		vote.Error = fmt.Sprintf("the judge prompt does not fit the server's context: %v", cerr)
		return vote, true, true, nil
	case errors.Is(cerr, llm.ErrContextExceeded):
		vote.Error = fmt.Sprintf("the judge prompt does not fit num_ctx %d; set a larger [judge] num_ctx in models.toml", j.NumCtx)
		return vote, true, true, nil
	case !llm.Retryable(cerr):
		vote.Error = cerr.Error()
		return vote, true, true, nil
	}
	vote.Error = cerr.Error()
	return vote, true, false, nil
}

// raiseHow says how the servers an OpenAI-compatible judge may run on set
// their context.
const raiseHow = "Ollama: OLLAMA_CONTEXT_LENGTH; vLLM: --max-model-len; SGLang: --context-length; llama.cpp: --ctx-size"

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// describe words a verdict for a progress line.
func describe(j record.Judgment) string {
	if j.Label == record.LabelUnclassified {
		return "unclassified: " + strings.SplitN(j.Error, "\n", 2)[0]
	}
	return fmt.Sprintf("%s %.2f (%d of %d valid votes yes)", j.Label, j.Fraction, j.Positive, j.Valid)
}
