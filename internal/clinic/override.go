package clinic

import (
	"context"

	"pacer/internal/store"
	"pacer/programs"
)

// Override records a therapist's overrides of an assignment (a pause, a
// resume, a dose, a threshold, a goal), every one checked before any is
// stored, and re-plans the patient in the same transaction. It returns the
// assignment's plan as stored. A zero Date is today in the patient's zone.
func (c *Clinic) Override(ctx context.Context, therapistID, assignmentID int64, ovs []programs.Overriding) (*programs.Plan, error) {
	p, a, err := c.assignment(ctx, therapistID, assignmentID)
	if err != nil {
		return nil, err
	}
	if a.Status != "active" {
		return nil, &Conflict{"this program has ended; assign it again to change it"}
	}
	today := c.Today(p)
	for i := range ovs {
		o := &ovs[i]
		if o.Date == 0 {
			o.Date = today
		}
		if o.Date < today.AddDays(-maxStartBack) || o.Date > today.AddDays(maxStartAhead) {
			return nil, Problemf("from %s is too far from today (%s): use a date at most %d weeks back or a year ahead",
				o.Date, today, programs.MaxWeeks)
		}
		if err := o.Validate(a.Program); err != nil {
			return nil, Problemf("%v", err)
		}
		if act, ok := a.Program.Activity(o.Activity); ok && o.Kind == programs.ThresholdOverride {
			base := act.Baseline
			if v, ok := a.Params.Baseline[act.ID]; ok {
				base = v
			}
			if o.Value < base {
				return nil, Problemf("threshold %d for %s is below its baseline %d: the threshold is the dose known to bring on a flare, "+
					"so it lies above what the patient manages; give a higher threshold", o.Value, act.ID, base)
			}
		}
	}
	var plan *programs.Plan
	err = c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		for _, o := range ovs {
			if _, err := tx.AddOverride(store.Override{AssignmentID: a.ID, Overriding: o, CreatedAt: c.stamp()}); err != nil {
				return err
			}
		}
		if _, err := c.replan(tx); err != nil {
			return err
		}
		var err error
		plan, err = c.storedPlan(tx, a)
		return err
	})
	return plan, err
}

// Pause pauses an assignment from today.
func (c *Clinic) Pause(ctx context.Context, therapistID, assignmentID int64) (*programs.Plan, error) {
	return c.Override(ctx, therapistID, assignmentID, []programs.Overriding{{Kind: programs.PauseOverride}})
}

// Resume restarts a paused assignment from today.
func (c *Clinic) Resume(ctx context.Context, therapistID, assignmentID int64) (*programs.Plan, error) {
	return c.Override(ctx, therapistID, assignmentID, []programs.Overriding{{Kind: programs.ResumeOverride}})
}
