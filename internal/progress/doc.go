// Package progress shows a run as it goes, beside the run stage: it reads
// the stage's events (runner.Event) and the judge's verdicts, and shows per
// model how many samples are done, answers per minute, tokens per second,
// the share of prompt tokens the server took from its cache, errors and an
// estimate of the time left. On a terminal it draws live bars (through the
// mpb library); elsewhere it writes a plain line per model now and then;
// with --quiet nothing. It only reads: what it shows changes nothing
// recorded.
package progress
