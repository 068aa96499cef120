package reminderload_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pacer/internal/reminderload"
	"pacer/internal/store"
	"pacer/programs"
)

// A seeded population is what pacer writes itself: re-planning copies (and
// templates) at the instant they were seeded changes nothing, no plan is
// stale, and no patient is behind their day.
func TestSeedPopulationIsWhatPacerWrites(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { seedPopulation(t, filepath.Join(t.TempDir(), "pacer.db")) })
	base := os.Getenv("PACER_TEST_POSTGRES_URL")
	if base == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := reminderload.PostgresSchema(t.Context(), base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Error(err)
			}
		})
		seedPopulation(t, dsn)
	})
}

func seedPopulation(t *testing.T, dsn string) {
	ctx := t.Context()
	p := reminderload.Population{Patients: 40, Now: time.Date(2026, 11, 25, 15, 7, 0, 0, time.UTC),
		Zones:   []reminderload.Zone{{"Europe/Berlin", 2}, {"America/New_York", 1}, {"Australia/Sydney", 1}},
		HookURL: "https://127.0.0.1:9", Key: bytes.Repeat([]byte("k"), 32)}
	seeded, err := reminderload.SeedPopulation(ctx, dsn, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(seeded.Templates) != 3 || len(seeded.Templates["Europe/Berlin"]) != 8 || len(seeded.Feeds) == 0 {
		t.Errorf("templates %v, %d feeds", seeded.Templates, len(seeded.Feeds))
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.ActivePatientsAfter(ctx, 0, 100)
	if err != nil || len(ps) != 40 {
		t.Fatalf("%d active patients, %v", len(ps), err)
	}
	if stale, err := st.StalePatients(ctx, programs.RulesVersion); err != nil || len(stale) != 0 {
		t.Errorf("stale patients %v, %v", stale, err)
	}
	zones, err := st.ZonesInUse(ctx)
	if err != nil || len(zones) != 3 {
		t.Fatalf("zones %v, %v", zones, err)
	}
	for _, z := range zones {
		loc, _ := time.LoadLocation(z)
		today := programs.DateOf(p.Now.In(loc))
		if behind, err := st.PatientsBehind(ctx, z, today, 0, 100); err != nil || len(behind) != 0 {
			t.Errorf("%s: behind %v, %v", z, behind, err)
		}
		if behind, err := st.PatientsBehind(ctx, z, today.AddDays(1), 0, 100); err != nil || len(behind) == 0 {
			t.Errorf("%s: none behind tomorrow, %v", z, err)
		}
	}
	for _, p := range ps[:3] {
		xs, err := st.Sessions(ctx, p.ID, 0, 1<<30)
		if err != nil || len(xs) < 20 {
			t.Fatalf("patient %d: %d sessions, %v", p.ID, len(xs), err)
		}
	}
	var sample []int64
	for _, p := range ps {
		sample = append(sample, p.ID)
	}
	if err := reminderload.VerifyPopulation(ctx, dsn, p, sample); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPopulationSeesAChange(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "pacer.db")
	p := reminderload.Population{Patients: 4, Templates: 1, Now: time.Date(2026, 11, 25, 15, 7, 0, 0, time.UTC),
		Zones: []reminderload.Zone{{"Europe/Berlin", 1}}, HookURL: "https://127.0.0.1:9", Key: bytes.Repeat([]byte("k"), 32)}
	if _, err := reminderload.SeedPopulation(t.Context(), dsn, p); err != nil {
		t.Fatal(err)
	}
	p.Now = p.Now.Add(24 * time.Hour) // a day on, yesterday's session is missed
	if err := reminderload.VerifyPopulation(t.Context(), dsn, p, []int64{3}); err == nil {
		t.Error("a re-plan a day later changed nothing")
	}
}
