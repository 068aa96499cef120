package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"

	"pacer/internal/i18n"
	"pacer/notify"
	"pacer/programs"
)

// Reminder kinds.
const (
	KindSession         = "session"
	KindNudge           = "nudge"
	KindWeekly          = "weekly"
	KindFlare           = "flare"
	KindRedFlag         = "red_flag"
	KindAlertRedFlag    = "alert_red_flag"
	KindAlertFlare      = "alert_flare"
	KindAlertPersistent = "alert_persistent"
	KindDigest          = "digest"
	KindTest            = "test"
	KindConfirm         = "confirm" // the link that confirms a channel a patient added
)

// phrasings is how many ways each catalogue words a session reminder, a
// nudge, a flare plan's title and a weekly summary's title ("session.0.title"
// to "session.2.title"). They are rotated by reminder so that the same words
// do not lose their effect.
const phrasings = 3

// pick chooses a phrasing from the reminder's dedupe key, so that a retry of
// the same reminder keeps its words and neighbouring ones differ.
func pick(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Phrasing is the id of the phrasing key picks for a message family and part.
func Phrasing(family, key, part string) string {
	return fmt.Sprintf("%s.%d.%s", family, pick(key, phrasings), part)
}

// amount renders a dose with its sets, e.g. "14 minutes", "2 × 8 reps".
func amount(c *i18n.Catalog, unit programs.Unit, dose, sets int) string {
	a := c.Amount(unit, dose)
	if sets > 1 {
		a = c.Text("amount.sets", i18n.Args{"sets": sets, "amount": a})
	}
	return a
}

// SessionMessage words a session reminder or nudge in c's language. It is
// discreet: the activity's own name (Catalog.ActivityName) and the dose,
// never the program or a diagnosis.
func SessionMessage(c *i18n.Catalog, kind, key string, activity i18n.Name, unit programs.Unit, dose, sets int, url string) notify.Message {
	args := i18n.Args{"name": activity.Mid, "activity": activity.Title,
		"amount": amount(c, unit, dose, sets), "url": url}
	return notify.Message{
		Title: c.Text(Phrasing(kind, key, "title"), args),
		Body:  c.Text(Phrasing(kind, key, "body"), args),
		URL:   url,
		Tag:   key,
	}
}

// FlareMessage is sent at once when a flare is declared; key picks its title.
// stepBack is the doses from tomorrow, "" when unknown.
func FlareMessage(c *i18n.Catalog, key, stepBack, url string) notify.Message {
	if stepBack == "" {
		stepBack = c.Text("flare.about_half", nil)
	}
	return notify.Message{
		Title: c.Text(Phrasing("flare", key, "title"), nil),
		Body:  c.Text("flare.body", i18n.Args{"doses": stepBack, "url": url}),
		URL:   url, Tag: "flare",
	}
}

// RedFlagMessage repeats the guidance shown on the check-in page for the
// most urgent answer of a red-flag screen ("" when unknown: the first
// screen's guidance), and says only what is true of the therapist: told
// when a channel can reach them, else that the patient should contact the
// clinic (contact: how). It does not rotate: its wording is reviewed and
// stays as it is.
func RedFlagMessage(c *i18n.Catalog, u programs.Urgency, reachable bool, contact, url string) notify.Message {
	told := i18n.TherapistUnreached
	if reachable {
		told = i18n.TherapistSending
	}
	title, body := c.RedFlagAdvice(u, told, contact)
	return notify.Message{Title: title,
		Body: c.Text("message.with_url", i18n.Args{"text": body, "url": url}),
		URL:  url, Tag: "red_flag", Urgent: true}
}

// ConfirmMessage asks the owner of an address a patient added to confirm it
// through url before it receives anything else. It names no health detail:
// the address may not be the patient's.
func ConfirmMessage(c *i18n.Catalog, url string) notify.Message {
	return notify.Message{Title: c.Text("confirm.title", nil), Body: c.Text("confirm.body", i18n.Args{"url": url}),
		URL: url, Tag: KindConfirm}
}

// persistentDays is the flare length the persistent-flare alert names
// (progression.md's persistent_flare_days default).
const persistentDays = 14

// AlertMessage is a therapist alert about one of their patients.
func AlertMessage(c *i18n.Catalog, kind, patient, url string) notify.Message {
	args := i18n.Args{"patient": patient, "url": url, "days": persistentDays}
	id := "alert.flare"
	switch kind {
	case KindAlertRedFlag:
		id = "alert.red_flag"
	case KindAlertPersistent:
		id = "alert.persistent"
	}
	return notify.Message{Title: c.Text(id+".title", args), Body: c.Text(id+".body", args), URL: url,
		Urgent: kind == KindAlertRedFlag, Tag: kind}
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	return json.Unmarshal(b, v)
}
