package store

import (
	"context"
	"time"

	"pacer/programs"
)

// The store's tests write plans as the clinic does, through a PatientTx, with
// these helpers: a Decision stands for a plan week whose facts do not matter
// to the test.

// Decision is a week's decision for an activity ("" for the week's own).
type Decision struct {
	AssignmentID int64
	Week         int
	Activity     string
	Code         programs.Code
}

// SaveSessions is SavePlan without reminders.
func (s *Store) SaveSessions(ctx context.Context, assignmentID, patientID int64, want []Session, decisions []Decision, now time.Time) (int, error) {
	return s.SavePlan(ctx, assignmentID, patientID, want, decisions, nil, now)
}

// SavePlan saves sessions, decisions and reminders of an assignment in a
// PatientTx of the patient, as a re-plan does.
func (s *Store) SavePlan(ctx context.Context, assignmentID, patientID int64, want []Session, decisions []Decision,
	reminders func([]Session) []Reminder, now time.Time) (changed int, err error) {
	plan := Plan{Header: PlanHeader{RulesVersion: programs.RulesVersion, Now: programs.DateOf(now), Weeks: len(decisions)}}
	for _, d := range decisions {
		plan.Weeks = append(plan.Weeks, PlanWeek{Week: d.Week, Activity: d.Activity,
			Decision: programs.Decision{Code: d.Code, Activity: d.Activity}})
	}
	err = s.WithPatient(ctx, patientID, func(tx *PatientTx) error {
		var err error
		changed, err = tx.SavePlan(assignmentID, want, plan, reminders, now)
		return err
	})
	return changed, err
}

// Decisions returns the assignment's stored weeks as decisions.
func (s *Store) Decisions(ctx context.Context, assignmentID int64) ([]Decision, error) {
	p, err := s.Plan(ctx, assignmentID)
	if err != nil {
		return nil, err
	}
	var ds []Decision
	for _, w := range p.Weeks {
		ds = append(ds, Decision{AssignmentID: assignmentID, Week: w.Week, Activity: w.Activity, Code: w.Decision.Code})
	}
	return ds, nil
}

// falseValue is a boolean false literal in the dialect.
func (s *Store) falseValue() string {
	if s.dialect == Postgres {
		return "FALSE"
	}
	return "0"
}
