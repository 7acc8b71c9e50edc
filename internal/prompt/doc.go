// Package prompt loads scenarios: the system prompt, the user-turn template
// and the turns after them of one experimental setting, with its variants
// (named changes, for ablations), from data files rather than code, so that
// new settings and ablations are new folders and new TOML tables. Every
// prompt file is a text/template over the scenario's variables. A
// Definition is a scenario as declared; Bind renders the base or a variant
// with its variables into a Scenario, which is what the plan stage sends.
// prompts/README.md specifies the format.
package prompt
