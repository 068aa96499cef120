package clinic

import (
	"context"
	"fmt"

	"pacer/internal/store"
	"pacer/programs"
)

// Plan is an assignment's plan as its last re-plan stored it, rebuilt as the
// engine's value; the engine does not run. An assignment not planned yet
// (only just after an upgrade, until the start-up re-plan reaches it) is
// ErrNotFound.
func (c *Clinic) Plan(ctx context.Context, p store.Patient, a store.Assignment) (*programs.Plan, error) {
	sp, err := c.Store.Plan(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	xs, err := c.Store.AssignmentSessions(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	loc, err := c.Zone(p.Timezone)
	if err != nil {
		return nil, fmt.Errorf("patient %d: time zone: %w", p.ID, err)
	}
	return planOf(a, loc, sp, xs), nil
}

// storedPlan is Plan read in tx.
func (c *Clinic) storedPlan(tx *store.PatientTx, a store.Assignment) (*programs.Plan, error) {
	sp, err := tx.Plan(a.ID)
	if err != nil {
		return nil, err
	}
	xs, err := tx.Sessions(a.ID)
	if err != nil {
		return nil, err
	}
	loc, err := c.Zone(tx.Patient.Timezone)
	if err != nil {
		return nil, err
	}
	return planOf(a, loc, sp, xs), nil
}
