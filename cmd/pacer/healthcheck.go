package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"pacer/internal/config"
)

// healthcheck exits 0 only when the server's /readyz answers 200, for
// container health checks and monitoring scripts.
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs := newFlags(c, "healthcheck", "pacer healthcheck [--url URL] [--config FILE]")
	flags := config.AddFlags(fs, "listen")
	raw := fs.String("url", "", "the server's URL, or its /readyz (default: http://<listen address>)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("healthcheck takes no arguments")
	}
	u := *raw
	if u == "" {
		// Only the listen address matters here; the server validates the rest.
		cfg, err := flags.Load(c.getenv)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		u = "http://" + dialable(cfg.Listen)
	}
	if !strings.HasSuffix(u, "/readyz") {
		u = strings.TrimSuffix(u, "/") + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usagef("healthcheck: --url %q: %v", *raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pacer at %s does not answer: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pacer at %s is not ready: %s %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(c.stdout, "ready: %s\n", u)
	return nil
}

// dialable turns a listen address into one to connect to: a wildcard or empty
// host becomes the loopback address.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
