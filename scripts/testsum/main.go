// Command testsum reads `go test -json` and says what the run did: each
// package's ok or FAIL line, the output of every failed test, then every
// skipped test grouped by the reason it gave (for the tests that need a real
// peer, the variable that enables them), and a closing count.
//
// `go test ./...` shows only a line per package when it passes, so a test
// that skipped because PostgreSQL, a browser or a push service was not set up
// leaves no trace. This shows them:
//
//	go test -json ./... | go run ./scripts/testsum
//
// It exits 1 when a test or a build failed, and, with -no-skips (CI, where
// every peer is set up), when any test skipped.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

func main() {
	noSkips := flag.Bool("no-skips", false, "exit 1 if any test skipped")
	flag.Parse()
	s, err := summarize(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	s.write(os.Stdout)
	switch {
	case s.failed > 0 || s.brokenPackages > 0:
		os.Exit(1)
	case *noSkips && len(s.skipped) > 0:
		fmt.Println("tests were skipped: with every peer set up, nothing may skip")
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail (Go 1.24 and later)
}

type skip struct{ test, reason string }

type summary struct {
	packageLines   []string // "ok  pacer/x 0.1s", "FAIL pacer/y", build errors
	failures       []string // the output of each failed test
	skipped        []skip
	passed, failed int
	brokenPackages int // packages that failed outside a test (build errors, a panic in TestMain)
}

func summarize(r io.Reader) (*summary, error) {
	s := &summary{}
	output := map[string][]string{} // package + test → its output lines
	failedIn := map[string]int{}    // package → failed tests
	broken := map[string]bool{}     // packages that failed outside a test
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// go test prints build errors as plain text before the JSON.
			if text := strings.TrimSpace(string(line)); text != "" {
				s.packageLines = append(s.packageLines, text)
			}
			continue
		}
		key := e.Package + " " + e.Test
		if e.ImportPath != "" {
			key = e.ImportPath + " "
		}
		switch e.Action {
		case "output", "build-output":
			output[key] = append(output[key], e.Output)
			if e.Test == "" && isPackageLine(e.Output) {
				s.packageLines = append(s.packageLines, strings.TrimRight(e.Output, "\n"))
			}
		case "pass":
			if e.Test != "" {
				s.passed++
			}
		case "fail":
			if e.Test != "" {
				s.failed++
				failedIn[e.Package]++
				s.failures = append(s.failures, strings.Join(output[key], ""))
			} else if failedIn[e.Package] == 0 && !broken[e.Package] {
				// Not a test's failure: a panic in TestMain, a timeout, a vet error.
				broken[e.Package] = true
				s.failures = append(s.failures, strings.Join(output[key], ""))
			}
		case "build-fail":
			// ImportPath is "pkg" or "pkg [pkg.test]"; the package's fail event follows.
			pkg, _, _ := strings.Cut(e.ImportPath, " ")
			if !broken[pkg] {
				broken[pkg] = true
				s.failures = append(s.failures, strings.Join(output[key], ""))
			}
		case "skip":
			if e.Test != "" {
				s.skipped = append(s.skipped, skip{e.Package + " " + e.Test, skipReason(output[key])})
			}
		}
	}
	s.brokenPackages = len(broken)
	return s, sc.Err()
}

// isPackageLine keeps go test's own per-package lines, and drops what the
// test binary printed (PASS, coverage, TestMain output).
func isPackageLine(out string) bool {
	for _, p := range []string{"ok  ", "FAIL\t", "?   ", "--- FAIL", "panic:"} {
		if strings.HasPrefix(out, p) {
			return true
		}
	}
	return false
}

// sourceLine is the "file.go:NN: " that testing puts before what a test
// logged: the test's own file, or a helper's that is not marked t.Helper.
var sourceLine = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// skipReason is what the test passed to t.Skip: the indented
// "file.go:NN: message" line (and its continuation lines) before
// "--- SKIP".
func skipReason(lines []string) string {
	var reason []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- "):
		case sourceLine.MatchString(t):
			reason = []string{sourceLine.ReplaceAllString(t, "")}
		case len(reason) > 0:
			reason = append(reason, t)
		}
	}
	if len(reason) == 0 {
		return "(no reason given)"
	}
	return strings.Join(reason, " ")
}

func (s *summary) write(w io.Writer) {
	for _, l := range s.packageLines {
		fmt.Fprintln(w, l)
	}
	for _, f := range s.failures {
		fmt.Fprint(w, "\n", f)
	}
	if len(s.skipped) > 0 {
		byReason := map[string][]string{}
		var reasons []string
		for _, k := range s.skipped {
			if _, seen := byReason[k.reason]; !seen {
				reasons = append(reasons, k.reason)
			}
			byReason[k.reason] = append(byReason[k.reason], k.test)
		}
		slices.Sort(reasons)
		fmt.Fprintf(w, "\nskipped %d tests:\n", len(s.skipped))
		for _, r := range reasons {
			fmt.Fprintf(w, "- %s\n", r)
			for _, t := range byReason[r] {
				fmt.Fprintf(w, "    %s\n", t)
			}
		}
	}
	fmt.Fprintln(w)
	if s.brokenPackages > 0 {
		fmt.Fprintf(w, "failed outside a test (a build error, a panic, a timeout), see above: %d of the packages\n", s.brokenPackages)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, len(s.skipped))
}
