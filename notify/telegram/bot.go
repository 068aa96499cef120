package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Bot is pacer's Telegram bot as a patient's set-up meets it, so that no
// one types a chat id: a link that opens a chat with the bot carrying a code
// (https://t.me/<bot>?start=<code>, whose Start button sends "/start
// <code>"), and the chat that sent that code, found among the bot's updates
// (getUpdates: Telegram keeps them for 24 hours, until confirmed; pacer
// never confirms them, so several patients may set up at once). A bot with
// a webhook set receives no updates this way: the error says so.
type Bot struct {
	api    string // base + "/bot" + token + "/": never in an error
	host   string
	client *http.Client

	mu   sync.Mutex
	name string // the bot's username, read once
}

// ErrNoChat is a code no chat has sent to the bot yet.
var ErrNoChat = errors.New("telegram: no chat has sent this code to the bot yet")

// codePattern is what Telegram takes as a start parameter.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewBot returns the bot of the settings; it makes no request.
func NewBot(s Settings) (*Bot, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	base := s.APIBase
	if base == "" {
		base = DefaultAPI
	}
	return &Bot{api: strings.TrimRight(base, "/") + "/bot" + s.BotToken + "/", host: httpsend.Host(base),
		client: httpsend.Client(s.HTTPClient, s.Timeout, s.Allow)}, nil
}

// call posts a Bot API method with a JSON body and decodes its result.
func (b *Bot) call(ctx context.Context, method string, params any, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return err
	}
	resp, err := httpsend.Post(ctx, b.client, httpsend.Request{URL: b.api + method, ContentType: "application/json", Body: body})
	if err != nil {
		return httpsend.Transport(Channel, b.host, err)
	}
	var r struct {
		apiResponse
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(resp.Body, &r) != nil {
		return httpsend.Status(Channel, b.host, resp, "")
	}
	if !r.OK {
		msg := fmt.Sprintf("telegram %s: error %d from %s: %s", method, r.ErrorCode, b.host, httpsend.Clip(r.Description, 160))
		if r.ErrorCode == http.StatusConflict {
			msg += " (the bot has a webhook set; pacer reads its updates with getUpdates: delete the webhook)"
		}
		return &notify.Error{Channel: Channel, Temporary: httpsend.TemporaryStatus(r.ErrorCode), Err: errors.New(msg)}
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("telegram %s: unexpected result from %s", method, b.host)}
	}
	return nil
}

// StartLink is the link that opens a chat with the bot whose Start button
// sends "/start <code>".
func (b *Bot) StartLink(ctx context.Context, code string) (string, error) {
	if !codePattern.MatchString(code) {
		return "", fmt.Errorf("telegram start code %q: use 1 to 64 letters, digits, '_' or '-'", code)
	}
	b.mu.Lock()
	name := b.name
	b.mu.Unlock()
	if name == "" {
		var me struct {
			Username string `json:"username"`
		}
		if err := b.call(ctx, "getMe", struct{}{}, &me); err != nil {
			return "", err
		}
		if me.Username == "" {
			return "", fmt.Errorf("telegram getMe: the bot at %s has no username", b.host)
		}
		b.mu.Lock()
		b.name, name = me.Username, me.Username
		b.mu.Unlock()
	}
	return "https://t.me/" + name + "?start=" + code, nil
}

// ChatFor is the id of the private chat that sent "/start <code>" to the
// bot, the latest if several did; ErrNoChat when none has.
func (b *Bot) ChatFor(ctx context.Context, code string) (string, error) {
	if !codePattern.MatchString(code) {
		return "", fmt.Errorf("telegram start code %q: use 1 to 64 letters, digits, '_' or '-'", code)
	}
	var updates []struct {
		Message *struct {
			Text string `json:"text"`
			Chat struct {
				ID   int64  `json:"id"`
				Type string `json:"type"`
			} `json:"chat"`
		} `json:"message"`
	}
	if err := b.call(ctx, "getUpdates", map[string]any{"timeout": 0, "limit": 100, "allowed_updates": []string{"message"}}, &updates); err != nil {
		return "", err
	}
	chat := ""
	for _, u := range updates {
		if m := u.Message; m != nil && m.Chat.Type == "private" && strings.TrimSpace(m.Text) == "/start "+code {
			chat = strconv.FormatInt(m.Chat.ID, 10)
		}
	}
	if chat == "" {
		return "", ErrNoChat
	}
	return chat, nil
}
