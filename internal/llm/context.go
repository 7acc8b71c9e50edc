package llm

// CharsPerToken is a deliberately low estimate of characters per token (real
// tokenizers average about 4 on English text), so that a window sized from
// it errs on the large side.
const CharsPerToken = 3

// DefaultAnswerTokens is the room SizeContext users leave for the answer
// when nothing bounds its length (no num_predict).
const DefaultAnswerTokens = 4096

// SizeContext picks the num_ctx for a prompt of promptBytes bytes and an
// answer of answerTokens tokens: the prompt's estimated tokens plus the
// answer, rounded up to a multiple of 1024, at least floor, and no more than
// trained, the model's trained context, when that is known (above 0). The
// cap wins over the floor: a window larger than the model was trained for
// would only be refused or degrade.
func SizeContext(promptBytes, answerTokens, floor, trained int) int {
	n := promptBytes/CharsPerToken + max(answerTokens, 0)
	n = max(floor, (n+1023)/1024*1024)
	if trained > 0 {
		n = min(n, trained)
	}
	return n
}
