// Package report is the stats and report stages: Build turns a run's
// samples into one neutral table of counts, rates, intervals and gaps,
// computed once; the renderers (table, JSON, Markdown, CSV) only format
// that table.
package report
