package programs

import (
	"encoding/json"
	"strconv"
)

// reasonKind says which sentence explains a decision. A decision keeps the
// kind and its numbers, not the sentence: rendering waits until someone reads
// it (so the weekly sweep over every assignment builds no text), and a message
// catalogue can render the same reason in another language.
type reasonKind uint8

const (
	rText            reasonKind = iota // fixed text, e.g. decoded from JSON
	rPausedRedFlag                     //
	rPausedTherapist                   //
	rCalibration                       // n0 days, n1 up-to dose
	rStart                             // n0 percent, n1 baseline
	rStartClamped                      // n0 dose
	rStartCalibrated                   // n0 dose, n1 percent, n2 baseline, n3 1 when logged
	rPersistent                        // n0 days
	rStepBack                          // n0 dose
	rFlareResume                       // n0 dose
	rRestart                           // n0 dose
	rRestartWeek                       // n0 dose
	rNoSessions                        // n0 dose
	rAdherence                         // n0 dose, n1 done, n2 planned, n3 gate percent
	rResponse                          // n0 dose, n1 days, n2 rise
	rGoal                              // n0 goal
	rHold                              // n0 dose, clamp
	rProgress                          // n0 up, n1 dose, n2 done, n3 planned, n4 1 when projected; clamp; toGoal
)

// clampKind is the clamp that bit in a hold or a partial progression.
type clampKind uint8

const (
	noClamp clampKind = iota
	clampCeiling
	clampSpike
	clampLoad
)

type reason struct {
	kind   reasonKind
	clamp  clampKind
	toGoal bool
	unit   Unit
	name   string // the activity's name as it reads mid-sentence
	text   string
	thr    int // the flare threshold, for a ceiling clamp
	n      [5]int
	r      *Rules
}

// Decision is what the engine decided and why.
type Decision struct {
	Code Code
	why  reason
}

func textDecision(c Code, text string) Decision { return Decision{c, reason{kind: rText, text: text}} }

// Reason is the decision's reason, a sentence a patient understands.
func (d Decision) Reason() string { return d.why.render() }

type decisionJSON struct {
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// MarshalJSON writes {"code","reason"}.
func (d Decision) MarshalJSON() ([]byte, error) {
	return json.Marshal(decisionJSON{d.Code, d.Reason()})
}

// UnmarshalJSON reads {"code","reason"}.
func (d *Decision) UnmarshalJSON(b []byte) error {
	var v decisionJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = textDecision(v.Code, v.Reason)
	return nil
}

const pausedReason = "Paused: you answered yes to a warning sign. Please get urgent medical advice. " +
	"Your therapist has been told and will restart your plan when it is safe."

func (x reason) render() string {
	itoa, f := strconv.Itoa, x.unit.Format
	n := x.n
	switch x.kind {
	case rPausedRedFlag:
		return pausedReason
	case rPausedTherapist:
		return "Paused by your therapist."
	case rCalibration:
		return "Finding your baseline: for the first " + itoa(n[0]) + " days, do as much " + x.name +
			" as is comfortable, up to " + f(n[1]) + ", stop before your pain increases, and log what you did."
	case rStart:
		return "Start at " + itoa(n[0]) + "% of your baseline of " + f(n[1]) + "."
	case rStartClamped:
		return "Start at " + f(n[0]) + ", kept below your flare threshold and goal."
	case rStartCalibrated:
		from := "your calibration days"
		if n[3] == 0 {
			from = "the program's default, as no calibration was logged"
		}
		return "Start at " + f(n[0]) + ", " + itoa(n[1]) + "% of your baseline of " + f(n[2]) + " from " + from + "."
	case rPersistent:
		return "Your flare-up has lasted " + itoa(n[0]) + " days or more, so your doses stay low. " +
			"Your therapist has been told; please contact them."
	case rStepBack:
		return "Flare-up: " + f(n[0]) + " for now, about half your usual dose. " +
			"Keep gently moving; flare-ups usually settle within a few days."
	case rFlareResume:
		return "Back at " + f(n[0]) + " after your flare-up; the dose rises again after a full week without one."
	case rRestart:
		return "Restarted by your therapist at " + f(n[0]) + "."
	case rRestartWeek:
		return "Restarted by your therapist at " + f(n[0]) + "; the dose rises again after a full week."
	case rNoSessions:
		return "Staying at " + f(n[0]) + ": no " + x.name + " sessions were planned last week."
	case rAdherence:
		return "Staying at " + f(n[0]) + ": you did " + itoa(n[1]) + " of " + itoa(n[2]) + " " + x.name +
			" sessions last week; the dose rises once you manage at least " + itoa(n[3]) + "%."
	case rResponse:
		return "Staying at " + f(n[0]) + ": on " + itoa(n[1]) + " days last week your pain the day after moving was " +
			itoa(n[2]) + " or more points above your usual. Repeating the week lets your body settle."
	case rGoal:
		return "You have reached your goal of " + f(n[0]) + ": keep it steady."
	case rHold:
		return "Staying at " + f(n[0]) + ": " + x.clampText() + "."
	case rProgress:
		why := ": you did " + itoa(n[2]) + " of " + itoa(n[3]) + " " + x.name + " sessions last week and had no flare"
		if n[4] == 1 {
			why = ", if last week's " + itoa(n[3]) + " " + x.name + " sessions are done without a flare"
		}
		switch {
		case x.toGoal:
			return "Up " + f(n[0]) + " to your goal of " + f(n[1]) + why + "."
		case x.clamp != noClamp:
			return "Up " + f(n[0]) + " to " + f(n[1]) + ", not more: " + x.clampText() + "."
		}
		return "Up " + f(n[0]) + " to " + f(n[1]) + why + "."
	}
	return x.text
}

func (x reason) clampText() string {
	itoa, r := strconv.Itoa, x.r
	switch x.clamp {
	case clampCeiling:
		return itoa(r.CeilingMarginPercent) + "% below the " + x.unit.Format(x.thr) + " known to bring on a flare"
	case clampSpike:
		return "no session more than " + itoa(r.SpikeCapPercent) + "% of your longest in the last " +
			itoa(r.SpikeWindowDays) + " days"
	case clampLoad:
		return "a week's plan stays within " + itoa(r.WeeklyLoadCapPercent) + "% of what you did in recent weeks"
	}
	return ""
}

// Phrases renders messages from a message catalogue; i18n.Catalog is one.
// programs declares it, and imports no catalogue, so that the engine stays
// pure and keeps no language: a decision holds its reason's kind and numbers,
// and its reader picks the language.
type Phrases interface {
	Text(id string, args map[string]any) string
	Amount(u Unit, n int) string
}

// ReasonIn is the decision's reason in p's language. A reason decoded from
// JSON has only its stored text, which it returns as it is.
func (d Decision) ReasonIn(p Phrases) string {
	if p == nil {
		return d.Reason()
	}
	return d.why.renderIn(p)
}

// renderIn is render through a catalogue; the English catalogue renders the
// same sentences as render (i18n's tests hold them to it).
func (x reason) renderIn(p Phrases) string {
	a := func(n int) string { return p.Amount(x.unit, n) }
	n := x.n
	switch x.kind {
	case rPausedRedFlag:
		return p.Text("reason.paused_red_flag", nil)
	case rPausedTherapist:
		return p.Text("reason.paused_therapist", nil)
	case rCalibration:
		return p.Text("reason.calibration", map[string]any{"days": n[0], "upto": a(n[1]), "name": x.name})
	case rStart:
		return p.Text("reason.start", map[string]any{"percent": n[0], "baseline": a(n[1])})
	case rStartClamped:
		return p.Text("reason.start_clamped", map[string]any{"dose": a(n[0])})
	case rStartCalibrated:
		return p.Text("reason.start_calibrated", map[string]any{"dose": a(n[0]), "percent": n[1], "baseline": a(n[2]), "logged": n[3] != 0})
	case rPersistent:
		return p.Text("reason.persistent", map[string]any{"days": n[0]})
	case rStepBack:
		return p.Text("reason.step_back", map[string]any{"dose": a(n[0])})
	case rFlareResume:
		return p.Text("reason.flare_resume", map[string]any{"dose": a(n[0])})
	case rRestart:
		return p.Text("reason.restart", map[string]any{"dose": a(n[0])})
	case rRestartWeek:
		return p.Text("reason.restart_week", map[string]any{"dose": a(n[0])})
	case rNoSessions:
		return p.Text("reason.no_sessions", map[string]any{"dose": a(n[0]), "name": x.name})
	case rAdherence:
		return p.Text("reason.adherence", map[string]any{"dose": a(n[0]), "done": n[1], "planned": n[2], "gate": n[3], "name": x.name})
	case rResponse:
		return p.Text("reason.response", map[string]any{"dose": a(n[0]), "days": n[1], "rise": n[2]})
	case rGoal:
		return p.Text("reason.goal", map[string]any{"goal": a(n[0])})
	case rHold:
		return p.Text("reason.hold", map[string]any{"dose": a(n[0]), "clamp": x.clampIn(p)})
	case rProgress:
		args := map[string]any{"up": a(n[0]), "dose": a(n[1]), "done": n[2], "planned": n[3], "projected": n[4] == 1, "name": x.name}
		switch {
		case x.toGoal:
			return p.Text("reason.progress_goal", args)
		case x.clamp != noClamp:
			args["clamp"] = x.clampIn(p)
			return p.Text("reason.progress_clamped", args)
		}
		return p.Text("reason.progress", args)
	}
	return x.text
}

func (x reason) clampIn(p Phrases) string {
	r := x.r
	switch x.clamp {
	case clampCeiling:
		return p.Text("clamp.ceiling", map[string]any{"margin": r.CeilingMarginPercent, "threshold": p.Amount(x.unit, x.thr)})
	case clampSpike:
		return p.Text("clamp.spike", map[string]any{"cap": r.SpikeCapPercent, "days": r.SpikeWindowDays})
	case clampLoad:
		return p.Text("clamp.load", map[string]any{"cap": r.WeeklyLoadCapPercent})
	}
	return ""
}
