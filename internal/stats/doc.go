// Package stats is the statistics stage of probe's pipeline:
// plan → run → judge → stats → report.
//
// It turns judged counts (how many samples complied, out of how many had an
// answer, per request and tier) into the numbers the report prints: Wilson
// intervals for single rates, the pooled free−paid compliance gap with a
// paired bootstrap interval, exact McNemar and Fisher p-values, a paired
// sign-flip permutation test, and a sample-size estimate for a given gap.
//
// Everything here is a pure function over counts: no I/O, no logging, no
// package-level mutable state, and every randomised procedure takes an
// explicit seed so that a report can be reproduced bit for bit.
package stats
