package main

import (
	"context"
	"fmt"

	"pacer/internal/config"
	"pacer/internal/store"
)

// backup writes an online copy of the SQLite store while pacer keeps running.
func (c *cli) backup(ctx context.Context, args []string) error {
	fs := newFlags(c, "backup", "pacer backup --to FILE [--force] [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	to := fs.String("to", "", "the backup file to write (required)")
	force := fs.Bool("force", false, "replace FILE if it exists")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("backup takes no arguments")
	}
	if *to == "" {
		return usagef("backup needs --to FILE")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	if cfg.Postgres() {
		return store.ErrPostgresBackup
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Backup(ctx, *to, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backed up %s to %s (schema version %d)\n", describeDSN(cfg.DSN()), *to, v)
	keyNote(c, cfg)
	return nil
}

// restore replaces the SQLite store with a backup; pacer must be stopped.
func (c *cli) restore(ctx context.Context, args []string) error {
	fs := newFlags(c, "restore", "pacer restore --from FILE [--force] [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	from := fs.String("from", "", "the backup file to restore (required)")
	force := fs.Bool("force", false, "replace an existing database (stop pacer first)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("restore takes no arguments")
	}
	if *from == "" {
		return usagef("restore needs --from FILE")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	v, err := store.Restore(ctx, cfg.DSN(), *from, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s from %s (schema version %d); start pacer to use it\n", describeDSN(cfg.DSN()), *from, v)
	keyNote(c, cfg)
	return nil
}

// keyNote reminds that links need the secret key that goes with the data.
func keyNote(c *cli, cfg *config.Config) {
	keyFile, err := cfg.KeyFile()
	if err != nil {
		keyFile = "PACER_SECRET_KEY_FILE"
	}
	fmt.Fprintf(c.stderr, "Feed and check-in links also need the secret key (%s): keep a copy of it with the backup.\n", keyFile)
}
