// Package dataset loads the harmful requests an experiment asks: the
// built-in set written for this project, the milder classroom set of probe
// demo, or a user's file (AdvBench-style CSV with a goal column, or JSONL
// with id and request). It feeds the plan stage.
package dataset
