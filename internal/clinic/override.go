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
		if ovs[i].Date == 0 {
			ovs[i].Date = today
		}
		if err := ovs[i].Validate(a.Program); err != nil {
			return nil, Problemf("%v", err)
		}
	}
	var plan *programs.Plan
	err = c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		for _, o := range ovs {
			if _, err := tx.AddOverride(store.Override{AssignmentID: a.ID, Overriding: o}); err != nil {
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
