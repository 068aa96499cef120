package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"pacer/programs"
)

const assignmentColumns = `a.id, a.patient_id, a.program_id, a.program, a.start_date, a.params, a.status, a.created_at, a.updated_at`

func scanAssignment(row rowScanner) (Assignment, error) {
	var (
		a                Assignment
		start            int64
		params           string
		created, updated int64
	)
	if err := row.Scan(&a.ID, &a.PatientID, &a.ProgramID, &a.Program, &start, &params, &a.Status,
		&created, &updated); err != nil {
		return Assignment{}, notFound(err)
	}
	a.Start = programs.Date(start)
	a.Params = []byte(params)
	a.CreatedAt, a.UpdatedAt = fromMillis(created), fromMillis(updated)
	return a, nil
}

// CreateAssignment adds a (its ID, CreatedAt and UpdatedAt are ignored; an
// empty Status is "active", empty Params "{}") and returns it as stored. The
// caller has checked that the patient is the therapist's.
func (s *Store) CreateAssignment(ctx context.Context, a Assignment) (Assignment, error) {
	if a.Status == "" {
		a.Status = "active"
	}
	if len(a.Params) == 0 {
		a.Params = []byte("{}")
	}
	if !json.Valid(a.Params) {
		return Assignment{}, errors.New("create assignment: params are not valid JSON")
	}
	if len(a.Program) == 0 {
		return Assignment{}, errors.New("create assignment: the program is empty")
	}
	now := s.nowMillis()
	err := s.w.QueryRowContext(ctx, s.q(`INSERT INTO assignments (patient_id, program_id, program, start_date, params,
			status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		a.PatientID, a.ProgramID, a.Program, int64(a.Start), string(a.Params), a.Status, now, now).Scan(&a.ID)
	if err != nil {
		return Assignment{}, fmt.Errorf("create assignment: %w", err)
	}
	a.CreatedAt, a.UpdatedAt = fromMillis(now), fromMillis(now)
	return a, nil
}

// Assignment returns the assignment with the id if its patient is the
// therapist's, else ErrNotFound.
func (s *Store) Assignment(ctx context.Context, therapistID, id int64) (Assignment, error) {
	a, err := scanAssignment(s.r.QueryRowContext(ctx, s.q(`SELECT `+assignmentColumns+`
		FROM assignments a JOIN patients p ON p.id = a.patient_id
		WHERE a.id = ? AND p.therapist_id = ?`), id, therapistID))
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %d: %w", id, err)
	}
	return a, nil
}

// AssignmentByID returns the assignment with the id, whoever's it is: for a
// patient's own check-ins (reached through a token) and background jobs.
func (s *Store) AssignmentByID(ctx context.Context, id int64) (Assignment, error) {
	a, err := scanAssignment(s.r.QueryRowContext(ctx, s.q(`SELECT `+assignmentColumns+`
		FROM assignments a WHERE a.id = ?`), id))
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %d: %w", id, err)
	}
	return a, nil
}

// Assignments returns the patient's active assignments by id.
func (s *Store) Assignments(ctx context.Context, patientID int64) ([]Assignment, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+assignmentColumns+`
		FROM assignments a WHERE a.patient_id = ? AND a.status = 'active' ORDER BY a.id`), patientID)
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	defer rows.Close()
	var as []Assignment
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, fmt.Errorf("assignments: %w", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	return as, nil
}

// AddCheckIn stores a check-in (its ID and CreatedAt are ignored) and returns
// it as stored. AssignmentID 0 makes it patient-level; otherwise the
// assignment must be the patient's.
func (s *Store) AddCheckIn(ctx context.Context, c CheckIn) (CheckIn, error) {
	body, err := json.Marshal(c.CheckIn)
	if err != nil {
		return CheckIn{}, fmt.Errorf("add check-in: %w", err)
	}
	assignment := sql.NullInt64{Int64: c.AssignmentID, Valid: c.AssignmentID != 0}
	now := s.nowMillis()
	err = s.w.QueryRowContext(ctx, s.q(`INSERT INTO checkins (patient_id, assignment_id, date, kind, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		c.PatientID, assignment, int64(c.CheckIn.Date), string(c.CheckIn.Kind), string(body), now).Scan(&c.ID)
	if err != nil {
		return CheckIn{}, fmt.Errorf("add check-in: %w", err)
	}
	c.CreatedAt = fromMillis(now)
	return c, nil
}

// CheckIns returns what the engine needs for one assignment: the patient's
// patient-level check-ins and the assignment's own, in the order they were
// added.
func (s *Store) CheckIns(ctx context.Context, patientID, assignmentID int64) ([]programs.CheckIn, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT body, created_at FROM checkins
		WHERE patient_id = ? AND (assignment_id IS NULL OR assignment_id = ?) ORDER BY id`), patientID, assignmentID)
	if err != nil {
		return nil, fmt.Errorf("check-ins: %w", err)
	}
	defer rows.Close()
	var cs []programs.CheckIn
	for rows.Next() {
		var (
			body    string
			created int64
		)
		if err := rows.Scan(&body, &created); err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
		var c programs.CheckIn
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
		c.At = fromMillis(created) // orders a day's events, e.g. a red flag and a resume
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check-ins: %w", err)
	}
	return cs, nil
}

// AddOverride stores a therapist's override (its ID and CreatedAt are
// ignored) and returns it as stored.
func (s *Store) AddOverride(ctx context.Context, o Override) (Override, error) {
	now := s.nowMillis()
	err := s.w.QueryRowContext(ctx, s.q(`INSERT INTO overrides (assignment_id, date, kind, activity, value, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		o.AssignmentID, int64(o.Date), string(o.Kind), o.Activity, o.Value, now).Scan(&o.ID)
	if err != nil {
		return Override{}, fmt.Errorf("add override: %w", err)
	}
	o.CreatedAt = fromMillis(now)
	return o, nil
}

// Overrides returns the assignment's overrides in the order they were added.
func (s *Store) Overrides(ctx context.Context, assignmentID int64) ([]programs.Overriding, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT date, kind, activity, value, created_at FROM overrides
		WHERE assignment_id = ? ORDER BY id`), assignmentID)
	if err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	defer rows.Close()
	var ovs []programs.Overriding
	for rows.Next() {
		var (
			o             programs.Overriding
			date, created int64
			kind          string
		)
		if err := rows.Scan(&date, &kind, &o.Activity, &o.Value, &created); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		o.Date, o.Kind, o.At = programs.Date(date), programs.OverrideKind(kind), fromMillis(created)
		ovs = append(ovs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	return ovs, nil
}
