package config

import (
	"net"
	"net/url"
	"strings"
)

// Warning is a setting pacer runs with but that a server people reach over
// a network probably should not have. config check prints the warnings and
// serve logs them at start, from this one list, in the same words.
type Warning struct {
	Key     string // the setting it is about, e.g. base_url
	Message string // what follows from it and what to do
}

func (w Warning) String() string { return w.Key + ": " + w.Message }

// Warnings lists what is valid but unsafe or incomplete for a server in use:
// a public URL that is empty or plain http, /metrics open on a listener
// other hosts can reach, and no way to reach therapists. Call it on a
// configuration that validates; serve passes the address it actually
// listens on (a socket from systemd, a port chosen for :0) as Listen.
func (c Config) Warnings() []Warning {
	var ws []Warning
	warn := func(key, msg string) { ws = append(ws, Warning{key, msg}) }

	switch u, err := url.Parse(c.BaseURL); {
	case c.BaseURL == "":
		warn("base_url", "not set, so feed, check-in and sign-in links are built from http://"+c.Listen+
			", which patients' phones cannot reach and which carries their links' tokens unencrypted: "+
			"set base_url (PACER_BASE_URL) to the public https URL of a reverse proxy that terminates TLS, e.g. https://pacer.example.org")
	case err == nil && u.Scheme == "http":
		warn("base_url", c.BaseURL+" is plain http: the feed and check-in links' tokens, therapists' passwords and session cookies "+
			"travel unencrypted (the cookie is not marked Secure): put pacer behind a reverse proxy that terminates TLS and set base_url to its https URL")
	}

	if !loopback(c.Listen) {
		warn("listen", c.Listen+" is reachable from other hosts, and /metrics answers anyone who reaches it: "+
			"listen on 127.0.0.1 behind a reverse proxy, or block /metrics at the proxy or a firewall")
	}

	// Therapist alerts (red flags, flares, the daily low-adherence digest)
	// go to a therapist's alert channels, and the only one pacer can set up
	// is email to their own address, which needs a mail server.
	if c.SMTP.Host == "" {
		warn("smtp.host", "not set, and email is the only way pacer reaches therapists: red-flag and flare alerts and the "+
			"low-adherence digest cannot be delivered: set smtp.host and smtp.from (PACER_SMTP_HOST, PACER_SMTP_FROM)")
	}
	// Without alerts, a patient who answers a warning sign is told that their
	// therapist could not be told and to contact them: with what, says
	// clinic.contact.
	if c.SMTP.Host == "" && strings.TrimSpace(c.Clinic.Contact) == "" {
		warn("clinic.contact", "not set, so a patient whose red-flag answer cannot reach their therapist is asked to contact "+
			"the clinic without a way to: set clinic.contact (PACER_CLINIC_CONTACT) to the clinic's name and phone number")
	}
	return ws
}

// loopback reports whether a listen address accepts connections from this
// host only: localhost or a loopback IP. An empty or wildcard host listens
// on every interface; another name may resolve to anything, so it counts as
// reachable.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
