// Package stats is the statistics stage of probe's pipeline:
// plan → run → judge → stats → report.
//
// Build reads the runs' samples and the chosen judge's verdicts and makes
// one neutral Table: a group for each run, model, scenario and variant,
// with the counts per tier, each rate with its interval, the compliance gap
// over the requests answered in both tiers with its paired bootstrap
// interval and paired test, Fisher's exact p, the requests a gap of the
// observed size would need, the ablations (each variant's gap against its
// base's on the same requests), and notes that say in words what the
// numbers can and cannot support. The report formats that table and
// decides nothing.
//
// The formulas are pure functions over counts: Wilson intervals, their
// request-level form for several samples per request (ClusterRate), the
// pooled gap and its bootstrap, exact McNemar and Fisher p-values, a paired
// permutation test, and sample-size estimates. Nothing here does I/O or
// keeps package-level mutable state, and every randomised procedure takes
// an explicit seed so that a report can be reproduced bit for bit.
package stats
