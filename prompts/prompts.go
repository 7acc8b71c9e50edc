// Package prompts holds the scenarios shipped with probe, embedded in the
// binary. Each scenario is a folder: scenario.toml names its system prompt
// and its user-turn template. A folder given with --prompts overrides them.
package prompts

import "embed"

// FS is the shipped scenarios. Only first-level folders are scenarios;
// testdata/ holds scenarios for the tests and is not shipped.
//
//go:embed */scenario.toml */*.md */*.tmpl
var FS embed.FS
