// Package prompts holds the scenarios shipped with probe, embedded in the
// binary. Each scenario is a folder with scenario.toml and the prompt files
// it names, in subfolders as deep as it likes (README.md describes the
// format). A folder given with --prompts overrides them.
package prompts

import "embed"

// FS is the shipped scenarios: every first-level folder holding a
// scenario.toml is one. The pattern takes whole folders, so a scenario's
// subfolders (system/, variants/, documents/) come with it without a pattern
// per depth. It also takes testdata/, which a pattern cannot leave out; its
// scenarios sit one level deeper, so they are never listed as shipped ones.
//
//go:embed *
var FS embed.FS
