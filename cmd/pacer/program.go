package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"pacer/internal/i18n"
	"pacer/internal/planjson"
	"strings"
	"text/tabwriter"
	"time"

	"pacer/programs"
)

func (c *cli) program(ctx context.Context, args []string) error {
	const usage = "pacer program list|show|validate|plan [ARGS]"
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "Usage: "+usage)
		return usagef("program needs a subcommand: list, show, validate or plan")
	}
	switch args[0] {
	case "list":
		return c.programList(args[1:])
	case "show":
		return c.programShow(args[1:])
	case "validate":
		return c.programValidate(args[1:])
	case "plan":
		return c.programPlan(args[1:])
	}
	return usagef("unknown program subcommand %q: use list, show, validate or plan", args[0])
}

func (c *cli) programList(args []string) error {
	fs := newFlags(c, "program list", "pacer program list [--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("program list takes no arguments")
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return err
	}
	if *asJSON {
		type act struct {
			ID   string        `json:"id"`
			Name string        `json:"name"`
			Kind programs.Kind `json:"kind"`
			Unit programs.Unit `json:"unit"`
		}
		type prog struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Description string `json:"description"`
			Activities  []act  `json:"activities"`
		}
		var out []prog
		for _, p := range lib.All() {
			pr := prog{ID: p.ID, Name: p.Name, Description: p.Description}
			for _, a := range p.Activities {
				pr.Activities = append(pr.Activities, act{a.ID, a.Name, a.Kind, a.Unit})
			}
			out = append(out, pr)
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACTIVITIES")
	for _, p := range lib.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, strings.Join(p.ActivityIDs(), ", "))
	}
	return tw.Flush()
}

// loadProgram resolves ID|FILE: a built-in template id, else a YAML file.
func loadProgram(ref string) (*programs.Program, error) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		return nil, err
	}
	if p, ok := lib.Get(ref); ok {
		return p, nil
	}
	data, err := os.ReadFile(ref)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no template %q and no such file: use one of %s, or a path to a program YAML file",
			ref, strings.Join(lib.IDs(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("read program: %w", err)
	}
	return programs.Parse(ref, data)
}

func (c *cli) programShow(args []string) error {
	fs := newFlags(c, "program show", "pacer program show ID|FILE")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("program show needs one template id or file")
	}
	p, err := loadProgram(pos[0])
	if err != nil {
		return reportProblems(c.stderr, err)
	}
	_, err = c.stdout.Write(p.YAML())
	return err
}

// reportProblems prints validation problems one per line; other errors pass through.
func reportProblems(w io.Writer, err error) error {
	var ps programs.Problems
	if errors.As(err, &ps) {
		fmt.Fprintln(w, ps.Error())
		return errReported
	}
	return err
}

func (c *cli) programValidate(args []string) error {
	fs := newFlags(c, "program validate", "pacer program validate FILE...")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("program validate needs at least one file")
	}
	failed := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(c.stderr, "%s:1:1: cannot read: %v\n", f, errors.Unwrap(err))
			failed = true
			continue
		}
		p, err := programs.Parse(f, data)
		if err != nil {
			reportProblems(c.stderr, err)
			failed = true
			continue
		}
		fmt.Fprintf(c.stdout, "%s: ok (%s, %d activities)\n", f, p.ID, len(p.Activities))
	}
	if failed {
		return errReported
	}
	return nil
}

func (c *cli) programPlan(args []string) error {
	fs := newFlags(c, "program plan", "pacer program plan ID|FILE [--start YYYY-MM-DD] [--now YYYY-MM-DD] [--weeks N] [--tz ZONE] "+
		"[--baseline ACTIVITY=DOSE]... [--threshold ACTIVITY=DOSE]... [--goal ACTIVITY=DOSE]... [--checkins FILE] [--json]")
	var (
		start    = fs.String("start", "", "first day of week 1, YYYY-MM-DD (default: today)")
		nowFlag  = fs.String("now", "", "today's date, YYYY-MM-DD: weeks before it are judged from the check-ins (default: today with --checkins, else the start date)")
		weeks    = fs.Int("weeks", 12, "number of weeks to plan")
		tz       = fs.String("tz", "", "the patient's IANA time zone (default: $TZ, else UTC)")
		checkins = fs.String("checkins", "", "JSON file of check-ins")
		asJSON   = fs.Bool("json", false, "print the plan as JSON")
		base     = doses{}
		thr      = doses{}
		goal     = doses{}
	)
	fs.Var(base, "baseline", "ACTIVITY=DOSE tolerated today (repeatable)")
	fs.Var(thr, "threshold", "ACTIVITY=DOSE known to provoke a flare (repeatable)")
	fs.Var(goal, "goal", "ACTIVITY=DOSE at which to stop rising (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("program plan needs one template id or file")
	}
	p, err := loadProgram(pos[0])
	if err != nil {
		return reportProblems(c.stderr, err)
	}
	zone := *tz
	if zone == "" {
		zone = c.getenv("TZ")
	}
	if zone == "" || zone == "Local" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("--tz %q is not a known time zone: use an IANA name such as Europe/Berlin", zone)
	}
	today := programs.DateOf(c.now().In(loc))
	as := programs.Assignment{Program: p, Location: loc, Weeks: *weeks, Start: today,
		Baseline: base, Threshold: thr, Goal: goal}
	if *start != "" {
		if as.Start, err = programs.ParseDate(*start); err != nil {
			return fmt.Errorf("--start: %w", err)
		}
	}
	now := as.Start
	var file programs.CheckInFile
	if *checkins != "" {
		f, err := os.Open(*checkins)
		if err != nil {
			return fmt.Errorf("--checkins: %w", err)
		}
		file, err = programs.ReadCheckInFile(p, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *checkins, err)
		}
		now = today
	}
	cs, ovs := file.CheckIns, file.Overrides
	as.KnownRedFlags = file.Known
	if *nowFlag != "" {
		if now, err = programs.ParseDate(*nowFlag); err != nil {
			return fmt.Errorf("--now: %w", err)
		}
	}
	for i, ci := range cs {
		if ci.Date > now {
			return fmt.Errorf("%s: entry %d (%s %s) is after today (%s); pass --now to plan as of a later date",
				*checkins, i+1, ci.Date, ci.Kind, now)
		}
	}
	plan, err := programs.Compute(as, cs, ovs, now.In(loc, 12*60))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, planjson.New(plan, p, i18n.For(i18n.English)))
	}
	return writePlanTable(c.stdout, p, plan)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writePlanTable prints a plan as a table, a row per activity and week, with
// mid-week events under their week.
func writePlanTable(w io.Writer, p *programs.Program, plan *programs.Plan) error {
	cat := i18n.For(i18n.English)
	fmt.Fprintf(w, "%s (%s): starts %s, time zone %s, as of %s\n\n", p.Name, plan.Program, plan.Start, plan.Timezone, plan.Now)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WEEK\tSTARTS\tACTIVITY\tDOSE\tSESSIONS\tDECISION\tWHY")
	projected := false
	for _, wk := range plan.Weeks {
		mark := ""
		if wk.Projected {
			mark, projected = "*", true
		}
		for i, aw := range wk.Activities {
			week, starts := fmt.Sprintf("%d%s", wk.Week, mark), wk.Start.String()
			if i > 0 {
				week, starts = "", ""
			}
			a, _ := p.Activity(aw.ID)
			dose := aw.Unit.Format(aw.Dose)
			if aw.Sets > 1 {
				dose = fmt.Sprintf("%d x %s", aw.Sets, dose)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", week, starts, a.ID, dose, sessionSummary(aw.Sessions),
				aw.Decision.Code, cat.Reason(p, aw.Decision))
		}
		for _, ev := range wk.Events {
			fmt.Fprintf(tw, "\t%s\t%s\t\t\t%s\t%s\n", ev.Date, ev.Activity, ev.Code, cat.Event(p, ev, 0, ""))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if projected {
		fmt.Fprintln(w, "\n* projected: assumes every session is done and no flare-up; it changes with what you log.")
	}
	if plan.Paused {
		fmt.Fprintln(w, "\nThe plan is paused.")
	}
	return nil
}

func sessionSummary(ss []programs.Session) string {
	counts := map[programs.Status]int{}
	var order []programs.Status
	for _, s := range ss {
		if counts[s.Status] == 0 {
			order = append(order, s.Status)
		}
		counts[s.Status]++
	}
	if len(ss) == 0 {
		return "none"
	}
	parts := make([]string, len(order))
	for i, st := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[st], st)
	}
	return strings.Join(parts, ", ")
}
