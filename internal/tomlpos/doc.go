// Package tomlpos finds the line of each key of a TOML text, which the
// decoder (BurntSushi/toml) does not report, so that a mistake found after
// decoding can still be told as file:line. It serves the configuration
// (models.toml) and the scenarios (scenario.toml); it belongs to no stage
// and imports none.
package tomlpos
