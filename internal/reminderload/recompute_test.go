package reminderload_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/reminderload"
	"pacer/internal/store"
	"pacer/programs"
)

// The review re-plans a patient by recomputing their stored plan instead of
// reading its rows back (ReplanBatch); it must write what a re-plan that
// reads them (Replan) writes. Each template of a seeded population has a
// copy with the same history: re-plan templates one way and copies the
// other, day after day across week boundaries, and compare their rows.
func TestReviewRecomputesWhatAReplanReads(t *testing.T) {
	ctx := t.Context()
	dsn := filepath.Join(t.TempDir(), "pacer.db")
	key := bytes.Repeat([]byte("k"), 32)
	p := reminderload.Population{Patients: 16, Now: time.Date(2026, 11, 25, 15, 7, 0, 0, time.UTC),
		Zones: []reminderload.Zone{{"Europe/Berlin", 1}}, HookURL: "https://127.0.0.1:9", Key: key}
	seeded, err := reminderload.SeedPopulation(ctx, dsn, p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var over atomic.Int64
	st.SetObserver(func(op string, _ time.Time, err error) {
		if op == "save_plan_over" && err == nil {
			over.Add(1)
		}
	})
	keys, _ := clinic.NewKeyring(key)
	lib, _ := programs.LoadLibrary()
	base, _ := url.Parse("https://pacer.invalid")
	now := p.Now
	c := &clinic.Clinic{Store: st, Keys: keys, BaseURL: base, Library: lib, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler)}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	templates := seeded.Templates["Europe/Berlin"]
	for day := 1; day <= 9; day++ {
		now = p.Now.Add(time.Duration(day) * 24 * time.Hour)
		errs, err := c.ReplanBatch(ctx, templates)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range templates {
			if errs[i] != nil {
				t.Fatalf("day %d: template %d: %v", day, id, errs[i])
			}
			copyID := templates[len(templates)-1] + int64(i) + 1 // each template's one copy follows the templates
			if err := c.Replan(ctx, copyID); err != nil {
				t.Fatal(err)
			}
			a, b := rowsOf(t, ctx, db, id), rowsOf(t, ctx, db, copyID)
			if a != b {
				t.Fatalf("day %d: the review's re-plan of patient %d wrote\n%s\nand a re-plan of its copy %d\n%s", day, id, a, copyID, b)
			}
		}
	}
	if n := over.Load(); n < int64(len(templates))*8 {
		t.Errorf("the review recomputed stored plans %d times in 9 days of %d patients", n, len(templates))
	}
}

// rowsOf is what a patient's rows hold, without ids and keys.
func rowsOf(t *testing.T, ctx context.Context, db *sql.DB, patient int64) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT activity, date, slot, time, dose, sets, unit, week, status, projected, actual, pain, calibration, extra, cause, shown, revision, updated_at FROM sessions WHERE patient_id = ? ORDER BY date, activity, slot`,
		`SELECT rules_version, now, planned_at, weeks, pause, paused_on, answers, flare_on, persistent, digest FROM plans WHERE patient_id = ?`,
		`SELECT week, activity, start_date, projected, code, decided_for, facts, unit, dose, sets, goal, threshold, learned, ceiling, done, planned, signals FROM plan_weeks WHERE assignment_id IN (SELECT id FROM assignments WHERE patient_id = ?) ORDER BY week, activity`,
		`SELECT week, seq, date, code, activity, facts FROM plan_events WHERE assignment_id IN (SELECT id FROM assignments WHERE patient_id = ?) ORDER BY week, seq`,
		`SELECT r.kind, s.date, r.due_at, r.status, r.skip_reason, r.payload IS NULL FROM reminders r LEFT JOIN sessions s ON s.id = r.session_id WHERE r.patient_id = ? ORDER BY r.due_at, r.kind`,
		`SELECT feed_version FROM patients WHERE id = ?`,
	} {
		rows, err := db.QueryContext(ctx, q, patient)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}
