package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

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
)

// phrasings are rotated by reminder so that the same words do not lose their
// effect; each takes the activity (as it reads mid-sentence) and the dose.
var phrasings = map[string][]struct{ title, body string }{
	KindSession: {
		{"Time for your %[1]s · %[2]s", "Today: %[1]s, %[2]s. Tap to check in when you are done: %[3]s"},
		{"Your %[1]s is due · %[2]s", "%[4]s for today: %[2]s. Go gently, then tap to check in: %[3]s"},
		{"Ready for your %[1]s? · %[2]s", "Today's dose is %[2]s. A little, done regularly, is what helps. Check in: %[3]s"},
	},
	KindNudge: {
		{"How did your %[1]s go?", "Today's %[1]s was %[2]s. Done, partly done or skipped, a tap helps your plan fit you: %[3]s"},
		{"Did you get to your %[1]s today?", "If you did some or all of your %[2]s, tap to log it. If not, that is fine too: %[3]s"},
		{"A quick check-in · %[1]s", "Log today's %[1]s (%[2]s) so next week's plan is right for you: %[3]s"},
	},
}

// pick chooses a phrasing from the reminder's dedupe key, so that a retry of
// the same reminder keeps its words and neighbouring ones differ.
func pick(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// SessionMessage words a session reminder or nudge. It is discreet: the
// activity's own name and the dose, never the program or a diagnosis.
func SessionMessage(kind, key, activity string, unit programs.Unit, dose, sets int, url string) notify.Message {
	ps := phrasings[kind]
	p := ps[pick(key, len(ps))]
	amount := unit.Format(dose)
	if sets > 1 {
		amount = fmt.Sprintf("%d × %s", sets, amount)
	}
	name := strings.ToLower(activity[:1]) + activity[1:]
	return notify.Message{
		Title: fmt.Sprintf(p.title, name, amount),
		Body:  fmt.Sprintf(p.body, name, amount, url, activity),
		URL:   url,
		Tag:   key,
	}
}

// flareTitles and weeklyTitles rotate like the session phrasings. The
// red-flag guidance does not: its wording is reviewed and stays as it is.
var (
	flareTitles  = []string{"Your plan for the next few days", "Easing off for a few days", "A gentler plan while it settles"}
	weeklyTitles = []string{"Your week: %d of %d sessions done", "Last week: %d of %d sessions", "Week done: %d of %d sessions"}
)

// FlareMessage is sent at once when a flare is declared; key picks its title.
func FlareMessage(key, stepBack, url string) notify.Message {
	return notify.Message{
		Title: flareTitles[pick(key, len(flareTitles))],
		Body: "Thank you for telling us. From tomorrow your plan steps back to about half (" + stepBack + "). " +
			"Keep gently moving: rest in small doses helps more than stopping. Flare-ups usually settle within a few days; " +
			"tap \"Settled\" when yours has. If it gets much worse, or anything new worries you, contact your therapist. " + url,
		URL: url, Tag: "flare",
	}
}

// RedFlagMessage repeats the urgent-care guidance shown on the check-in page.
func RedFlagMessage(url string) notify.Message {
	return notify.Message{Title: "Please get medical advice today", Body: programs.RedFlagGuidance + " " + url, URL: url,
		Tag: "red_flag", Urgent: true}
}

// AlertMessage is a therapist alert about one of their patients.
func AlertMessage(kind, patient, url string) notify.Message {
	switch kind {
	case KindAlertRedFlag:
		return notify.Message{Title: "Red flag: " + patient,
			Body: patient + " answered yes on the red-flag screen. Their plan is paused until you resume it. " + url,
			URL:  url, Urgent: true, Tag: kind}
	case KindAlertPersistent:
		return notify.Message{Title: "Flare-up for 14 days: " + patient,
			Body: patient + " has been in a flare-up for 14 days or more; their doses are held low. Please get in touch. " + url,
			URL:  url, Tag: kind}
	}
	return notify.Message{Title: "Flare-up: " + patient,
		Body: patient + " reported a flare-up. Their plan has stepped back to about half from tomorrow. " + url, URL: url, Tag: kind}
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	return json.Unmarshal(b, v)
}
