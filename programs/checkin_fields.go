package programs

import (
	"fmt"
	"slices"
	"strings"
)

// checkFields reports the fields a check-in carries that do not belong to
// its kind (pain on a flare, answers on a session…): the engine would ignore
// them, so the sender would believe something was recorded that was not.
func (c *CheckIn) checkFields() error {
	set := map[string]bool{
		"activity": c.Activity != "", "time": c.Time != nil, "status": c.Status != "", "dose": c.Dose != nil,
		"pain": c.Pain != nil, "function": c.Function != nil, "symptoms": c.Symptoms != nil,
		"confidence": c.Confidence != nil, "answers": len(c.Answers) > 0,
	}
	var allowed []string
	switch c.Kind {
	case SessionCheckIn:
		allowed = []string{"activity", "time", "status", "dose", "pain"}
	case DailyCheckIn:
		allowed = []string{"pain"}
	case WeeklyCheckIn:
		allowed = []string{"function", "symptoms", "confidence"}
	case RedFlagCheckIn:
		allowed = []string{"answers"}
	case FlareCheckIn, SettledCheckIn:
	default:
		return nil // Validate names the unknown kind
	}
	var extra []string
	for _, f := range []string{"activity", "time", "status", "dose", "pain", "function", "symptoms", "confidence", "answers"} {
		if set[f] && !slices.Contains(allowed, f) {
			extra = append(extra, f)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	want := "no other fields"
	if len(allowed) > 0 {
		want = "only " + strings.Join(allowed, ", ")
	}
	return fmt.Errorf("%s do not belong to a %s check-in, which takes %s besides date and kind: leave them out",
		strings.Join(extra, ", "), c.Kind, want)
}
