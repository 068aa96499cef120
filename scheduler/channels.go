package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"pacer/internal/store"
	"pacer/notify"
	"pacer/notify/email"
	"pacer/notify/ntfy"
	"pacer/notify/pushover"
	"pacer/notify/telegram"
	"pacer/notify/webhook"
	"pacer/notify/webpush"
)

// Channels holds the server-wide settings of every channel and builds the
// notifier for one stored channel. A channel type whose server-wide settings
// are missing (no SMTP host, no Pushover app token…) cannot be used, and says so.
type Channels struct {
	Email    *email.Settings // nil: no SMTP server configured
	Ntfy     ntfy.Settings
	Pushover pushover.Settings
	Telegram telegram.Settings
	Webhook  webhook.Settings
	WebPush  webpush.Settings
}

// decode reads a channel's JSON strictly into its Config.
func decode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Notifier builds the notifier of a stored channel.
func (c *Channels) Notifier(_ context.Context, ch store.Channel) (notify.Notifier, error) {
	switch ch.Type {
	case "email":
		if c.Email == nil {
			return nil, fmt.Errorf("email: no SMTP server is configured (set PACER_SMTP_HOST and PACER_SMTP_FROM)")
		}
		var cfg email.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("email channel: %w", err)
		}
		return email.New(*c.Email, cfg)
	case "ntfy":
		var cfg ntfy.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("ntfy channel: %w", err)
		}
		return ntfy.New(c.Ntfy, cfg)
	case "pushover":
		var cfg pushover.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("pushover channel: %w", err)
		}
		return pushover.New(c.Pushover, cfg)
	case "telegram":
		var cfg telegram.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("telegram channel: %w", err)
		}
		return telegram.New(c.Telegram, cfg)
	case "webhook":
		var cfg webhook.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("webhook channel: %w", err)
		}
		return webhook.New(c.Webhook, cfg)
	case "webpush":
		var cfg webpush.Config
		if err := decode(ch.Config, &cfg); err != nil {
			return nil, fmt.Errorf("webpush channel: %w", err)
		}
		return webpush.New(c.WebPush, cfg)
	}
	return nil, fmt.Errorf("unknown channel type %q: use email, ntfy, pushover, telegram, webhook or webpush", ch.Type)
}

// Check validates a channel object before it is stored, as its notifier
// would: the error says what to fix.
func (c *Channels) Check(ctx context.Context, ch store.Channel) error {
	_, err := c.Notifier(ctx, ch)
	return err
}

// Usable says whether the server-wide settings of a channel type are there,
// so that channels of the type can be sent through at all.
func (c *Channels) Usable(typ string) bool {
	switch typ {
	case "email":
		return c.Email != nil
	case "pushover":
		return c.Pushover.AppToken != ""
	case "telegram":
		return c.Telegram.BotToken != ""
	case "webpush":
		return c.WebPush.VAPIDPublicKey != "" && c.WebPush.VAPIDPrivateKey != ""
	case "ntfy", "webhook":
		return true
	}
	return false
}
