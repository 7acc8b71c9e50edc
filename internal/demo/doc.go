// Package demo shows a run as it happens, for an audience: each answer
// streams onto the screen as the model writes it, the tier in a clear
// colour, its private reasoning and then its final answer, with the
// outcome marked; side by side on a wide terminal. It is an observer of
// the run stage (runner.Options.Observe) and only formats: the run writes
// its samples as any run does. All model text goes through screen, so
// nothing a model writes acts on the terminal. It also chooses the model a
// demo runs and words the closing comparison of the two tiers.
package demo
