package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"pacer/programs"
)

const assignmentColumns = `a.id, a.patient_id, a.program_id, a.program, a.start_date, a.params, a.status, a.created_at, a.updated_at`

func (s *Store) scanAssignment(row rowScanner) (Assignment, error) {
	var (
		a                Assignment
		yaml             []byte
		start            int64
		params           string
		created, updated int64
	)
	if err := row.Scan(&a.ID, &a.PatientID, &a.ProgramID, &yaml, &start, &params, &a.Status,
		&created, &updated); err != nil {
		return Assignment{}, notFound(err)
	}
	prog, err := s.program(yaml)
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %d: stored program: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(params), &a.Params); err != nil {
		return Assignment{}, fmt.Errorf("assignment %d: stored parameters: %w", a.ID, err)
	}
	a.Program, a.Start = prog, programs.Date(start)
	a.CreatedAt, a.UpdatedAt = fromMillis(created), fromMillis(updated)
	return a, nil
}

// program decodes a stored program snapshot, once per distinct snapshot: the
// assignments of one template share it. It keeps at most maxPrograms and
// then starts over, since every program made with the builder or given
// inline is a snapshot of its own.
func (s *Store) program(yaml []byte) (*programs.Program, error) {
	key := sha256.Sum256(yaml)
	if p, ok := s.programs.Load(key); ok {
		return p.(*programs.Program), nil
	}
	p, err := programs.Parse("program", yaml)
	if err != nil {
		return nil, err
	}
	if s.held.Add(1) > maxPrograms {
		s.programs.Clear()
		s.held.Store(1)
	}
	s.programs.Store(key, p)
	return p, nil
}

// maxPrograms bounds the decoded programs a store keeps: far more than the
// library's, few enough that many patients' own programs do not fill memory.
const maxPrograms = 1024

// CreateAssignment adds a (its ID, CreatedAt and UpdatedAt are ignored; an
// empty Status is "active") and returns it as stored. The caller has checked
// that the patient is the therapist's and the parameters against the
// program.
func (s *Store) CreateAssignment(ctx context.Context, a Assignment) (Assignment, error) {
	return s.createAssignment(ctx, s.w, a)
}

func (s *Store) createAssignment(ctx context.Context, db dbtx, a Assignment) (Assignment, error) {
	if a.Status == "" {
		a.Status = "active"
	}
	if a.Program == nil {
		return Assignment{}, errors.New("create assignment: no program")
	}
	params, err := json.Marshal(a.Params)
	if err != nil {
		return Assignment{}, fmt.Errorf("create assignment: %w", err)
	}
	now := s.nowMillis()
	err = db.QueryRowContext(ctx, s.q(`INSERT INTO assignments (patient_id, program_id, program, start_date, params,
			status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		a.PatientID, a.ProgramID, a.Program.YAML(), int64(a.Start), string(params), a.Status, now, now).Scan(&a.ID)
	if err != nil {
		return Assignment{}, fmt.Errorf("create assignment: %w", err)
	}
	a.CreatedAt, a.UpdatedAt = fromMillis(now), fromMillis(now)
	return a, nil
}

// Assignment returns the assignment with the id if its patient is the
// therapist's, else ErrNotFound.
func (s *Store) Assignment(ctx context.Context, therapistID, id int64) (_ Assignment, err error) {
	defer s.timed("assignment", time.Now(), &err)
	a, err := s.scanAssignment(s.r.QueryRowContext(ctx, s.q(`SELECT `+assignmentColumns+`
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
	a, err := s.scanAssignment(s.r.QueryRowContext(ctx, s.q(`SELECT `+assignmentColumns+`
		FROM assignments a WHERE a.id = ?`), id))
	if err != nil {
		return Assignment{}, fmt.Errorf("assignment %d: %w", id, err)
	}
	return a, nil
}

// Assignments returns the patient's active assignments by id.
func (s *Store) Assignments(ctx context.Context, patientID int64) (_ []Assignment, err error) {
	defer s.timed("assignments", time.Now(), &err)
	return s.assignments(ctx, s.r, patientID, true)
}

// AllAssignments returns the patient's assignments, active and ended, by id.
func (s *Store) AllAssignments(ctx context.Context, patientID int64) ([]Assignment, error) {
	return s.assignments(ctx, s.r, patientID, false)
}

func (s *Store) assignments(ctx context.Context, db dbtx, patientID int64, active bool) ([]Assignment, error) {
	where := ""
	if active {
		where = ` AND a.status = 'active'`
	}
	rows, err := db.QueryContext(ctx, s.q(`SELECT `+assignmentColumns+`
		FROM assignments a WHERE a.patient_id = ?`+where+` ORDER BY a.id`), patientID)
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	defer rows.Close()
	var as []Assignment
	for rows.Next() {
		a, err := s.scanAssignment(rows)
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

// AddCheckIn stores a check-in (its ID is ignored; a zero CreatedAt is the
// store's clock) and returns it as stored. AssignmentID 0 makes it
// patient-level; otherwise the assignment must be the patient's.
func (s *Store) AddCheckIn(ctx context.Context, c CheckIn) (CheckIn, error) {
	return s.addCheckIn(ctx, s.w, c)
}

func (s *Store) addCheckIn(ctx context.Context, db dbtx, c CheckIn) (CheckIn, error) {
	body, err := json.Marshal(c.CheckIn)
	if err != nil {
		return CheckIn{}, fmt.Errorf("add check-in: %w", err)
	}
	assignment := sql.NullInt64{Int64: c.AssignmentID, Valid: c.AssignmentID != 0}
	now := s.nowMillis()
	if !c.CreatedAt.IsZero() { // the caller's clock: a history replayed day by day
		now = millis(c.CreatedAt)
	}
	err = db.QueryRowContext(ctx, s.q(`INSERT INTO checkins (patient_id, assignment_id, date, kind, body, created_at)
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
	cs, err := s.checkIns(ctx, s.r, patientID)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if c.AssignmentID == 0 || c.AssignmentID == assignmentID {
			out = append(out, c)
		}
	}
	return engineCheckIns(out), nil
}

// engineCheckIns are the engine's part of stored check-ins.
func engineCheckIns(cs []CheckIn) []programs.CheckIn {
	out := make([]programs.CheckIn, len(cs))
	for i, c := range cs {
		out[i] = c.CheckIn
	}
	return out
}

// checkIns reads all of the patient's check-ins in force (not undone) in the
// order they were added;
// each one's At is when it was stored, which orders a day's events (a red
// flag and a resume).
func (s *Store) checkIns(ctx context.Context, db dbtx, patientID int64) ([]CheckIn, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT id, assignment_id, body, created_at FROM checkins
		WHERE patient_id = ? AND retracted_at IS NULL ORDER BY id`), patientID)
	if err != nil {
		return nil, fmt.Errorf("check-ins: %w", err)
	}
	defer rows.Close()
	var cs []CheckIn
	for rows.Next() {
		var (
			c          CheckIn
			assignment sql.NullInt64
			body       string
			created    int64
		)
		if err := rows.Scan(&c.ID, &assignment, &body, &created); err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &c.CheckIn); err != nil {
			return nil, fmt.Errorf("check-ins: %w", err)
		}
		c.PatientID, c.AssignmentID, c.CreatedAt = patientID, assignment.Int64, fromMillis(created)
		c.CheckIn.At = c.CreatedAt
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check-ins: %w", err)
	}
	return cs, nil
}

// AddOverride stores a therapist's override (its ID is ignored; a zero
// CreatedAt is the store's clock) and returns it as stored.
func (s *Store) AddOverride(ctx context.Context, o Override) (Override, error) {
	return s.addOverride(ctx, s.w, o)
}

func (s *Store) addOverride(ctx context.Context, db dbtx, o Override) (Override, error) {
	now := s.nowMillis()
	if !o.CreatedAt.IsZero() { // the caller's clock
		now = millis(o.CreatedAt)
	}
	err := db.QueryRowContext(ctx, s.q(`INSERT INTO overrides (assignment_id, date, kind, activity, value, created_at)
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
	return s.overrides(ctx, s.r, assignmentID)
}

func (s *Store) overrides(ctx context.Context, db dbtx, assignmentID int64) ([]programs.Overriding, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT date, kind, activity, value, created_at FROM overrides
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
