package clinic

import (
	"context"
	"encoding/json"
	"time"

	"pacer/internal/i18n"
	"pacer/programs"
)

// Export is the JSON of a patient's data export. It holds no token:
// links are capabilities, and an export file travels.
type Export struct {
	ExportedAt     time.Time          `json:"exported_at"`
	Patient        ExportPatient      `json:"patient"`
	Assignments    []ExportAssignment `json:"assignments"`
	CheckIns       []ExportCheckIn    `json:"checkins"`
	Overrides      []ExportOverride   `json:"overrides"`
	Sessions       []ExportSession    `json:"sessions"`
	Weeks          []ExportWeek       `json:"weeks"`
	Events         []ExportEvent      `json:"events"`
	Channels       []json.RawMessage  `json:"channels"`
	NotifySettings ExportSettings     `json:"notify_settings"`
	Reminders      []ExportReminder   `json:"reminders"`
	// KnownRedFlags are the red-flag items the therapist marked known and
	// reviewed, RedFlagAcks the red-flag screens they acknowledged.
	KnownRedFlags []ExportKnownRedFlag `json:"known_red_flags"`
	RedFlagAcks   []ExportRedFlagAck   `json:"red_flag_acknowledgements"`
}

type ExportKnownRedFlag struct {
	Item       string        `json:"item"`
	Since      programs.Date `json:"since"`
	MarkedAt   time.Time     `json:"marked_at"`
	Until      programs.Date `json:"until,omitzero"`
	UnmarkedAt time.Time     `json:"unmarked_at,omitzero"`
}

type ExportRedFlagAck struct {
	CheckInID      int64     `json:"checkin_id"`
	AcknowledgedAt time.Time `json:"acknowledged_at"`
}

type ExportPatient struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Timezone  string    `json:"timezone"`
	Discreet  bool      `json:"discreet"`
	Alarm     bool      `json:"alarm"`
	CreatedAt time.Time `json:"created_at"`
}

type ExportAssignment struct {
	ID        int64           `json:"id"`
	ProgramID string          `json:"program_id"`
	Program   string          `json:"program"` // the program as assigned, YAML
	Start     programs.Date   `json:"start"`
	Params    json.RawMessage `json:"params"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type ExportCheckIn struct {
	ID           int64 `json:"id"`
	AssignmentID int64 `json:"assignment_id,omitempty"`
	programs.CheckIn
	CreatedAt time.Time `json:"created_at"`
}

type ExportOverride struct {
	ID           int64                 `json:"id"`
	AssignmentID int64                 `json:"assignment_id"`
	Date         programs.Date         `json:"date"`
	Kind         programs.OverrideKind `json:"kind"`
	Activity     string                `json:"activity,omitempty"`
	Value        int                   `json:"value,omitempty"`
	CreatedAt    time.Time             `json:"created_at"`
}

type ExportSession struct {
	ID           int64           `json:"id"`
	AssignmentID int64           `json:"assignment_id"`
	Activity     string          `json:"activity"`
	Date         programs.Date   `json:"date"`
	Time         programs.Clock  `json:"time"`
	Dose         int             `json:"dose"`
	Sets         int             `json:"sets"`
	Unit         programs.Unit   `json:"unit"`
	Week         int             `json:"week"`
	Status       programs.Status `json:"status"`
	Projected    bool            `json:"projected"`
	Revision     int             `json:"revision"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

type ExportSettings struct {
	QuietStart  programs.Clock `json:"quiet_start"`
	QuietEnd    programs.Clock `json:"quiet_end"`
	QuietDrop   bool           `json:"quiet_drop"`
	LeadMinutes int            `json:"lead_minutes"`
	NudgeHours  int            `json:"nudge_hours"`
	Language    string         `json:"language"`
}

type ExportReminder struct {
	Kind       string    `json:"kind"`
	SessionID  int64     `json:"session_id,omitempty"`
	DueAt      time.Time `json:"due_at"`
	Status     string    `json:"status"`
	SkipReason string    `json:"skip_reason,omitempty"`
	Attempts   int       `json:"attempts"`
	SentAt     time.Time `json:"sent_at,omitzero"`
}

// ExportWeek is a stored weekly decision, with its reason in the patient's
// language.
type ExportWeek struct {
	AssignmentID int64          `json:"assignment_id"`
	Week         int            `json:"week"`
	Activity     string         `json:"activity,omitempty"`
	Code         programs.Code  `json:"code"`
	Facts        programs.Facts `json:"facts"`
	Reason       string         `json:"reason"`
}

// ExportEvent is a stored event, with its reason in the patient's language.
type ExportEvent struct {
	AssignmentID int64          `json:"assignment_id"`
	Date         programs.Date  `json:"date"`
	Code         programs.Code  `json:"code"`
	Activity     string         `json:"activity,omitempty"`
	Facts        programs.Facts `json:"facts"`
	Reason       string         `json:"reason"`
}

// Export gathers everything stored about the therapist's patient;
// ErrNotFound when the patient is not theirs.
func (c *Clinic) Export(ctx context.Context, therapistID, patientID int64) (Export, error) {
	d, err := c.Store.PatientData(ctx, therapistID, patientID)
	if err != nil {
		return Export{}, err
	}
	p := d.Patient
	out := Export{
		ExportedAt: c.Now().UTC().Truncate(time.Second),
		Patient:    ExportPatient{p.ID, p.Name, p.Email, p.Timezone, p.Discreet, p.Alarm, p.CreatedAt.UTC()},
		// Empty lists, not null, so a reader need not tell the two apart.
		Assignments: []ExportAssignment{}, CheckIns: []ExportCheckIn{}, Overrides: []ExportOverride{},
		Sessions: []ExportSession{}, Weeks: []ExportWeek{}, Events: []ExportEvent{},
	}
	progs := map[int64]*programs.Program{}
	for _, a := range d.Assignments {
		params, err := json.Marshal(a.Params)
		if err != nil {
			return out, err
		}
		progs[a.ID] = a.Program
		out.Assignments = append(out.Assignments, ExportAssignment{a.ID, a.ProgramID, string(a.Program.YAML()), a.Start, params,
			a.Status, a.CreatedAt.UTC(), a.UpdatedAt.UTC()})
	}
	for _, c := range d.CheckIns {
		ci := c.CheckIn
		ci.At = time.Time{} // the same instant as created_at
		out.CheckIns = append(out.CheckIns, ExportCheckIn{c.ID, c.AssignmentID, ci, c.CreatedAt.UTC()})
	}
	for _, o := range d.Overrides {
		out.Overrides = append(out.Overrides, ExportOverride{o.ID, o.AssignmentID, o.Date, o.Kind, o.Activity, o.Value, o.CreatedAt.UTC()})
	}
	out.KnownRedFlags, out.RedFlagAcks = []ExportKnownRedFlag{}, []ExportRedFlagAck{}
	for _, k := range d.KnownRedFlags {
		out.KnownRedFlags = append(out.KnownRedFlags, ExportKnownRedFlag{k.Item, k.Since, k.MarkedAt.UTC(), k.Until, k.UnmarkedAt.UTC()})
	}
	for _, a := range d.RedFlagAcks {
		out.RedFlagAcks = append(out.RedFlagAcks, ExportRedFlagAck{a.CheckInID, a.AcknowledgedAt.UTC()})
	}
	for _, x := range d.Sessions {
		out.Sessions = append(out.Sessions, ExportSession{x.ID, x.AssignmentID, x.Activity, x.Date, x.Time, x.Dose, x.Sets,
			x.Unit, x.Week, x.Status, x.Projected, x.Revision, x.UpdatedAt.UTC()})
	}
	// The reminder side: channels (a Web Push subscription's keys stay out:
	// they belong to the browser), settings and every reminder row.
	chs, err := c.Store.Channels(ctx, p.ID)
	if err != nil {
		return out, err
	}
	out.Channels = PublicChannels(chs)
	set, err := c.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return out, err
	}
	out.NotifySettings = ExportSettings{programs.Clock(set.QuietStart), programs.Clock(set.QuietEnd), set.QuietDrop,
		set.LeadMinutes, set.NudgeHours, set.Language}
	cat := i18n.For(i18n.Parse(set.Language))
	for _, sp := range d.Plans {
		prog := progs[sp.Header.AssignmentID]
		for _, w := range sp.Weeks {
			out.Weeks = append(out.Weeks, ExportWeek{sp.Header.AssignmentID, w.Week, w.Activity, w.Decision.Code,
				w.Decision.Facts, cat.Reason(prog, w.Decision)})
		}
		for _, e := range sp.Events {
			out.Events = append(out.Events, ExportEvent{sp.Header.AssignmentID, e.Date, e.Code, e.Activity, e.Facts,
				cat.Event(prog, e.Event, 0, "")})
		}
	}
	rs, err := c.Store.Reminders(ctx, p.ID, time.Time{})
	if err != nil {
		return out, err
	}
	out.Reminders = []ExportReminder{}
	for _, x := range rs {
		out.Reminders = append(out.Reminders, ExportReminder{x.Kind, x.SessionID, x.DueAt.UTC(), x.Status, x.SkipReason,
			x.Attempts, x.SentAt.UTC()})
	}
	return out, nil
}
