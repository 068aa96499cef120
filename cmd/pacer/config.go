package main

import (
	"context"
	"fmt"
)

// config handles pacer config check: the effective configuration with secrets
// redacted, then every warning (the same ones serve logs at start), then
// every problem that stops pacer from starting.
func (c *cli) config(ctx context.Context, args []string) error {
	return c.group(ctx, "config", []command{
		{"check", "print the configuration, secrets redacted, with its warnings and problems", (*cli).configCheck},
	}, args)
}

func (c *cli) configCheck(ctx context.Context, args []string) error {
	fs := newFlags(c, "config check", "pacer config check [--config FILE] [--db DSN] [--listen ADDR] [--base-url URL]")
	flags := storeFlags(fs, "listen", "base_url")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("config check takes no arguments")
	}
	cfg, err := flags.Load(c.getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := cfg.Print(c.stdout); err != nil {
		return err
	}
	warnings := cfg.Warnings()
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch len(warnings) {
	case 0:
		fmt.Fprintln(c.stderr, "configuration OK")
	case 1:
		fmt.Fprintln(c.stderr, "configuration OK, with the warning above")
	default:
		fmt.Fprintf(c.stderr, "configuration OK, with the %d warnings above\n", len(warnings))
	}
	return nil
}
