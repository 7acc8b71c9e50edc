// Package report is the stats and report stages: Build turns a run's
// samples into one neutral table of counts, rates, intervals and gaps,
// computed once; the renderers (table, JSON, Markdown, CSV, and the
// self-contained HTML page) only format that table. Compare lays several
// runs' tables side by side, and the paper's figure is laid out once and
// drawn as SVG (inline in the HTML page too) or PNG.
package report
