// Command probe replicates the free-tier/paid-tier experiment of
// "Alignment faking in large language models" on models served by Ollama.
// See probe --help and the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/probe-eval/probe/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin})
	stop()
	os.Exit(code)
}
