// Package llm is the model-server boundary: the one small Client interface
// the runner and the judge talk to, and its Ollama implementation, the only
// importer of the official Ollama client. Its types are the project's own,
// so another back end can stand behind the same interface.
package llm
