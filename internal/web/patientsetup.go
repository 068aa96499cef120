package web

// The patient's setup pages: reminders (notifications on this device, ntfy
// with a private topic pacer makes, Telegram in guided steps, email, quiet
// hours, language), the calendar subscription for every kind of phone, and
// the weekly questions. A channel the server cannot use (an email address
// without a mail server) shows as unavailable and never keeps the patient
// from saving the rest. The webhook channel is a clinic system's, set by the
// therapist: it is kept, not shown.

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify/telegram"
	"pacer/programs"
)

// remindersView is the reminders page.
type remindersView struct {
	pageBase
	Push bool // the server sends Web Push (it has VAPID keys)
	// EmailUsable: the server can send email. Email is the address as
	// stored (or as posted, after an error), EmailPending while it waits
	// for its confirmation.
	EmailUsable  bool
	Email        string
	EmailPending bool
	Ntfy         *ntfyView // nil: no ntfy channel yet
	Telegram     telegramView
	// Unavailable names the patient's channels the server cannot send
	// through, e.g. an email address without a mail server.
	Unavailable          []string
	QuietStart, QuietEnd string
	SettingsError        string
}

// ntfyView is a patient's ntfy channel: the topic pacer made and the ways
// to subscribe to it without typing.
type ntfyView struct {
	Server, Topic string
	AppLink       template.URL // ntfy://host/topic: opens the ntfy app and subscribes
	WebLink       string       // https://host/topic: the topic in ntfy's web app
	QR            template.HTML
}

// telegramView is the guided Telegram set-up.
type telegramView struct {
	Usable    bool   // the server has a Telegram bot
	Connected bool   // the patient has a Telegram channel
	StartLink string // t.me/<bot>?start=<code>: opens the bot with pacer's code for this patient
	Error     string // the last attempt to connect, when it failed
}

func (pp *patientPages) remindersPage(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	v, err := pp.remindersView(r, p)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	switch r.URL.Query().Get("saved") {
	case "":
	case "settings":
		v.Notice, v.NoticeAt = v.T("page.saved.settings"), "settings"
	case "ntfy":
		v.Notice, v.NoticeAt = v.T("page.ntfy.saved"), "ntfy"
	case "ntfy_off":
		v.Notice, v.NoticeAt = v.T("page.ntfy.removed"), "ntfy"
	case "telegram":
		v.Notice, v.NoticeAt = v.T("page.telegram.saved"), "telegram"
	case "telegram_off":
		v.Notice, v.NoticeAt = v.T("page.telegram.removed"), "telegram"
	}
	if r.URL.Query().Get("telegram") == "not_found" {
		v.Telegram.Error = v.T("page.telegram.not_found")
	}
	pp.show(w, r, http.StatusOK, "reminders", v)
}

// remindersView reads the patient's channels and settings for the page.
func (pp *patientPages) remindersView(r *http.Request, p store.Patient) (*remindersView, error) {
	set, err := pp.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	chs, err := pp.Store.Channels(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	v := &remindersView{pageBase: pp.base(r, cat, "page.notify.heading"), Push: pp.VAPIDPublic != "",
		EmailUsable: pp.Clinic.Usable("email"),
		QuietStart:  programs.Clock(set.QuietStart).String(), QuietEnd: programs.Clock(set.QuietEnd).String(),
		Telegram: telegramView{Usable: pp.Clinic.Usable("telegram") && pp.Telegram != nil}}
	for _, ch := range chs {
		if ch.Type != store.ChannelWebPush && !pp.Clinic.Usable(ch.Type) {
			v.Unavailable = append(v.Unavailable, cat.Text("page.channel."+ch.Type, nil))
		}
		var c struct{ Address, Topic, Server string }
		json.Unmarshal(ch.Config, &c) //nolint:errcheck // a stored channel; a bad one shows empty
		switch ch.Type {
		case "email":
			v.Email, v.EmailPending = c.Address, ch.Pending
		case "ntfy":
			v.Ntfy = pp.ntfyView(cat, c.Server, c.Topic)
		case "telegram":
			v.Telegram.Connected = true
		}
	}
	if v.Telegram.Usable && !v.Telegram.Connected {
		// The bot's name is asked of Telegram once; a slow answer must not
		// hold the page.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if link, err := pp.Telegram.StartLink(ctx, pp.telegramCode(p)); err == nil {
			v.Telegram.StartLink = link
		} else {
			pp.Log.Warn("telegram bot name", "err", err)
			v.Telegram.Usable = false
		}
	}
	return v, nil
}

// ntfyView is the ways to subscribe to an ntfy topic.
func (pp *patientPages) ntfyView(cat *i18n.Catalog, server, topic string) *ntfyView {
	if server == "" {
		server = pp.NtfyServer
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return &ntfyView{Server: server, Topic: topic}
	}
	web := strings.TrimSuffix(u.String(), "/") + "/" + topic
	app := "ntfy://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/") + "/" + topic + "?display=pacer"
	if u.Scheme == "http" {
		app += "&secure=false"
	}
	return &ntfyView{Server: u.Host, Topic: topic, AppLink: template.URL(app), WebLink: web, //nolint:gosec // built from a checked server URL and a topic of [-_A-Za-z0-9]
		QR: qrSVG(app, cat.Text("page.ntfy.qr_title", nil), "qr-ntfy")}
}

// postSettings saves the reminders form: email, quiet hours and language.
// The patient's other channels (ntfy, Telegram, Web Push, and what the
// therapist set) are kept as they are stored; a channel kept as stored is
// not checked again, so one the server cannot use blocks nothing.
func (pp *patientPages) postSettings(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	chs, err := pp.Store.Channels(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	in := channelsBody{Channels: []json.RawMessage{}}
	email := strings.TrimSpace(f.Get("email"))
	for _, ch := range chs {
		switch {
		case ch.Type == store.ChannelWebPush: // the clinic keeps these itself
		case ch.Type == "email":
			var c struct{ Address string }
			json.Unmarshal(ch.Config, &c) //nolint:errcheck // a stored channel
			if _, posted := f["email"]; !posted || email == c.Address {
				in.Channels = append(in.Channels, ch.Config)
				email = ""
			} else if email == "" {
				// emptied: no more email reminders
			}
		default:
			in.Channels = append(in.Channels, ch.Config)
		}
	}
	if email != "" {
		raw, _ := json.Marshal(map[string]string{"type": "email", "address": email})
		in.Channels = append(in.Channels, raw)
	}
	if f.Get("quiet_start") != "" || f.Get("quiet_end") != "" {
		set, err := pp.Store.NotifySettings(r.Context(), p.ID)
		if err != nil {
			pp.internal(w, r, err)
			return
		}
		in.QuietHours = &struct {
			Start string `json:"start"`
			End   string `json:"end"`
			Drop  bool   `json:"drop,omitempty"`
		}{f.Get("quiet_start"), f.Get("quiet_end"), set.QuietDrop}
	}
	if l := f.Get("language"); l != "" {
		in.Language = &l
	}
	set := in.settings()
	set.ByPatient = true
	err = pp.Clinic.SetSettings(r.Context(), p, set)
	if bad, ok := errors.AsType[*clinic.Problem](err); ok {
		v, err := pp.remindersView(r, p)
		if err != nil {
			pp.internal(w, r, err)
			return
		}
		v.SettingsError = v.cat.Text("page.settings.error", i18n.Args{"text": bad.Msg})
		v.Email, v.QuietStart, v.QuietEnd = f.Get("email"), f.Get("quiet_start"), f.Get("quiet_end")
		pp.show(w, r, http.StatusUnprocessableEntity, "reminders", v)
		return
	}
	if err != nil {
		pp.formError(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/c/"+url.PathEscape(r.PathValue("token"))+"/reminders?saved=settings#settings", http.StatusSeeOther)
}

// postNtfy sets up ntfy with a new private topic pacer makes (action=on),
// or removes the patient's ntfy channel (action=off); the other channels
// are kept as stored.
func (pp *patientPages) postNtfy(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok || !parseForm(w, r) {
		return
	}
	var raw json.RawMessage
	if r.PostForm.Get("action") != "off" {
		topic, err := clinic.NewNtfyTopic()
		if err != nil {
			pp.internal(w, r, err)
			return
		}
		raw, _ = json.Marshal(map[string]string{"type": "ntfy", "topic": topic})
	}
	pp.replaceChannel(w, r, p, "ntfy", raw)
}

// replaceChannel replaces the patient's channel of a type with raw, or
// removes it (raw nil), keeping the others as stored, and goes back to its
// part of the reminders page.
func (pp *patientPages) replaceChannel(w http.ResponseWriter, r *http.Request, p store.Patient, typ string, raw json.RawMessage) {
	chs, err := pp.Store.Channels(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	in := clinic.Settings{Channels: []json.RawMessage{}, ByPatient: true}
	for _, ch := range chs {
		if ch.Type != typ && ch.Type != store.ChannelWebPush {
			in.Channels = append(in.Channels, ch.Config)
		}
	}
	if raw != nil {
		in.Channels = append(in.Channels, raw)
	}
	if err := pp.Clinic.SetSettings(r.Context(), p, in); err != nil {
		pp.formError(w, r, p, err)
		return
	}
	saved := typ
	if raw == nil {
		saved += "_off"
	}
	http.Redirect(w, r, "/c/"+url.PathEscape(r.PathValue("token"))+"/reminders?saved="+saved+"#"+typ, http.StatusSeeOther)
}

// calendarView is the calendar page: the feed's address in every form a
// calendar app takes, and a QR code of it.
type calendarView struct {
	pageBase
	Feed             string
	Webcal           template.URL // webcal://: Apple's Calendar, Outlook on a desktop, ICSx⁵ on Android
	Google           string       // Google Calendar's add-by-URL page
	OutlookCom       string       // Outlook on the web (outlook.com), which takes the https address
	Office           string       // Outlook on the web for work or school accounts (Microsoft 365)
	ICSxFDroid       string
	ICSxPlay         string
	QR               template.HTML
	WithReminderNote bool
}

func (pp *patientPages) calendarPage(w http.ResponseWriter, r *http.Request) {
	p, cat, ok := pp.patientAndCatalog(w, r)
	if !ok {
		return
	}
	feedURL := pp.Clinic.Links(p).FeedURL
	name := cat.Text("feed.name", nil)
	webcal := clinic.WebcalURL(feedURL)
	v := &calendarView{pageBase: pp.base(r, cat, "page.cal.heading"), Feed: feedURL,
		Webcal:     template.URL(webcal), //nolint:gosec // our own feed URL with the webcal scheme
		Google:     "https://calendar.google.com/calendar/render?cid=" + url.QueryEscape(webcal),
		OutlookCom: "https://outlook.live.com/calendar/0/addfromweb?url=" + url.QueryEscape(feedURL) + "&name=" + url.QueryEscape(name),
		Office:     "https://outlook.office.com/calendar/0/addfromweb?url=" + url.QueryEscape(feedURL) + "&name=" + url.QueryEscape(name),
		ICSxFDroid: "https://f-droid.org/packages/at.bitfire.icsdroid/",
		ICSxPlay:   "https://play.google.com/store/apps/details?id=at.bitfire.icsdroid",
		QR:         qrSVG(feedURL, cat.Text("page.cal.qr.title", nil), "qr-calendar"),
	}
	pp.show(w, r, http.StatusOK, "calendar", v)
}

// weeklyView is the weekly questions: three signals from 0 to 10.
type weeklyView struct {
	pageBase
	Scale   []int
	Signals []signalField
}

type signalField struct{ Name, Label, Low, High string }

func (pp *patientPages) weeklyPage(w http.ResponseWriter, r *http.Request) {
	_, cat, ok := pp.patientAndCatalog(w, r)
	if !ok {
		return
	}
	v := &weeklyView{pageBase: pp.base(r, cat, "page.weekly.heading"), Scale: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	for _, f := range []string{"function", "symptoms", "confidence"} {
		v.Signals = append(v.Signals, signalField{Name: f, Label: cat.Text("page.weekly."+f, nil),
			Low: cat.Text("page.weekly."+f+".low", nil), High: cat.Text("page.weekly."+f+".high", nil)})
	}
	pp.show(w, r, http.StatusOK, "weekly", v)
}

// telegramCode is the code the patient's Telegram set-up sends to the bot.
func (pp *patientPages) telegramCode(p store.Patient) string {
	return pp.Clinic.Keys.TelegramCode(p.CheckinNonce)
}

// postTelegram connects the chat that sent the patient's code to the
// clinic's bot (action=on), or removes their Telegram channel (action=off).
// No chat with the code yet sends the patient back to the steps, which say
// so.
func (pp *patientPages) postTelegram(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok || !parseForm(w, r) {
		return
	}
	if r.PostForm.Get("action") == "off" {
		pp.replaceChannel(w, r, p, "telegram", nil)
		return
	}
	if pp.Telegram == nil {
		pp.formError(w, r, p, &clinic.Problem{Msg: "this server has no Telegram bot"})
		return
	}
	chat, err := pp.Telegram.ChatFor(r.Context(), pp.telegramCode(p))
	if errors.Is(err, telegram.ErrNoChat) {
		http.Redirect(w, r, "/c/"+url.PathEscape(r.PathValue("token"))+"/reminders?telegram=not_found#telegram", http.StatusSeeOther)
		return
	}
	if err != nil {
		pp.Log.Warn("telegram updates", "err", err)
		pp.formError(w, r, p, &clinic.Conflict{Msg: "Telegram could not be asked; try again in a minute"})
		return
	}
	raw, _ := json.Marshal(map[string]string{"type": "telegram", "chat_id": chat})
	pp.replaceChannel(w, r, p, "telegram", raw)
}
