package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	mail := map[string]string{"PACER_SMTP_HOST": "mail.example.org", "PACER_SMTP_FROM": "pacer@example.org"}
	with := func(kv ...string) map[string]string {
		e := map[string]string{}
		for k, v := range mail {
			e[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	for _, x := range []struct {
		name string
		env  map[string]string
		want []string // the keys warned about, in order
	}{
		{"a public server done right", with("PACER_BASE_URL", "https://pacer.example.org"), nil},
		{"the defaults", nil, []string{"base_url", "smtp.host", "clinic.contact"}},
		{"no base URL", with(), []string{"base_url"}},
		{"http base URL", with("PACER_BASE_URL", "http://pacer.example.org"), []string{"base_url"}},
		{"all interfaces", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", ":8080"), []string{"listen"}},
		{"IPv4 wildcard", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "0.0.0.0:8080"), []string{"listen"}},
		{"IPv6 wildcard", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "[::]:8080"), []string{"listen"}},
		{"a LAN address", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "192.0.2.10:8080"), []string{"listen"}},
		{"a host name", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "pacer.internal:8080"), []string{"listen"}},
		{"IPv6 loopback", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "[::1]:8080"), nil},
		{"localhost", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "localhost:8080"), nil},
		{"127.0.0.2", with("PACER_BASE_URL", "https://p.example", "PACER_LISTEN", "127.0.0.2:8080"), nil},
		{"no mail server", map[string]string{"PACER_BASE_URL": "https://p.example"}, []string{"smtp.host", "clinic.contact"}},
		{"no mail server, a contact", map[string]string{"PACER_BASE_URL": "https://p.example", "PACER_CLINIC_CONTACT": "Physio am Park, 030 1234567"},
			[]string{"smtp.host"}},
		{"everything", map[string]string{"PACER_BASE_URL": "http://p.example", "PACER_LISTEN": ":80"}, []string{"base_url", "listen", "smtp.host", "clinic.contact"}},
	} {
		t.Run(x.name, func(t *testing.T) {
			c := load(t, "", x.env)
			if err := c.Validate(); err != nil {
				t.Fatalf("the configuration does not validate: %v", err)
			}
			var got []string
			for _, w := range c.Warnings() {
				got = append(got, w.Key)
				if w.Message == "" || !strings.Contains(w.String(), w.Key+": ") {
					t.Errorf("warning %+v", w)
				}
			}
			if strings.Join(got, " ") != strings.Join(x.want, " ") {
				t.Errorf("warnings about %v, want %v: %v", got, x.want, c.Warnings())
			}
		})
	}
	// Each warning says what to set.
	for _, w := range load(t, "", map[string]string{"PACER_BASE_URL": "http://p.example", "PACER_LISTEN": ":80"}).Warnings() {
		want := map[string]string{"base_url": "https URL", "listen": "block /metrics", "smtp.host": "set smtp.host and smtp.from",
			"clinic.contact": "set clinic.contact"}[w.Key]
		if !strings.Contains(w.Message, want) {
			t.Errorf("%s does not say %q", w, want)
		}
	}
}

// Every unknown key is reported at once, each with its likely meaning, and the
// list of keys once.
func TestEveryUnknownKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pacer.toml")
	os.WriteFile(file, []byte("lisen = \"x\"\ncolour = \"blue\"\nhost = \"mail.example.org\"\ntoken = \"t\"\n[smtp]\nhots = \"x\"\nport = \"587\"\n[telegram]\ntokn = \"x\"\n"), 0o600)
	_, err := Load(file, env(nil))
	if err == nil {
		t.Fatal("a file with unknown keys loaded")
	}
	got := err.Error()
	for _, want := range []string{
		file + ": unknown key colour\n",
		file + ": unknown key host (did you mean smtp.host?)",
		file + ": unknown key lisen (did you mean listen?)",
		file + ": unknown key smtp.hots (did you mean smtp.host?)",
		file + ": unknown key telegram.tokn (did you mean telegram.token?)",
		file + ": unknown key token\n", // pushover's or telegram's: no guess
		file + `: smtp.port must be a number without quotes, not "587"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "the keys are"); n != 1 {
		t.Errorf("the keys are listed %d times, want once:\n%s", n, got)
	}
}
