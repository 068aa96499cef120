package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"pacer/internal/clinic"
	"pacer/internal/daemon"
	"pacer/internal/store"
	"pacer/notify"
)

// notify (pacer notify test) sends a test message through a patient's real channels, now,
// outside the outbox, and reports each channel's result.
func (c *cli) notify(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "test" {
		return usagef("notify needs a subcommand: test")
	}
	fs := newFlags(c, "notify test", "pacer notify test --patient ID [--channel TYPE] [--config FILE] [--db DSN] [--base-url URL]")
	flags := storeFlags(fs, "base_url")
	patient := fs.Int64("patient", 0, "the patient's id (required)")
	only := fs.String("channel", "", "send through this channel type only: email, ntfy, pushover, telegram, webhook or webpush")
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("notify test takes no arguments")
	}
	if *patient <= 0 {
		return usagef("notify test needs --patient ID")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	base, err := baseURL(cfg, dialable(cfg.Listen))
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	key, _, err := daemon.SecretKey(ctx, cfg, st)
	if err != nil {
		return err
	}
	keys, err := clinic.NewKeyring(key)
	if err != nil {
		return err
	}
	p, err := st.PatientByID(ctx, *patient)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no patient has the id %d", *patient)
	}
	if err != nil {
		return err
	}
	all, err := st.Channels(ctx, p.ID)
	if err != nil {
		return err
	}
	var chs []store.Channel
	var types []string
	for _, ch := range all {
		types = append(types, ch.Type)
		if ch.Pending {
			fmt.Fprintf(c.stdout, "%s (channel %d): not sent: it waits for its confirmation\n", ch.Type, ch.ID)
			continue
		}
		if *only == "" || ch.Type == *only {
			chs = append(chs, ch)
		}
	}
	if len(chs) == 0 {
		have := "none"
		if len(types) > 0 {
			have = strings.Join(types, ", ")
		}
		return fmt.Errorf("patient %d has no %schannel to test (they have: %s); set one with PUT /api/v1/patients/%d/channels",
			p.ID, strings.TrimPrefix(*only+" ", " "), have, p.ID)
	}
	settings, _, err := daemon.Channels(ctx, cfg, st, base)
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(base.String(), "/") + "/c/" + keys.CheckinToken(p.CheckinNonce)
	msg := notify.Message{Title: "pacer: a test message",
		Body: "This is a test from pacer. Your reminders will arrive here, each with a link like this one to check in: " + url,
		URL:  url, Tag: "test"}
	failed := 0
	for _, ch := range chs {
		n, err := settings.Notifier(ctx, ch)
		if err == nil {
			err = n.Send(ctx, msg)
		}
		switch {
		case err == nil:
			fmt.Fprintf(c.stdout, "%s (channel %d): sent\n", ch.Type, ch.ID)
		case notify.Temporary(err):
			failed++
			fmt.Fprintf(c.stdout, "%s (channel %d): failed, temporarily (reminders would retry): %v\n", ch.Type, ch.ID, err)
		default:
			failed++
			fmt.Fprintf(c.stdout, "%s (channel %d): failed: %v\n", ch.Type, ch.ID, err)
		}
	}
	if failed > 0 {
		return errors.New(strconv.Itoa(failed) + " of " + strconv.Itoa(len(chs)) + " channels failed")
	}
	return nil
}
