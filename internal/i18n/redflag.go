package i18n

import "pacer/programs"

// Told is what a patient may truthfully be told about their therapist after
// a red-flag answer paused their plan.
type Told int

const (
	// TherapistUnreached: no channel reaches the therapist, or the alert
	// failed; the patient is asked to contact the clinic themselves.
	TherapistUnreached Told = iota
	// TherapistSending: the alert is queued to a channel that reaches the
	// therapist, not delivered yet.
	TherapistSending
	// TherapistTold: the alert was delivered.
	TherapistTold
)

// RedFlagAdvice is what a patient reads after a red-flag answer paused their
// plan: a title and the guidance of the most urgent answer (progression.md's
// tiers; "" for a pause from before the tiers), that the plan is paused, and
// only what is true about their therapist. contact, how to reach the clinic,
// is named when the therapist was not reached.
func (c *Catalog) RedFlagAdvice(u programs.Urgency, told Told, contact string) (title, body string) {
	title, advice := c.Text("redflag.title", nil), c.Text("redflag.advice", nil)
	if u != "" {
		title, advice = c.Text("redflag.title."+string(u), nil), c.Text("redflag.urgency."+string(u), nil)
	}
	return title, advice + " " + c.RedFlagTold(told, contact)
}

// RedFlagTold says that the plan is paused and what is true about the
// therapist.
func (c *Catalog) RedFlagTold(told Told, contact string) string {
	switch told {
	case TherapistTold:
		return c.Text("redflag.told.sent", nil)
	case TherapistSending:
		return c.Text("redflag.told.sending", nil)
	}
	return c.Text("redflag.told.unreached", Args{"contact": contact})
}
