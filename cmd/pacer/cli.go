package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// cli carries what every command needs; nothing here is global.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	now            func() time.Time
}

type command struct {
	name, summary string
	run           func(c *cli, ctx context.Context, args []string) error
}

// commands is pacer's command table; later capabilities (config, notify,
// healthcheck) add their entries here.
func commands() []command {
	return []command{
		{"serve", "run the daemon: API, check-ins and calendar feeds", (*cli).serve},
		{"program", "list, show, validate and plan graded-activity programs", (*cli).program},
		{"user", "add, disable or enable a therapist, or print a new password-setup link", (*cli).user},
		{"token", "create, list or revoke therapists' API tokens", (*cli).token},
		{"notify", "send a test message through a patient's channels", (*cli).notify},
		{"migrate", "bring the store's schema up to date", (*cli).migrate},
		{"config", "check the configuration and print it, secrets redacted", (*cli).config},
		{"healthcheck", "exit 0 when the server's /readyz answers 200", (*cli).healthcheck},
		{"backup", "copy the SQLite store to a file while pacer runs", (*cli).backup},
		{"restore", "replace the SQLite store with a backup (pacer stopped)", (*cli).restore},
		{"version", "print the version, the git commit and the Go release it was built from", (*cli).versionCmd},
	}
}

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.usage(c.stdout)
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		return c.versionCmd(ctx, args[1:])
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(c, ctx, args[1:])
		}
	}
	c.usage(c.stderr)
	return usagef("unknown command %q", args[0])
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "pacer: graded activity for chronic back pain, as a plan, a calendar feed and reminders.")
	fmt.Fprintln(w, "\nUsage: pacer COMMAND [ARGS]\n\nCommands:")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w, "\nRun 'pacer COMMAND --help' for a command's options.")
}

// parse parses flags that may come before, between or after positional
// arguments (pacer program plan walking --start ...), and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func newFlags(c *cli, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// doses is a repeatable ACTIVITY=DOSE flag.
type doses map[string]int

func (d doses) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, d[k])
	}
	return strings.Join(parts, ",")
}

func (d doses) Set(s string) error {
	id, v, ok := strings.Cut(s, "=")
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); !ok || id == "" || err != nil || fmt.Sprint(n) != v {
		return fmt.Errorf("%q is not ACTIVITY=DOSE, e.g. walk=10", s)
	}
	if _, dup := d[id]; dup {
		return fmt.Errorf("%s is given twice", id)
	}
	d[id] = n
	return nil
}
