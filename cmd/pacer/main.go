// Command pacer is the graded-activity daemon and its command-line tools.
// main only wires the process to run; everything testable lives behind run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run executes one pacer command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
	return c.run(ctx, args)
}

// usageError is a command line that pacer cannot read; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errReported means the details were already written to stderr.
var errReported = errors.New("reported")

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) { // help asked for, and given
		return 0
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintln(stderr, "pacer: "+err.Error())
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
