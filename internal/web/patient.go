package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pacer/internal/store"
	"pacer/programs"
)

// checkInBackDays is how far back a patient may log: enough for a forgotten
// weekend, not so far that old weeks are rewritten.
const checkInBackDays = 30

// checkinPatient resolves the capability token of a /c/{token} URL.
func (s *Server) checkinPatient(w http.ResponseWriter, r *http.Request) (store.Patient, bool) {
	hash := store.HashToken(r.PathValue("token"))
	p, err := s.Store.PatientByCheckinToken(r.Context(), hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.internal(w, r, err)
			return p, false
		}
		if !s.failures.allow(clientAddr(r)) {
			writeError(w, http.StatusTooManyRequests, "too many unknown links; wait a minute")
			return p, false
		}
		writeError(w, http.StatusNotFound, "this check-in link is not valid; ask your therapist for a new one")
		return p, false
	}
	if !s.perToken.allow(string(hash)) {
		writeError(w, http.StatusTooManyRequests, "too many requests; wait a moment")
		return p, false
	}
	return p, true
}

// checkInBody is one check-in object of the check-ins file format, plus the
// assignment when an activity id is in more than one of the patient's programs.
type checkInBody struct {
	programs.CheckIn
	Date       string `json:"date"`
	Assignment int64  `json:"assignment,omitempty"`
}

func (s *Server) postCheckIn(w http.ResponseWriter, r *http.Request) {
	p, ok := s.checkinPatient(w, r)
	if !ok {
		return
	}
	var in checkInBody
	form := strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	if form {
		var err error
		if in, err = checkInFromForm(w, r); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	} else if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	today := s.today(p)
	c := in.CheckIn
	c.Date = today
	if in.Date != "" {
		d, err := programs.ParseDate(in.Date)
		if err != nil {
			writeError(w, http.StatusBadRequest, "date: "+err.Error())
			return
		}
		c.Date = d
	}
	switch {
	case c.Date > today:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("date %s is in the future; today is %s", c.Date, today))
		return
	case c.Date < today.AddDays(-checkInBackDays):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("date %s is more than %d days ago; check-ins can be logged up to %d days back",
			c.Date, checkInBackDays, checkInBackDays))
		return
	}
	assignments, err := s.Store.Assignments(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(assignments) == 0 {
		writeError(w, http.StatusConflict, "there is no plan to check in to yet; your therapist assigns one")
		return
	}
	// A session belongs to the assignment whose program has the activity; the
	// other kinds belong to the patient and apply to every assignment.
	target := assignments
	var prog *programs.Program
	if c.Kind == programs.SessionCheckIn {
		target = nil
		for _, a := range assignments {
			pr, err := programs.Parse("assignment", a.Program)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			if _, has := pr.Activity(c.Activity); has && (in.Assignment == 0 || in.Assignment == a.ID) {
				target, prog = append(target, a), pr
			}
		}
		switch {
		case len(target) == 0:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("activity %q is not in your plan", c.Activity))
			return
		case len(target) > 1:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("activity %q is in more than one of your programs; say which with \"assignment\"", c.Activity))
			return
		}
	} else if prog, err = programs.Parse("assignment", assignments[0].Program); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := c.Validate(prog); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	row := store.CheckIn{PatientID: p.ID, CheckIn: c}
	if c.Kind == programs.SessionCheckIn {
		row.AssignmentID = target[0].ID
	}
	saved, err := s.Store.AddCheckIn(r.Context(), row)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var plan *programs.Plan
	for _, a := range target {
		if plan, err = s.mat.Materialize(r.Context(), p, a); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	if s.alerts != nil {
		if err := s.alerts.CheckedIn(r.Context(), p, c, saved.ID, plan, s.Now()); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	out := struct {
		Recorded bool          `json:"recorded"`
		Date     programs.Date `json:"date"`
		Kind     string        `json:"kind"`
		Paused   bool          `json:"paused"`
		InFlare  bool          `json:"in_flare"`
		Guidance string        `json:"guidance,omitempty"`
	}{Recorded: true, Date: c.Date, Kind: string(c.Kind), Paused: plan.Paused, InFlare: plan.InFlare}
	if c.Kind == programs.RedFlagCheckIn && len(c.Answers) > 0 {
		out.Guidance = programs.RedFlagGuidance
	}
	if form {
		// Back to the page, which thanks the patient for what was saved
		// and, after a red flag, shows the urgent-care guidance at once.
		back := "/c/" + url.PathEscape(r.PathValue("token")) + "?saved=" + url.QueryEscape(string(c.Kind))
		if out.Guidance != "" {
			back += "&guidance=red_flag"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// checkInFromForm reads a check-in posted by the check-in page.
func checkInFromForm(w http.ResponseWriter, r *http.Request) (checkInBody, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	var in checkInBody
	if err := r.ParseForm(); err != nil {
		return in, errors.New("the form could not be read")
	}
	f := r.PostForm
	in.Date, in.Kind, in.Activity = f.Get("date"), programs.CheckInKind(f.Get("kind")), f.Get("activity")
	in.Status, in.Answers = programs.Status(f.Get("status")), f["answers"]
	num := func(name string) (*int, error) {
		v := f.Get(name)
		if v == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be a whole number, not %q", name, v)
		}
		return &n, nil
	}
	var err error
	for _, x := range []struct {
		name string
		dst  **int
	}{{"dose", &in.Dose}, {"pain", &in.Pain}, {"function", &in.Function}, {"symptoms", &in.Symptoms}, {"confidence", &in.Confidence}} {
		if *x.dst, err = num(x.name); err != nil {
			return in, err
		}
	}
	if v := f.Get("time"); v != "" {
		c, err := programs.ParseClock(v)
		if err != nil {
			return in, err
		}
		in.Time = &c
	}
	if v := f.Get("assignment"); v != "" {
		if in.Assignment, err = strconv.ParseInt(v, 10, 64); err != nil {
			return in, fmt.Errorf("assignment must be a number, not %q", v)
		}
	}
	return in, nil
}
