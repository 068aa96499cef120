// Package telegram delivers a message with the Telegram Bot API's
// sendMessage method: a JSON POST of {"chat_id","text"} to
// https://api.telegram.org/bot<token>/sendMessage, as plain text (no parse
// mode, so nothing in a message needs escaping) and without a link preview
// (Telegram would otherwise fetch the check-in link).
//
// nikoksr/notify's Telegram service is not used: it is built on
// go-telegram-bot-api v4, whose constructor calls getMe over the network,
// whose API URL is a constant (no test server, no self-hosted Bot API
// server), whose requests take no context, and whose transport errors
// contain the URL and so the bot token. The service also sets a
// package-level parse mode (HTML by default) and takes only int64 chat
// IDs, not "@channel" names. The request goes through notify's generic
// HTTP service instead, like every HTTP channel here.
//
// It imports only pacer/notify and its internal HTTP helper.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Channel is this channel's name in errors and in the channel object's "type".
const Channel = "telegram"

// DefaultAPI is the Bot API's base URL.
const DefaultAPI = "https://api.telegram.org"

// maxText is sendMessage's limit on text, in characters.
const maxText = 4096

var (
	tokenPattern  = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,}$`)
	chatIDPattern = regexp.MustCompile(`^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,})$`)
)

// Config is one patient's Telegram channel as stored and as sent in
// PUT …/channels: {"type":"telegram","chat_id":"…"}. chat_id is the
// numeric ID of the chat with pacer's bot (the patient must have started
// it), or "@channelname" for a channel the bot may post to.
type Config struct {
	Type   string `json:"type"` // "telegram" (or empty)
	ChatID string `json:"chat_id"`
}

// Settings are server-wide and come from pacer's configuration.
type Settings struct {
	// BotToken is the token @BotFather gave for pacer's bot (a secret).
	BotToken string
	// APIBase is the Bot API's base URL; DefaultAPI when empty. Tests, or
	// a self-hosted Bot API server, point it elsewhere.
	APIBase string
	// Allow lists private destinations the API base may be on, such as a
	// self-hosted Bot API server (notify.allow_private).
	Allow notify.AllowList
	// Timeout bounds one request; httpsend.DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client (proxy, extra CAs); the timeout
	// above is applied to a copy and redirects are not followed.
	HTTPClient *http.Client
}

// Validate checks the settings alone, for `pacer config check`.
func (s Settings) Validate() error {
	if !tokenPattern.MatchString(s.BotToken) {
		return errors.New("telegram bot token must look like 123456789:AA…, as @BotFather gave it")
	}
	if s.APIBase != "" {
		if _, err := httpsend.CheckURL("telegram API base", s.APIBase, s.Allow); err != nil {
			return err
		}
	}
	return nil
}

type notifier struct {
	endpoint string // contains the token: never in an error
	host     string
	chatID   string
	client   *http.Client
}

// New returns a Notifier for one chat. It makes no request: a wrong token
// or chat shows on the first Send, as a permanent error.
func New(s Settings, c Config) (notify.Notifier, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("telegram channel has type %q: want %q", c.Type, Channel)
	}
	if !chatIDPattern.MatchString(c.ChatID) {
		return nil, errors.New("telegram chat_id must be the chat's number (send /start to the bot to get it) or @channelname")
	}
	base := s.APIBase
	if base == "" {
		base = DefaultAPI
	}
	return &notifier{
		endpoint: strings.TrimRight(base, "/") + "/bot" + s.BotToken + "/sendMessage",
		host:     httpsend.Host(base),
		chatID:   c.ChatID,
		client:   httpsend.Client(s.HTTPClient, s.Timeout, s.Allow),
	}, nil
}

type sendMessage struct {
	ChatID             string             `json:"chat_id"`
	Text               string             `json:"text"`
	LinkPreviewOptions linkPreviewOptions `json:"link_preview_options"`
}

type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

// apiResponse is the Bot API's envelope.
type apiResponse struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	body, err := json.Marshal(sendMessage{
		ChatID:             n.chatID,
		Text:               text(m),
		LinkPreviewOptions: linkPreviewOptions{IsDisabled: true},
	})
	if err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("encode message: %w", err)}
	}
	resp, err := httpsend.Post(ctx, n.client, httpsend.Request{URL: n.endpoint, ContentType: "application/json", Body: body})
	if err != nil {
		return httpsend.Transport(Channel, n.host, err)
	}
	var r apiResponse
	decodeErr := json.Unmarshal(resp.Body, &r)
	if httpsend.OK(resp.Status) && decodeErr == nil && r.OK {
		return nil
	}
	if decodeErr != nil || r.OK {
		// Not the Bot API's envelope (a proxy's error page, say).
		return httpsend.Status(Channel, n.host, resp, "")
	}
	code := r.ErrorCode
	if code == 0 {
		code = resp.Status
	}
	msg := fmt.Sprintf("telegram error %d from %s: %s", code, n.host, httpsend.Clip(r.Description, 160))
	switch {
	case r.Parameters.RetryAfter > 0:
		msg += fmt.Sprintf(" (retry after %ds)", r.Parameters.RetryAfter)
	case r.Parameters.MigrateToChatID != 0:
		msg += fmt.Sprintf(" (the group is now chat %d: update chat_id)", r.Parameters.MigrateToChatID)
	case code == http.StatusUnauthorized || code == http.StatusNotFound:
		msg += " (check the bot token)"
	case code == http.StatusForbidden:
		msg += " (the patient must start the bot, or unblock it)"
	}
	return &notify.Error{Channel: Channel, Temporary: httpsend.TemporaryStatus(code), Err: errors.New(msg)}
}

// text is the title, the body, and the link unless the body has it already.
func text(m notify.Message) string {
	var b strings.Builder
	if m.Title != "" {
		b.WriteString(m.Title)
		b.WriteString("\n\n")
	}
	b.WriteString(m.Body)
	if m.URL != "" && !strings.Contains(m.Body, m.URL) {
		b.WriteString("\n")
		b.WriteString(m.URL)
	}
	s := b.String()
	if utf8.RuneCountInString(s) > maxText {
		s = string([]rune(s)[:maxText-1]) + "…"
	}
	return s
}
