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
		if len(args) > 1 && args[0] == "help" { // pacer help COMMAND [SUBCOMMAND]
			return c.run(ctx, append(args[1:], "--help"))
		}
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

// group runs one of a command's subcommands; "help", -h and --help print
// the subcommands ("help SUB" and "SUB --help" the subcommand's options).
func (c *cli) group(ctx context.Context, name string, subs []command, args []string) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	list := strings.Join(names, ", ")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: pacer %s SUBCOMMAND [ARGS]\n\nSubcommands:\n", name)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun 'pacer %s SUBCOMMAND --help' for a subcommand's options.\n", name)
	}
	if len(args) == 0 {
		usage(c.stderr)
		return usagef("%s needs a subcommand: %s", name, list)
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return c.group(ctx, name, subs, []string{args[1], "--help"})
		}
		usage(c.stdout)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(c, ctx, args[1:])
		}
	}
	usage(c.stderr)
	return usagef("unknown %s subcommand %q: use %s", name, args[0], list)
}

// parse parses flags that may come before, between or after positional
// arguments (pacer program plan walking --start ...), and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if h := fs.Lookup("help"); h != nil && h.Value.String() == "true" {
			fs.Usage()
			return nil, flag.ErrHelp
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

// newFlags is a command's flag set, with -h and -help: its usage goes to
// stdout when asked for, to stderr after a mistake.
func newFlags(c *cli, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	help := fs.Bool("help", false, "show this help")
	fs.BoolVar(help, "h", false, "show this help")
	fs.Usage = func() {
		w := c.stderr
		if *help {
			w = c.stdout
		}
		fmt.Fprintf(w, "Usage: %s\n", usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(c.stderr)
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
