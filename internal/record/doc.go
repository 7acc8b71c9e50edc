// Package record defines the files a run leaves under results/<run>/ and the
// one record type, Sample, that flows through plan → run → judge → stats →
// report. Every stage reads what the one before it wrote, so any stage can be
// rerun alone.
//
// samples.jsonl is an append-only log: one JSON object a line, each synced to
// disk before the sample counts as done. A later line for the same key
// supersedes an earlier one; only error records are ever superseded, when a
// resumed run retries them. A torn last line (the process killed while
// writing) is detected and ignored, and cut off before the next append.
// judgments.jsonl, the judge stage's log, follows the same rules with its
// own record type, Judgment. run.json describes the run as a whole.
package record
