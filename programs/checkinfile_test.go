package programs

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// interfacesExample is the check-ins file of design/interfaces.md.
const interfacesExample = `[{"date":"2026-11-23","kind":"session","activity":"walk","status":"done","dose":8,"pain":3},
 {"date":"2026-11-24","kind":"daily","pain":4},
 {"date":"2026-12-20","kind":"flare"},
 {"date":"2026-12-23","kind":"settled"},
 {"date":"2026-12-28","kind":"weekly","function":6,"symptoms":4,"confidence":7},
 {"date":"2027-01-02","kind":"red_flag","answers":["saddle_numbness"]}]`

func walkingTemplate(t *testing.T) *Program {
	t.Helper()
	p, ok := loadLibrary(t).Get("walking")
	if !ok {
		t.Fatal("no walking template")
	}
	return p
}

func intp(v int) *int { return &v }

func TestReadCheckInsInterfacesExample(t *testing.T) {
	cs, ovs, err := ReadCheckIns(walkingTemplate(t), strings.NewReader(interfacesExample))
	if err != nil {
		t.Fatalf("ReadCheckIns: %v", err)
	}
	want := []CheckIn{
		{Date: MakeDate(2026, time.November, 23), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: intp(8), Pain: intp(3)},
		{Date: MakeDate(2026, time.November, 24), Kind: DailyCheckIn, Pain: intp(4)},
		{Date: MakeDate(2026, time.December, 20), Kind: FlareCheckIn},
		{Date: MakeDate(2026, time.December, 23), Kind: SettledCheckIn},
		{Date: MakeDate(2026, time.December, 28), Kind: WeeklyCheckIn, Function: intp(6), Symptoms: intp(4), Confidence: intp(7)},
		{Date: MakeDate(2027, time.January, 2), Kind: RedFlagCheckIn, Answers: []string{"saddle_numbness"}},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("check-ins =\n%+v\nwant\n%+v", cs, want)
	}
	if len(ovs) != 0 {
		t.Errorf("overrides = %+v, want none", ovs)
	}
}

func TestReadCheckInsOverrides(t *testing.T) {
	in := `[{"date":"2026-11-23","kind":"pause"},
 {"date":"2026-11-30","kind":"resume"},
 {"date":"2026-12-01","kind":"override","activity":"walk","threshold":20}]`
	cs, ovs, err := ReadCheckIns(walkingTemplate(t), strings.NewReader(in))
	if err != nil {
		t.Fatalf("ReadCheckIns: %v", err)
	}
	want := []Overriding{
		{Date: MakeDate(2026, time.November, 23), Kind: PauseOverride},
		{Date: MakeDate(2026, time.November, 30), Kind: ResumeOverride},
		{Date: MakeDate(2026, time.December, 1), Kind: ThresholdOverride, Activity: "walk", Value: 20},
	}
	if len(cs) != 0 || !reflect.DeepEqual(ovs, want) {
		t.Errorf("check-ins %+v, overrides %+v; want none and %+v", cs, ovs, want)
	}
}

// Version 2 of the format: the answer to "still in a flare-up?", red-flag
// answers said to be worse, and items the therapist marked known.
func TestReadCheckInFileV2(t *testing.T) {
	in := `[{"date":"2026-12-27","kind":"still_in_flare","yes":true},
 {"date":"2027-01-03","kind":"still_in_flare","yes":false},
 {"date":"2027-01-02","kind":"red_flag_known","answers":["weight_loss_cancer","night_pain"]},
 {"date":"2027-01-09","kind":"red_flag","answers":["weight_loss_cancer","night_pain"],"worse":["night_pain"]}]`
	f, err := ReadCheckInFile(walkingTemplate(t), strings.NewReader(in))
	if err != nil {
		t.Fatalf("ReadCheckInFile: %v", err)
	}
	yes, no := true, false
	want := CheckInFile{
		CheckIns: []CheckIn{
			{Date: MakeDate(2026, time.December, 27), Kind: StillInFlareCheckIn, Yes: &yes},
			{Date: MakeDate(2027, time.January, 3), Kind: StillInFlareCheckIn, Yes: &no},
			{Date: MakeDate(2027, time.January, 9), Kind: RedFlagCheckIn, Answers: []string{"weight_loss_cancer", "night_pain"}, Worse: []string{"night_pain"}},
		},
		Known: []KnownRedFlag{{ID: "weight_loss_cancer", Since: MakeDate(2027, time.January, 2)}, {ID: "night_pain", Since: MakeDate(2027, time.January, 2)}},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("file =\n%+v\nwant\n%+v", f, want)
	}
	for _, tc := range []struct{ in, want string }{
		{`[{"date":"2027-01-02","kind":"red_flag_known"}]`, "entry 1 (2027-01-02 red_flag_known): red_flag_known takes a date and the answers the therapist marks known and reviewed"},
		{`[{"date":"2027-01-02","kind":"red_flag_known","answers":["headache"]}]`, `entry 1 (2027-01-02 red_flag_known): unknown red-flag answer "headache"`},
		{`[{"date":"2027-01-02","kind":"still_in_flare"}]`, `entry 1 (2027-01-02 still_in_flare): a still_in_flare check-in needs "yes": true (still in a flare-up) or false (it has settled)`},
		{`[{"date":"2027-01-02","kind":"pause","answers":["night_pain"]}]`, "entry 1 (2027-01-02 pause): pause takes only a date and its kind"},
	} {
		if _, err := ReadCheckInFile(walkingTemplate(t), strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReadCheckInsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{name: "impossible date",
			in:   `[{"date":"2026-02-28","kind":"daily","pain":2},{"date":"2026-02-30","kind":"daily","pain":4}]`,
			want: `entry 2: "2026-02-30" is not a date: write YYYY-MM-DD, e.g. 2026-11-23`},
		{name: "missing date",
			in:   `[{"kind":"daily","pain":4}]`,
			want: `entry 1: date is missing: write YYYY-MM-DD`},
		{name: "unknown activity",
			in:   `[{"date":"2026-11-23","kind":"session","activity":"run","status":"done"}]`,
			want: `entry 1 (2026-11-23 session): unknown activity "run" (this program has walk)`},
		{name: "unknown kind",
			in:   `[{"date":"2026-11-23","kind":"nap"}]`,
			want: `entry 1 (2026-11-23 nap): unknown kind "nap": use session, daily, flare, still_in_flare, settled, weekly or red_flag`},
		{name: "pain 11",
			in:   `[{"date":"2026-11-23","kind":"daily","pain":11}]`,
			want: `entry 1 (2026-11-23 daily): pain 11 is outside 0-10`},
		{name: "unknown field",
			in:   `[{"date":"2026-11-23","kind":"daily","pain":4,"mood":3}]`,
			want: `entry 1: unknown field "mood"`},
		{name: "red-flag answer that does not exist",
			in:   `[{"date":"2026-11-23","kind":"red_flag","answers":["headache"]}]`,
			want: `entry 1 (2026-11-23 red_flag): unknown red-flag answer "headache" (known: saddle_numbness, bladder_bowel, leg_weakness, fever_unwell, weight_loss_cancer, fall_injury, immune_drugs, night_pain)`},
		{name: "override with two values",
			in:   `[{"date":"2026-11-23","kind":"override","activity":"walk","dose":10,"goal":20}]`,
			want: `entry 1 (2026-11-23 override): an override sets exactly one of dose, threshold or goal`},
		{name: "override of an unknown activity",
			in:   `[{"date":"2026-11-23","kind":"override","activity":"run","dose":10}]`,
			want: `entry 1 (2026-11-23 override): unknown activity "run" (this program has walk)`},
		{name: "threshold on a check-in",
			in:   `[{"date":"2026-11-23","kind":"daily","pain":4,"threshold":20}]`,
			want: `entry 1 (2026-11-23 daily): threshold and goal belong to an override entry`},
		{name: "every bad entry is named",
			in: `[{"date":"2026-11-23","kind":"daily","pain":4},
 {"date":"2026-11-24","kind":"daily","pain":-1},
 {"date":"2026-11-25","kind":"session","activity":"walk","status":"done"},
 {"date":"2026-11-26","kind":"session","activity":"walk","status":"maybe"}]`,
			want: "entry 2 (2026-11-24 daily): pain -1 is outside 0-10\n" +
				`entry 4 (2026-11-26 session): unknown status "maybe": use done, partial or skipped`},
		{name: "not an array",
			in:   `{"date":"2026-11-23","kind":"daily","pain":4}`,
			want: `check-ins must be a JSON array of objects, not a JSON object`},
		{name: "pain as text",
			in:   `[{"date":"2026-11-23","kind":"daily","pain":"4"}]`,
			want: `entry 1: pain must be a whole number, not a JSON string`},
		{name: "entry not an object",
			in:   `[4]`,
			want: `entry 1: must be an object, not a JSON number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadCheckIns(walkingTemplate(t), strings.NewReader(tc.in))
			got := "(no error)"
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDecodeCheckIn(t *testing.T) {
	p := walkingTemplate(t)
	c, err := DecodeCheckIn(p, []byte(`{"date":"2026-11-23","kind":"session","activity":"walk","status":"partial","dose":5,"time":"07:30"}`))
	want := CheckIn{Date: MakeDate(2026, time.November, 23), Kind: SessionCheckIn, Activity: "walk", Status: Partial,
		Dose: intp(5), Time: new(Clock(7*60 + 30))}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Errorf("DecodeCheckIn = %+v, %v; want %+v", c, err, want)
	}
	for in, wantErr := range map[string]string{
		`{"kind":"daily","pain":4}`:                                       "date is missing: write YYYY-MM-DD",
		`{"date":"2026-11-23","kind":"daily","pain":4,"mood":1}`:          `unknown field "mood"`,
		`{"date":"2026-11-23","kind":"daily"}`:                            "a daily check-in needs pain (0-10)",
		`{"date":"2026-11-23","kind":"session","activity":"walk"}`:        "a session check-in needs a status: done, partial or skipped",
		`{"date":"2026-11-23","kind":"weekly","function":3,"symptoms":4}`: "a weekly check-in needs function, symptoms and confidence (each 0-10)",
		`{"date":"2026-11-23","kind":"daily","pain":4} {}`:                "more than one JSON value",
	} {
		if _, err := DecodeCheckIn(p, []byte(in)); err == nil || err.Error() != wantErr {
			t.Errorf("DecodeCheckIn(%s) = %v, want %q", in, err, wantErr)
		}
	}
}

func TestReadCheckInsPauseTakesOnlyADate(t *testing.T) {
	_, _, err := ReadCheckIns(walkingTemplate(t), strings.NewReader(`[{"date":"2026-01-05","kind":"pause","activity":"walk","dose":5}]`))
	if want := "entry 1 (2026-01-05 pause): pause takes only a date and its kind"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
