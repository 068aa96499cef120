package programs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// entry is one object of the check-ins file: a patient's check-in, or a
// therapist's action (pause, resume, override) for trying plans out.
type entry struct {
	CheckIn
	Threshold *int `json:"threshold,omitempty"`
	Goal      *int `json:"goal,omitempty"`
}

// DecodeCheckIn decodes and validates one check-in object (the API's body and
// one element of the check-ins file). Unknown fields are errors.
func DecodeCheckIn(p *Program, data []byte) (CheckIn, error) {
	var c CheckIn
	if err := strictJSON(data, &c); err != nil {
		return c, err
	}
	if c.Date == 0 && !bytes.Contains(data, []byte(`"date"`)) {
		return c, errors.New("date is missing: write YYYY-MM-DD")
	}
	return c, c.Validate(p)
}

// CheckInFile is what a check-ins file holds: the patient's check-ins and,
// for trying plans out, the therapist's actions.
type CheckInFile struct {
	CheckIns  []CheckIn
	Overrides []Overriding
	Known     []KnownRedFlag
}

// ReadCheckIns reads a check-ins file (ReadCheckInFile) for its check-ins
// and overrides.
func ReadCheckIns(p *Program, r io.Reader) ([]CheckIn, []Overriding, error) {
	f, err := ReadCheckInFile(p, r)
	return f.CheckIns, f.Overrides, err
}

// ReadCheckInFile reads a check-ins file: a JSON array of check-in objects,
// plus therapist actions {"kind":"pause"|"resume"}, {"kind":"override",
// "activity":…, "dose"|"threshold"|"goal":…} and {"kind":"red_flag_known",
// "answers":[…]} (red-flag items marked known and reviewed from the entry's
// date; see KnownRedFlag). Every problem names its entry.
func ReadCheckInFile(p *Program, r io.Reader) (CheckInFile, error) {
	var f CheckInFile
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return f, fmt.Errorf("read check-ins: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return f, fmt.Errorf("check-ins must be a JSON array of objects, not a JSON %s", te.Value)
		}
		return f, fmt.Errorf("check-ins are not valid JSON: %s", jsonMessage(err))
	}
	var (
		cs   []CheckIn
		ovs  []Overriding
		errs []error
	)
	for i, raw := range raws {
		var e entry
		if err := strictJSON(raw, &e); err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		}
		where := fmt.Sprintf("entry %d (%s %s)", i+1, e.Date, e.Kind)
		if e.Date == 0 {
			errs = append(errs, fmt.Errorf("entry %d: date is missing: write YYYY-MM-DD", i+1))
			continue
		}
		others := e.Activity != "" || e.Dose != nil || e.Threshold != nil || e.Goal != nil || e.Status != "" ||
			e.Pain != nil || e.Yes != nil || len(e.Worse) > 0
		switch e.Kind {
		case "pause", "resume":
			if others || len(e.Answers) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s takes only a date and its kind", where, e.Kind))
				continue
			}
			ovs = append(ovs, Overriding{Date: e.Date, Kind: OverrideKind(e.Kind)})
			continue
		case "red_flag_known":
			if others || len(e.Answers) == 0 {
				errs = append(errs, fmt.Errorf("%s: red_flag_known takes a date and the answers the therapist marks known and reviewed", where))
				continue
			}
			bad := false
			for _, a := range e.Answers {
				if !isRedFlag(a) {
					errs = append(errs, fmt.Errorf("%s: unknown red-flag answer %q (known: %s)", where, a, redFlagIDs()))
					bad = true
				}
			}
			if !bad {
				for _, a := range e.Answers {
					f.Known = append(f.Known, KnownRedFlag{ID: a, Since: e.Date})
				}
			}
			continue
		case "override":
			o := Overriding{Date: e.Date, Activity: e.Activity}
			n := 0
			for _, f := range []struct {
				k OverrideKind
				v *int
			}{{DoseOverride, e.Dose}, {ThresholdOverride, e.Threshold}, {GoalOverride, e.Goal}} {
				if f.v != nil {
					o.Kind, o.Value, n = f.k, *f.v, n+1
				}
			}
			if n != 1 {
				errs = append(errs, fmt.Errorf("%s: an override sets exactly one of dose, threshold or goal", where))
				continue
			}
			if err := o.Validate(p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			ovs = append(ovs, o)
			continue
		}
		if e.Threshold != nil || e.Goal != nil {
			errs = append(errs, fmt.Errorf("%s: threshold and goal belong to an override entry", where))
			continue
		}
		if err := e.CheckIn.Validate(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		cs = append(cs, e.CheckIn)
	}
	f.CheckIns, f.Overrides = cs, ovs
	return f, errors.Join(errs...)
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(jsonMessage(err))
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// jsonMessage turns encoding/json's errors into what to fix.
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field[strings.LastIndex(te.Field, ".")+1:] // "CheckIn.pain" names a Go type
		if field == "" {
			return fmt.Sprintf("must be %s, not a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("%s must be %s, not a JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"):
		return "a whole number"
	case k == "string":
		return "text"
	case k == "slice":
		return "a list"
	case k == "struct", k == "map":
		return "an object"
	}
	return k
}
