package daemon

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"

	"pacer/internal/config"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/notify/email"
	"pacer/notify/ntfy"
	"pacer/notify/pushover"
	"pacer/notify/telegram"
	"pacer/notify/webhook"
	"pacer/notify/webpush"
	"pacer/scheduler"
)

// Channels turns the configuration into the server-wide channel settings,
// and makes sure the VAPID keys exist (generated on first start, stored, and
// shared by every replica). It returns the VAPID public key too.
func Channels(ctx context.Context, cfg *config.Config, st *store.Store, base *url.URL) (*scheduler.Channels, string, error) {
	allow, err := notify.ParseAllowList(cfg.Notify.AllowPrivate)
	if err != nil {
		return nil, "", err
	}
	chs := &scheduler.Channels{
		Ntfy:     ntfy.Settings{DefaultServer: cfg.Ntfy.Server, Allow: allow},
		Pushover: pushover.Settings{AppToken: cfg.Pushover.Token.Value(), Allow: allow},
		Telegram: telegram.Settings{BotToken: cfg.Telegram.Token.Value(), Allow: allow},
		Webhook:  webhook.Settings{Allow: allow},
	}
	if cfg.SMTP.Host != "" {
		chs.Email = &email.Settings{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, From: cfg.SMTP.From,
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password.Value(), TLS: email.TLSMode(cfg.SMTP.TLS)}
	}
	pub, priv, err := st.VAPIDKeys(ctx, webpush.GenerateVAPIDKeys)
	if err != nil {
		return nil, "", fmt.Errorf("web push keys: %w", err)
	}
	chs.WebPush = webpush.Settings{VAPIDPublicKey: pub, VAPIDPrivateKey: priv, Subscriber: pushContact(cfg, base), Allow: allow}
	return chs, pub, nil
}

// pushContact is the contact push services see in the VAPID token: the public
// https URL, else the SMTP sender's address, else the operator on this host.
func pushContact(cfg *config.Config, base *url.URL) string {
	if base.Scheme == "https" {
		return base.String()
	}
	if a, err := mail.ParseAddress(cfg.SMTP.From); err == nil {
		return "mailto:" + a.Address
	}
	return "mailto:postmaster@" + base.Hostname()
}
