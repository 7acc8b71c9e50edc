// Package prompt loads scenarios: the system prompt and the user-turn
// template of one experimental setting, from data files rather than code,
// so that new settings and ablations are new folders. It feeds the plan
// stage.
package prompt
