// Command testsummary reads `go test -json` on standard input and prints a
// readable account: each package's result, the output of every failed test,
// every skipped test with its reason, and one closing line
// "N passed, N failed, N skipped". Tests named TestReal* run against the
// real Ollama server; they are listed by name so a log shows they ran. It exits non-zero when a test or a
// package failed, or, with -no-skip, when any test was skipped.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	noSkip := flag.String("no-skip", "false", "treat a skipped test as a failure (true under CI)")
	flag.Parse()
	strict := *noSkip == "true" || *noSkip == "1"

	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var failedTests, skippedTests, realTests []string
	pkgResult := map[string]string{}
	pkgElapsed := map[string]float64{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Build errors and the like come as plain text.
			fmt.Println(string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				pkgResult[e.Package] = e.Action
				pkgElapsed[e.Package] = e.Elapsed
				continue
			}
			if strings.HasPrefix(e.Test, "TestReal") && !strings.Contains(e.Test, "/") {
				realTests = append(realTests, fmt.Sprintf("%-4s %s %s (%.1fs)", e.Action, e.Package, e.Test, e.Elapsed))
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				failedTests = append(failedTests, key)
			case "skip":
				skipped++
				skippedTests = append(skippedTests, key)
			}
		}
	}
	for _, k := range failedTests {
		fmt.Printf("\n--- FAIL %s\n%s", k, outputs[k])
	}
	for _, k := range skippedTests {
		reason := strings.TrimSpace(lastLines(outputs[k], 2))
		fmt.Printf("--- SKIP %s: %s\n", k, reason)
	}
	var pkgs []string
	for p := range pkgResult {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	fmt.Println()
	pkgFailed := false
	for _, p := range pkgs {
		res := pkgResult[p]
		if res == "fail" {
			pkgFailed = true
			if b := outputs[p+" "]; b != nil {
				fmt.Print(b.String())
			}
		}
		fmt.Printf("%-4s %-60s %6.1fs\n", res, p, pkgElapsed[p])
	}
	sort.Strings(realTests)
	fmt.Printf("\nintegration tests against the real Ollama server (%d):\n", len(realTests))
	for _, r := range realTests {
		fmt.Println("  " + r)
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case failed > 0 || pkgFailed:
		os.Exit(1)
	case strict && skipped > 0:
		fmt.Println("skipped tests are failures here (CI): every test must run")
		os.Exit(1)
	case passed == 0:
		fmt.Println("no test ran")
		os.Exit(1)
	case strict && len(realTests) == 0:
		fmt.Println("no integration test ran against the real Ollama server")
		os.Exit(1)
	}
}

func lastLines(b *strings.Builder, n int) string {
	if b == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
