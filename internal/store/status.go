package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"pacer/programs"
)

// PatientStatus is what a therapist's home page shows of a patient, read for
// all of a therapist's patients in a handful of queries: their active
// programs, the stored plans' state, their last check-in and how many of
// the planned sessions since a day were done.
type PatientStatus struct {
	Patient     Patient
	Programs    []string      // the active programs' names, by assignment
	FirstStart  programs.Date // the earliest start of an active program; 0: none
	RedFlag     bool          // a program is paused by a red flag
	Paused      bool          // every active program is paused
	InFlare     bool
	LastCheckIn programs.Date // 0: never
	Planned     int           // sessions planned in the 7 days before each plan's day
	Done        int           // of those, done fully or in part
	// Unacknowledged counts the red-flag screens with an answer that pauses
	// (one no marking covers) that no therapist has acknowledged.
	Unacknowledged int
}

// CheckInsOf returns all of the patient's check-ins in the order they were
// added.
func (s *Store) CheckInsOf(ctx context.Context, patientID int64) ([]CheckIn, error) {
	return s.checkIns(ctx, s.r, patientID)
}

// StatusDays is the window PatientStatus counts sessions over.
const StatusDays = 7

// PatientStatuses returns the status of each of the therapist's patients, in
// the order of Patients. Planned and Done count the planned sessions of the
// StatusDays days before the day each plan was computed for.
func (s *Store) PatientStatuses(ctx context.Context, therapistID int64) (_ []PatientStatus, err error) {
	defer s.timed("patient_statuses", time.Now(), &err)
	ps, err := s.Patients(ctx, therapistID)
	if err != nil {
		return nil, err
	}
	out := make([]PatientStatus, len(ps))
	byID := make(map[int64]*PatientStatus, len(ps))
	for i, p := range ps {
		out[i] = PatientStatus{Patient: p}
		byID[p.ID] = &out[i]
	}
	fail := func(err error) ([]PatientStatus, error) { return nil, fmt.Errorf("patient statuses: %w", err) }

	// Active programs and their plans' state.
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT a.patient_id, a.program, a.start_date,
			COALESCE(pl.pause, ''), COALESCE(pl.flare_on, 0)
		FROM assignments a JOIN patients p ON p.id = a.patient_id
		LEFT JOIN plans pl ON pl.assignment_id = a.id
		WHERE p.therapist_id = ? AND a.status = 'active' ORDER BY a.id`), therapistID)
	if err != nil {
		return fail(err)
	}
	paused := map[int64]int{}
	active := map[int64]int{}
	for rows.Next() {
		var (
			id, start, flare int64
			yaml             []byte
			pause            string
		)
		if err := rows.Scan(&id, &yaml, &start, &pause, &flare); err != nil {
			rows.Close()
			return fail(err)
		}
		st := byID[id]
		if st == nil {
			continue
		}
		prog, err := s.program(yaml)
		if err != nil {
			rows.Close()
			return fail(err)
		}
		st.Programs = append(st.Programs, prog.Name)
		if st.FirstStart == 0 || programs.Date(start) < st.FirstStart {
			st.FirstStart = programs.Date(start)
		}
		active[id]++
		switch programs.PauseCause(pause) {
		case programs.PausedByRedFlag:
			st.RedFlag = true
			paused[id]++
		case programs.PausedByTherapist:
			paused[id]++
		}
		st.InFlare = st.InFlare || flare != 0
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	for id, n := range active {
		byID[id].Paused = paused[id] == n
	}

	// The last check-in.
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT c.patient_id, MAX(c.date) FROM checkins c
		JOIN patients p ON p.id = c.patient_id WHERE p.therapist_id = ? AND c.retracted_at IS NULL
		GROUP BY c.patient_id`), therapistID)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var id, last int64
		if err := rows.Scan(&id, &last); err != nil {
			rows.Close()
			return fail(err)
		}
		if st := byID[id]; st != nil {
			st.LastCheckIn = programs.Date(last)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}

	// Adherence: the planned sessions of active programs in the days before
	// the plan's day, as the plan judged them.
	rows, err = s.r.QueryContext(ctx, s.q(`SELECT x.patient_id, COUNT(*),
			SUM(CASE WHEN x.status IN ('done', 'partial') THEN 1 ELSE 0 END)
		FROM sessions x JOIN assignments a ON a.id = x.assignment_id
		JOIN plans pl ON pl.assignment_id = a.id
		JOIN patients p ON p.id = x.patient_id
		WHERE p.therapist_id = ? AND a.status = 'active' AND x.date >= pl.now - ? AND x.date < pl.now
			AND x.status <> 'cancelled' AND `+s.not("x.extra")+`
		GROUP BY x.patient_id`), therapistID, StatusDays)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var id int64
		var planned, done int
		if err := rows.Scan(&id, &planned, &done); err != nil {
			rows.Close()
			return fail(err)
		}
		if st := byID[id]; st != nil {
			st.Planned, st.Done = planned, done
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := s.unacknowledged(ctx, therapistID, byID); err != nil {
		return fail(err)
	}
	return out, nil
}

// unacknowledged counts each patient's red-flag screens that have a pausing
// answer and no acknowledgement. Such screens are rare, so their bodies and
// the markings of their patients are read and judged as the engine judges
// them (programs.PausingAnswers).
func (s *Store) unacknowledged(ctx context.Context, therapistID int64, byID map[int64]*PatientStatus) error {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT c.patient_id, c.body, c.created_at FROM checkins c
		JOIN patients p ON p.id = c.patient_id
		WHERE p.therapist_id = ? AND `+answered+`
			AND NOT EXISTS (SELECT 1 FROM red_flag_acks k WHERE k.checkin_id = c.id)
		ORDER BY c.id`), therapistID)
	if err != nil {
		return err
	}
	screens := map[int64][]programs.CheckIn{}
	for rows.Next() {
		var (
			id, created int64
			body        string
			c           programs.CheckIn
		)
		if err := rows.Scan(&id, &body, &created); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			rows.Close()
			return fmt.Errorf("check-in of patient %d: %w", id, err)
		}
		c.At = fromMillis(created)
		screens[id] = append(screens[id], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id, cs := range screens {
		ks, err := s.knownRedFlags(ctx, s.r, id)
		if err != nil {
			return err
		}
		marked := make([]programs.KnownRedFlag, len(ks))
		for i, k := range ks {
			marked[i] = k.Engine()
		}
		for i := range cs {
			if _, pausing := programs.PausingAnswers(marked, &cs[i]); len(pausing) > 0 && byID[id] != nil {
				byID[id].Unacknowledged++
			}
		}
	}
	return nil
}
