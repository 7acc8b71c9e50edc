// Package report is the last stage of probe's pipeline:
// plan → run → judge → stats → report.
//
// It formats the statistics stage's one table (stats.Table) and decides
// nothing: one renderer per format (a text table, JSON, Markdown, CSV, the
// self-contained HTML page, a CSV of every sample), whatever the number of
// runs, scenarios or variants, and the paper's figure, laid out once and
// drawn as SVG (inline in the HTML page too) or PNG.
package report
