package clinic

import (
	"context"
	"slices"
	"strings"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/programs"
	"pacer/scheduler"
)

// The therapist's side of the red-flag screen (progression.md, "Red-flag
// screen"): what a patient answered, how urgent it is and when, an
// acknowledgement that the therapist saw it, and items the therapist marks
// known and reviewed for the patient so that the same answer does not pause
// again (a new or worse one still does).

// RedFlagAnswer is one yes of a red-flag screen.
type RedFlagAnswer struct {
	Item    string
	Urgency programs.Urgency
	// Known is a yes that a marking covered when it was answered: it did not
	// pause. Worse is one the patient said is worse than when reviewed.
	Known, Worse bool
}

// RedFlagScreen is a red-flag screen with at least one yes, as the
// therapist reviews it.
type RedFlagScreen struct {
	CheckInID int64
	Date      programs.Date // the day it was answered for
	At        time.Time     // when it was recorded
	Answers   []RedFlagAnswer
	// Pausing is true when an answer pauses (one no marking covered, or said
	// to be worse); Urgency is the most urgent of those.
	Pausing bool
	Urgency programs.Urgency
	Ack     *store.RedFlagAck // nil until a therapist acknowledges it
}

// RedFlagReview is a patient's red-flag screens with a yes, newest first,
// and the items marked known and reviewed now.
type RedFlagReview struct {
	Screens []RedFlagScreen
	Known   []store.KnownRedFlag
}

// Unacknowledged counts the pausing screens no therapist has acknowledged.
func (r RedFlagReview) Unacknowledged() int {
	n := 0
	for _, s := range r.Screens {
		if s.Pausing && s.Ack == nil {
			n++
		}
	}
	return n
}

// IsKnown reports whether the item is marked known and reviewed now.
func (r RedFlagReview) IsKnown(item string) bool {
	return slices.ContainsFunc(r.Known, func(k store.KnownRedFlag) bool { return k.Item == item })
}

// KnownRedFlagsNow are the red-flag items the patient's therapist has
// marked known and reviewed and not un-marked: the ones the patient's
// screen asks only as "worse".
func (c *Clinic) KnownRedFlagsNow(ctx context.Context, patientID int64) ([]programs.KnownRedFlag, error) {
	ks, err := c.Store.KnownRedFlags(ctx, patientID)
	if err != nil {
		return nil, err
	}
	var out []programs.KnownRedFlag
	for _, k := range ks {
		if k.Marked() {
			out = append(out, k.Engine())
		}
	}
	return out, nil
}

// RedFlags reads the patient's red-flag review. It judges each screen as the
// engine does (programs.PausingAnswers) from the stored check-ins and
// markings; no plan is computed.
func (c *Clinic) RedFlags(ctx context.Context, p store.Patient) (RedFlagReview, error) {
	cs, err := c.Store.CheckInsOf(ctx, p.ID)
	if err != nil {
		return RedFlagReview{}, err
	}
	ks, err := c.Store.KnownRedFlags(ctx, p.ID)
	if err != nil {
		return RedFlagReview{}, err
	}
	acks, err := c.Store.RedFlagAcks(ctx, p.ID)
	if err != nil {
		return RedFlagReview{}, err
	}
	marked := engineMarkings(ks)
	var out RedFlagReview
	for _, k := range ks {
		if k.Marked() {
			out.Known = append(out.Known, k)
		}
	}
	for i := len(cs) - 1; i >= 0; i-- {
		ci := cs[i].CheckIn
		if ci.Kind != programs.RedFlagCheckIn || len(ci.Answers) == 0 {
			continue
		}
		known, pausing := programs.PausingAnswers(marked, &ci)
		s := RedFlagScreen{CheckInID: cs[i].ID, Date: ci.Date, At: cs[i].CreatedAt, Pausing: len(pausing) > 0,
			Urgency: programs.MostUrgent(pausing)}
		for _, a := range ci.Answers {
			u, _ := programs.RedFlagUrgency(a)
			s.Answers = append(s.Answers, RedFlagAnswer{Item: a, Urgency: u, Known: slices.Contains(known, a),
				Worse: slices.Contains(ci.Worse, a)})
		}
		for j := range acks {
			if acks[j].CheckInID == s.CheckInID {
				s.Ack = &acks[j]
			}
		}
		out.Screens = append(out.Screens, s)
	}
	return out, nil
}

// checkRedFlagItem says what to fix when item is not a question of the
// red-flag screen.
func checkRedFlagItem(item string) error {
	for _, r := range programs.RedFlags {
		if r.ID == item {
			return nil
		}
	}
	ids := make([]string, len(programs.RedFlags))
	for i, r := range programs.RedFlags {
		ids[i] = r.ID
	}
	if item == "" {
		return Problemf("choose an item of the red-flag screen: one of %s", strings.Join(ids, ", "))
	}
	return Problemf("%q is not a question of the red-flag screen: use one of %s", item, strings.Join(ids, ", "))
}

// MarkRedFlagKnown marks a red-flag item known and reviewed for the
// therapist's patient from now on, and re-plans: a later yes to it does not
// pause unless the patient says it is worse. A pause it explained before
// stays: the therapist resumes it. Marking a marked item changes nothing.
func (c *Clinic) MarkRedFlagKnown(ctx context.Context, therapistID, patientID int64, item string) error {
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return err
	}
	if err := checkRedFlagItem(item); err != nil {
		return err
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		_, fresh, err := tx.MarkRedFlagKnown(item, c.Today(tx.Patient), therapistID, c.stamp())
		if err != nil || !fresh {
			return err
		}
		c.Log.Info("red flag marked known", "patient_id", p.ID, "therapist_id", therapistID, "item", item)
		_, err = c.replan(tx)
		return err
	})
}

// UnmarkRedFlagKnown ends the marking of a red-flag item from now on, and
// re-plans: a later yes to it pauses again. Screens it covered before stay
// covered. Un-marking an item that is not marked changes nothing.
func (c *Clinic) UnmarkRedFlagKnown(ctx context.Context, therapistID, patientID int64, item string) error {
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return err
	}
	if err := checkRedFlagItem(item); err != nil {
		return err
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		ok, err := tx.UnmarkRedFlagKnown(item, c.Today(tx.Patient), therapistID, c.stamp())
		if err != nil || !ok {
			return err
		}
		c.Log.Info("red flag unmarked", "patient_id", p.ID, "therapist_id", therapistID, "item", item)
		_, err = c.replan(tx)
		return err
	})
}

// AcknowledgeRedFlag records that the therapist saw a red-flag screen of
// their patient's, and returns the acknowledgement (the first, when it was
// acknowledged before). It changes no plan: resuming is a decision of its
// own. A check-in that is not one of the patient's red-flag screens is
// ErrNotFound.
func (c *Clinic) AcknowledgeRedFlag(ctx context.Context, therapistID, patientID, checkInID int64) (store.RedFlagAck, error) {
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return store.RedFlagAck{}, err
	}
	var ack store.RedFlagAck
	err = c.Store.WithPatient(ctx, p.ID, func(tx *store.PatientTx) error {
		var err error
		ack, err = tx.AcknowledgeRedFlag(checkInID, therapistID, c.stamp())
		return err
	})
	return ack, err
}

// redFlagAlert words the therapist's alert of a red-flag pause in English
// (therapists have no language setting yet): which answers and how urgent
// each is, when the patient answered (in the patient's zone), and the link
// to the patient's page, where the therapist acknowledges it.
func (c *Clinic) redFlagAlert(tx *store.PatientTx, ev programs.Event, loc *time.Location) (notify.Message, error) {
	en, p := i18n.For(i18n.English), tx.Patient
	when := en.Day(ev.Date)
	cs, err := tx.CheckIns()
	if err != nil {
		return notify.Message{}, err
	}
	for i := len(cs) - 1; i >= 0; i-- {
		ci := cs[i].CheckIn
		if ci.Kind == programs.RedFlagCheckIn && ci.Date == ev.Date && slices.Equal(ci.Answers, ev.Facts.Answers) {
			when = RedFlagWhen(en, ev.Date, cs[i].CreatedAt.In(loc))
			break
		}
	}
	lines := make([]string, len(ev.Facts.Answers))
	for i, a := range ev.Facts.Answers {
		u, _ := programs.RedFlagUrgency(a)
		id := "alert.red_flag.answer"
		if slices.Contains(ev.Facts.Known, a) {
			id = "alert.red_flag.answer_known"
		}
		lines[i] = en.Text(id, i18n.Args{"text": en.Text("redflag.q."+a, nil), "tier": en.Text("redflag.urgency_name."+string(u), nil)})
	}
	url := c.TherapistURL(p)
	args := i18n.Args{"patient": p.Name, "when": when, "answers": strings.Join(lines, "; "), "url": url,
		"tier": en.Text("redflag.urgency_name."+string(ev.Facts.Urgency), nil)}
	return notify.Message{Title: en.Text("alert.red_flag.detail.title", args), Body: en.Text("alert.red_flag.detail.body", args),
		URL: url, Urgent: true, Tag: scheduler.KindAlertRedFlag}, nil
}

// RedFlagWhen words when a screen was answered: its day and the time it was
// recorded, and the day it was recorded too when that is another (a screen
// logged late).
func RedFlagWhen(cat *i18n.Catalog, day programs.Date, at time.Time) string {
	args := i18n.Args{"day": cat.Day(day), "time": at.Format("15:04")}
	if rec := programs.DateOf(at); rec != day {
		args["text"] = cat.Day(rec)
		return cat.Text("alert.red_flag.when_recorded", args)
	}
	return cat.Text("alert.red_flag.when", args)
}
