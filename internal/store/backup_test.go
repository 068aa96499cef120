package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"pacer/programs"
)

func TestBackupWhileWritingAndRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "pacer.db"))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	th := mkTherapist(t, s, "t@example.org")
	stable, moving := mkPatient(t, s, th.ID, "Stable"), mkPatient(t, s, th.ID, "Moving")
	fillPatient(t, s, stable)
	a := fillPatient(t, s, moving)

	// A writer logs check-ins for one patient while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.AddCheckIn(ctx, CheckIn{PatientID: moving.ID, CheckIn: programs.CheckIn{
				Date: a.Start.AddDays(i % 14), Kind: programs.DailyCheckIn, Pain: intp(i % 11)}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	backup := filepath.Join(dir, "backup.db")
	version, err := s.Backup(ctx, backup, false)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations(SQLite)
	if version != len(ms) {
		t.Errorf("backup schema version %d, want %d", version, len(ms))
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.partial")); len(left) > 0 {
		t.Errorf("partial files left: %v", left)
	}
	if _, err := s.Backup(ctx, backup, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup over an existing file: %v", err)
	}

	restored := filepath.Join(dir, "restored", "pacer.db")
	if v, err := Restore(ctx, "sqlite:"+restored, backup, false); err != nil || v != version {
		t.Fatalf("restore: %d %v", v, err)
	}
	r := openStore(t, restored)
	if err := r.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	want, err := s.PatientData(ctx, th.ID, stable.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.PatientData(ctx, th.ID, stable.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("the stable patient differs after the round trip (%v):\n%+v\nwant\n%+v", err, got, want)
	}
	// The moving patient's check-ins are a prefix of the source's: the
	// backup is one snapshot, not a torn mix.
	src, _ := s.PatientData(ctx, th.ID, moving.ID)
	got, err := r.PatientData(ctx, th.ID, moving.ID)
	if err != nil || len(got.CheckIns) < 2 || len(got.CheckIns) > len(src.CheckIns) ||
		!reflect.DeepEqual(got.CheckIns, src.CheckIns[:len(got.CheckIns)]) {
		t.Errorf("the moving patient's check-ins are not a prefix: %d of %d (%v)", len(got.CheckIns), len(src.CheckIns), err)
	}
	t.Logf("the backup holds %d of %d check-ins written meanwhile", len(got.CheckIns)-2, len(src.CheckIns)-2)

	// Restoring over a database: refused without replace, and while open.
	if _, err := Restore(ctx, "sqlite:"+restored, backup, false); err == nil || !strings.Contains(err.Error(), "add --force") {
		t.Errorf("restore over an existing database: %v", err)
	}
	if _, err := Restore(ctx, "sqlite:"+restored, backup, true); err == nil || !strings.Contains(err.Error(), "is in use; stop pacer") {
		t.Errorf("restore over a database in use: %v", err)
	}
	r.Close()
	if _, err := Restore(ctx, restored, backup, true); err != nil {
		t.Errorf("restore with replace once closed: %v", err)
	}
	if _, err := Restore(ctx, backup, backup, true); err == nil || !strings.Contains(err.Error(), "the backup is the database itself") {
		t.Errorf("restore onto itself: %v", err)
	}
	if _, err := Restore(ctx, "postgres://x@h/db", backup, true); !errors.Is(err, ErrPostgresBackup) {
		t.Errorf("restore to PostgreSQL: %v", err)
	}
}

func TestCheckBackupRejects(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte(strings.Repeat("not a database\n", 100)), 0o600)
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`CREATE TABLE t (x)`)
	db.Close()
	s := openStore(t, filepath.Join(dir, "pacer.db"))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.db")
	if _, err := s.Backup(ctx, newer, false); err != nil {
		t.Fatal(err)
	}
	db, _ = sql.Open("sqlite", newer)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, x := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.db"), "no such file"},
		{text, "is not an SQLite database"},
		{other, "is an SQLite database but not pacer's"},
		{newer, "has schema version 99; this pacer knows versions 1 to"},
	} {
		if _, err := CheckBackup(ctx, x.path); err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%s: got %v, want %q", filepath.Base(x.path), err, x.want)
		}
		if _, err := Restore(ctx, filepath.Join(dir, "target.db"), x.path, true); err == nil {
			t.Errorf("restored from %s", filepath.Base(x.path))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "target.db")); !os.IsNotExist(err) {
		t.Errorf("a refused restore created the target: %v", err)
	}
}

func TestBackupOnPostgresSaysPgDump(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		_, err := s.Backup(t.Context(), filepath.Join(t.TempDir(), "b.db"), false)
		if s.Dialect() == Postgres && (!errors.Is(err, ErrPostgresBackup) || !strings.Contains(err.Error(), "pg_dump")) {
			t.Errorf("PostgreSQL backup: %v", err)
		}
		if s.Dialect() == SQLite && err != nil {
			t.Errorf("SQLite backup: %v", err)
		}
	})
}
