package main

// Therapists' credentials from the command line: adding a therapist and
// sending a new setup link, disabling and enabling one, and creating,
// listing and revoking API tokens. Every command works the same on both
// stores; a token is printed once, alone on stdout.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"pacer/internal/config"
	"pacer/internal/store"
	"pacer/programs"
)

// setupLinkTTL is how long a setup link works, as on the admin page.
const setupLinkTTL = 72 * time.Hour

func (c *cli) user(ctx context.Context, args []string) error {
	const subs = "add, disable, enable or reset-link"
	if len(args) == 0 {
		return usagef("user needs a subcommand: %s", subs)
	}
	switch args[0] {
	case "add":
		return c.userAdd(ctx, args[1:])
	case "disable", "enable", "reset-link":
		return c.userChange(ctx, args[0], args[1:])
	}
	return usagef("unknown user subcommand %q: use %s", args[0], subs)
}

func (c *cli) userAdd(ctx context.Context, args []string) error {
	fs := newFlags(c, "user add", "pacer user add --email E [--name N] [--admin] [--config FILE] [--db DSN] [--base-url URL]")
	flags := storeFlags(fs, "base_url")
	email := fs.String("email", "", "the therapist's email (required)")
	name := fs.String("name", "", "the therapist's name")
	admin := fs.Bool("admin", false, "may add therapists")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("user add takes no arguments")
	}
	if *email == "" {
		return usagef("user add needs --email")
	}
	if a, err := mail.ParseAddress(*email); err != nil || a.Address != *email {
		return fmt.Errorf("--email %q is not an email address: give the whole address, e.g. kim@clinic.example", *email)
	}
	if err := programs.CheckText(*name, false); err != nil || utf8.RuneCountInString(*name) > 200 {
		return fmt.Errorf("--name has a control or direction character, or is longer than 200 characters: give a plain name")
	}
	cfg, st, err := c.openCredentials(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.CreateTherapist(ctx, *email, *name, *admin)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a therapist with the email %s already exists; to send them a new setup link, run pacer user reset-link --email %s",
			*email, *email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Added %s. Send them this one-time link to choose a password (valid for %d hours):\n", t.Email, int(setupLinkTTL.Hours()))
	return c.printSetupLink(ctx, cfg, st, t)
}

// userChange disables or enables a therapist, or prints a new setup link
// for them.
func (c *cli) userChange(ctx context.Context, sub string, args []string) error {
	usage := "pacer user " + sub + " --email E [--config FILE] [--db DSN]"
	keys := []string{}
	if sub == "reset-link" {
		usage += " [--base-url URL]"
		keys = append(keys, "base_url")
	}
	fs := newFlags(c, "user "+sub, usage)
	flags := storeFlags(fs, keys...)
	email := fs.String("email", "", "the therapist's email (required)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("user %s takes no arguments", sub)
	}
	if *email == "" {
		return usagef("user %s needs --email", sub)
	}
	cfg, st, err := c.openCredentials(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.TherapistByEmail(ctx, *email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no therapist has the email %s; add one with pacer user add --email %s", *email, *email)
	}
	if err != nil {
		return err
	}
	switch sub {
	case "disable", "enable":
		if err := st.SetTherapistDisabled(ctx, t.ID, sub == "disable"); err != nil {
			return err
		}
		if sub == "disable" {
			fmt.Fprintf(c.stdout, "disabled %s: they cannot sign in or use their API tokens; their sessions have ended\n", t.Email)
		} else {
			fmt.Fprintf(c.stdout, "enabled %s\n", t.Email)
		}
		return nil
	}
	if !t.DisabledAt.IsZero() {
		return fmt.Errorf("%s is disabled; enable them first with pacer user enable --email %s", t.Email, t.Email)
	}
	fmt.Fprintf(c.stderr, "Send %s this one-time link to choose a new password (valid for %d hours; their password works until they use it):\n",
		t.Email, int(setupLinkTTL.Hours()))
	return c.printSetupLink(ctx, cfg, st, t)
}

// printSetupLink makes a setup link for the therapist and prints it alone
// on stdout.
func (c *cli) printSetupLink(ctx context.Context, cfg *config.Config, st *store.Store, t store.Therapist) error {
	base, err := baseURL(cfg, cfg.Listen)
	if err != nil {
		return err
	}
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	if err := st.CreateSetupToken(ctx, t.ID, store.HashToken(tok), c.now().Add(setupLinkTTL)); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, strings.TrimSuffix(base.String(), "/")+"/setup/"+tok)
	return nil
}

// openCredentials loads the configuration and opens the migrated store.
func (c *cli) openCredentials(ctx context.Context, flags *config.Flags) (*config.Config, *store.Store, error) {
	cfg, err := c.load(flags)
	if err != nil {
		return nil, nil, err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

func (c *cli) token(ctx context.Context, args []string) error {
	const subs = "create, list or revoke"
	if len(args) == 0 {
		return usagef("token needs a subcommand: %s", subs)
	}
	switch args[0] {
	case "create":
		return c.tokenCreate(ctx, args[1:])
	case "list":
		return c.tokenList(ctx, args[1:])
	case "revoke":
		return c.tokenRevoke(ctx, args[1:])
	}
	return usagef("unknown token subcommand %q: use %s", args[0], subs)
}

func (c *cli) tokenCreate(ctx context.Context, args []string) error {
	fs := newFlags(c, "token create", "pacer token create --email E [--name N] [--expires 90d] [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	email := fs.String("email", "", "the therapist the token acts for (required)")
	name := fs.String("name", "cli", "a label for the token")
	expires := fs.String("expires", "", "stop working after this long: days (90d), hours (12h) or minutes (30m); none by default")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("token create takes no arguments")
	}
	if *email == "" {
		return usagef("token create needs --email")
	}
	var until time.Time
	if *expires != "" {
		d, err := parseLifetime(*expires)
		if err != nil {
			return usagef("--expires %s", err)
		}
		until = c.now().Add(d)
	}
	if err := programs.CheckText(*name, false); err != nil || utf8.RuneCountInString(*name) > 100 {
		return usagef("--name has a control or direction character, or is longer than 100 characters: give a plain label")
	}
	_, st, err := c.openCredentials(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.TherapistByEmail(ctx, *email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no therapist has the email %s; add one with pacer user add --email %s", *email, *email)
	}
	if err != nil {
		return err
	}
	if !t.DisabledAt.IsZero() {
		return fmt.Errorf("%s is disabled, and a disabled therapist's tokens do not work; enable them with pacer user enable --email %s",
			t.Email, t.Email)
	}
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	if err := st.CreateExpiringAPIToken(ctx, t.ID, *name, store.HashToken(tok), until); err != nil {
		return err
	}
	if !until.IsZero() {
		fmt.Fprintf(c.stderr, "The token works until %s.\n", until.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(c.stdout, tok) // alone on stdout, shown once
	return nil
}

// parseLifetime reads 90d, 12h, 30m or any Go duration; at most ten years.
func parseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a lifetime: write days (90d), hours (12h) or minutes (30m)", s)
		}
		d = time.Duration(days) * 24 * time.Hour
		if days > 3660 {
			d = -1
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a lifetime: write days (90d), hours (12h) or minutes (30m)", s)
		}
	}
	if d < time.Minute || d > 3660*24*time.Hour {
		return 0, fmt.Errorf("%q: a token lives from one minute to ten years", s)
	}
	return d, nil
}

type tokenJSON struct {
	ID        int64      `json:"id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
}

func (c *cli) tokenList(ctx context.Context, args []string) error {
	fs := newFlags(c, "token list", "pacer token list [--email E] [--json] [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	email := fs.String("email", "", "only this therapist's tokens")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("token list takes no arguments")
	}
	_, st, err := c.openCredentials(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	var therapistID int64
	if *email != "" {
		t, err := st.TherapistByEmail(ctx, *email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no therapist has the email %s", *email)
		}
		if err != nil {
			return err
		}
		therapistID = t.ID
	}
	ks, err := st.APITokens(ctx, therapistID)
	if err != nil {
		return err
	}
	now := c.now()
	out := make([]tokenJSON, 0, len(ks))
	for _, k := range ks {
		j := tokenJSON{ID: k.ID, Email: k.Email, Name: k.Name, CreatedAt: k.CreatedAt}
		if !k.LastUsedAt.IsZero() {
			j.LastUsed = &k.LastUsedAt
		}
		if !k.ExpiresAt.IsZero() {
			j.ExpiresAt, j.Expired = &k.ExpiresAt, !k.ExpiresAt.After(now)
		}
		out = append(out, j)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tNAME\tCREATED\tLAST USED\tEXPIRES")
	when := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	for _, k := range out {
		exp := when(k.ExpiresAt, "never")
		if k.Expired {
			exp += " (expired)"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Email, k.Name, when(&k.CreatedAt, ""), when(k.LastUsed, "never"), exp)
	}
	return w.Flush()
}

func (c *cli) tokenRevoke(ctx context.Context, args []string) error {
	fs := newFlags(c, "token revoke", "pacer token revoke ID [--config FILE] [--db DSN]   (the ID from pacer token list)")
	flags := storeFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("token revoke needs one token ID, as pacer token list shows it")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return usagef("token revoke: %q is not a token ID; pacer token list shows them", pos[0])
	}
	_, st, err := c.openCredentials(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeAPIToken(ctx, id); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no API token has the ID %d; pacer token list shows them", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked token %d; it stops working at once\n", id)
	return nil
}
