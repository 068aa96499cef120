package daemon

import (
	"context"
	"errors"
	"fmt"

	"pacer/internal/clinic"
	"pacer/internal/config"
	"pacer/internal/store"
)

// SecretKey reads the key the database st's links are derived from, and
// the file it is in. A missing default key file is created only for a
// database that has never had a key: one whose links were made with a key
// (a fingerprint is stored, or it has patients from before fingerprints
// were stored) refuses, naming the file to use, since a new key would make
// every link it handed out answer 404. New then checks that the key is the
// one whose fingerprint the database holds.
func SecretKey(ctx context.Context, cfg *config.Config, st *store.Store) ([]byte, string, error) {
	path, err := cfg.KeyFile()
	if err != nil {
		return nil, "", err
	}
	if cfg.SecretKeyFile == "" && !cfg.KeyExists() {
		_, stored, err := st.KeyFingerprint(ctx)
		switch {
		case err == nil:
			return nil, path, fmt.Errorf("the secret key %s does not exist, and this database's links were made with the key in %s: "+
				"copy that file to %s, or set PACER_SECRET_KEY_FILE to it; a new key would make every patient's link stop working",
				path, stored, path)
		case !errors.Is(err, store.ErrNotFound):
			return nil, path, err
		}
		has, err := st.HasPatients(ctx)
		if err != nil {
			return nil, path, err
		}
		if has {
			return nil, path, fmt.Errorf("the secret key %s does not exist, and this database has patients whose links were made "+
				"with a key: set PACER_SECRET_KEY_FILE to the key file used with it (by default secret.key in the state directory, "+
				"%s), or copy it to %s; a new key would make every patient's link stop working", path, cfg.StateDir, path)
		}
	}
	key, path, err := cfg.SecretKey(true)
	if err != nil {
		return nil, path, err
	}
	keys, err := clinic.NewKeyring(key)
	if err != nil {
		return nil, path, err
	}
	if stored, storedFile, err := st.KeyFingerprint(ctx); err == nil && stored != keys.Fingerprint() {
		return nil, path, wrongKey(path, storedFile)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, path, err
	}
	return key, path, nil
}

func wrongKey(keyFile, storedFile string) error {
	return fmt.Errorf("the secret key %s is not the key this database's links were made with, which was read from %s: "+
		"start pacer with that file (PACER_SECRET_KEY_FILE=%s); with another key every patient's link would answer 404",
		keyFile, storedFile, storedFile)
}

// checkKey records the key's fingerprint in a database that has none, and
// refuses a key whose fingerprint differs from the one recorded, naming
// the file the database's key was read from.
func checkKey(ctx context.Context, st *store.Store, keys clinic.Keyring, keyFile string) error {
	if keyFile == "" {
		keyFile = "(given to daemon.New)"
	}
	stored, storedFile, err := st.SetKeyFingerprint(ctx, keys.Fingerprint(), keyFile)
	if err != nil {
		return err
	}
	if stored != keys.Fingerprint() {
		return wrongKey(keyFile, storedFile)
	}
	return nil
}
