package config

import (
	"strings"
	"testing"
	"time"
)

// reminders.lease: a Go duration, 2 minutes by default, from the file or
// PACER_REMINDERS_LEASE, validated to 5s..1h.
func TestReminderLease(t *testing.T) {
	if c := load(t, "", nil); c.Reminders.Lease != 2*time.Minute || c.Source("reminders.lease") != "default" {
		t.Errorf("default lease %s from %s", c.Reminders.Lease, c.Source("reminders.lease"))
	}
	file := write(t, t.TempDir(), "pacer.toml", "[reminders]\nlease = \"45s\"\n")
	c := load(t, file, nil)
	if c.Reminders.Lease != 45*time.Second || c.Source("reminders.lease") != "file "+file {
		t.Errorf("lease from the file: %s from %s", c.Reminders.Lease, c.Source("reminders.lease"))
	}
	c = load(t, file, map[string]string{"PACER_REMINDERS_LEASE": "10s"})
	if c.Reminders.Lease != 10*time.Second || c.Source("reminders.lease") != "PACER_REMINDERS_LEASE" {
		t.Errorf("lease from the environment: %s from %s", c.Reminders.Lease, c.Source("reminders.lease"))
	}
	if err := c.Validate(); err != nil {
		t.Errorf("10s: %v", err)
	}
	var printed strings.Builder
	c.Print(&printed)
	if !strings.Contains(printed.String(), "[reminders]") || !strings.Contains(printed.String(), `lease = "10s"`) {
		t.Errorf("Print:\n%s", printed.String())
	}

	for _, bad := range []string{"1s", "2h"} {
		err := load(t, "", map[string]string{"PACER_REMINDERS_LEASE": bad}).Validate()
		if err == nil || !strings.Contains(err.Error(), "reminders.lease is") || !strings.Contains(err.Error(), "5s to 1h") {
			t.Errorf("lease %s: %v", bad, err)
		}
	}
	if _, err := Load("", env(map[string]string{"PACER_REMINDERS_LEASE": "120"})); err == nil ||
		!strings.Contains(err.Error(), `PACER_REMINDERS_LEASE: reminders.lease must be a duration such as 2m or 30s, not "120"`) {
		t.Errorf("a lease without a unit: %v", err)
	}
	for content, want := range map[string]string{
		"[reminders]\nlease = 120\n":   `reminders.lease must be a duration in quotes, e.g. "2m", not 120`,
		"[reminders]\nlease = 1.5\n":   `reminders.lease must be a duration in quotes, e.g. "2m"`,
		"[reminders]\nlease = \"x\"\n": `reminders.lease must be a duration such as 2m or 30s, not "x"`,
	} {
		file := write(t, t.TempDir(), "pacer.toml", content)
		if _, err := Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", content, err, want)
		}
	}
}
