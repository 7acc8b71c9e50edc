// Package llm is the model-server boundary, below every stage that calls a
// model (run, judge, check): the one small Client interface they talk to,
// its two back ends, and the one way to call it.
//
//   - Ollama speaks Ollama's native API through the official Ollama client
//     (this is its only importer); OpenAI speaks the OpenAI-compatible
//     chat-completions API of vLLM, SGLang, llama.cpp, LM Studio, gateways
//     and Ollama's /v1 through the official OpenAI client. Both map their
//     failures to the same kinds (ErrUnreachable, ErrModelNotFound,
//     ErrContextExceeded, ErrBadRequest, ErrServer, ErrIncomplete).
//   - Policy.Chat is the retry loop: a deadline per attempt, backoff,
//     attempts counted, an answer check that asks again.
//   - Hosts spreads one model's requests over several servers, keeps each
//     server on one prompt prefix, fails over and drops a dead server;
//     Each is the bounded worker pool that feeds it and writes results from
//     one goroutine.
//   - SizeContext sizes num_ctx, SameModel compares model names (spelled by
//     record.CanonicalModel), CheckOptions and CheckThink say what a back
//     end cannot carry, and CheckTruncation finds a server that cuts long
//     prompts silently.
//
// Its types are the project's own, never a client library's, so upgrading a
// client never changes what the probe records.
package llm
