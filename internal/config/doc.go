// Package config reads models.toml: the Ollama host, the models under test
// with their options, the judge, and the run's defaults. It is the input of
// the plan stage. Mistakes are reported as file:line: message.
package config
