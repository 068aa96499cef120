// Package email delivers a message as a plain-text mail over SMTP: one
// connection per message, TLS as configured (none, STARTTLS or implicit
// TLS), and PLAIN or LOGIN authentication over TLS only.
//
// nikoksr/notify's mail service is not used. Its Send hands the mail to
// jordan-wright/email's Send, which is net/smtp.SendMail: no implicit TLS
// (port 465 fails with EOF, nikoksr/notify#269; the fix, PR #690, was not
// merged), STARTTLS only when the server offers it and never required or
// refused, no way to trust a private CA, only PLAIN auth, and no timeout
// or context once the send has started, so a stalled server would hold a
// dispatcher worker forever. (Its recipients also accumulate across
// sends.) The SMTP dialogue is therefore emersion/go-smtp's client, driven
// step by step here with the TLS and timeouts pacer needs, and emersion/go-sasl's
// PLAIN and LOGIN; the mail itself is built with the standard mime packages.
//
// It imports only pacer/notify.
package email

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pacer/notify"
)

// Channel is this channel's name in errors and in the channel object's "type".
const Channel = "email"

// TLSMode is how the connection to the SMTP server is secured.
type TLSMode string

const (
	TLSNone     TLSMode = "none"     // plain text; no authentication allowed
	TLSStartTLS TLSMode = "starttls" // plain connect, then STARTTLS, required (port 587)
	TLSImplicit TLSMode = "tls"      // TLS from the first byte (port 465)
)

// DefaultTimeout bounds one whole SMTP conversation.
const DefaultTimeout = 30 * time.Second

// Config is one recipient's email channel as stored and as sent in
// PUT …/channels: {"type":"email","address":"a@b.example"}.
type Config struct {
	Type    string `json:"type"` // "email" (or empty)
	Address string `json:"address"`
}

// Settings holds the server-wide SMTP settings from pacer's configuration.
type Settings struct {
	Host string // the SMTP server's name, also the name its certificate must carry
	Port int    // 0: 25 for none, 587 for starttls, 465 for tls
	// From is the sender, "pacer@clinic.example" or
	// "Pacer <pacer@clinic.example>"; its address is also the envelope sender.
	From string
	// Username and Password enable authentication (PLAIN if the server
	// offers it, else LOGIN), which needs TLS starttls or tls.
	Username string
	Password string
	TLS      TLSMode // "" means starttls
	// RootCAs are the CAs trusted for the server's certificate; nil means
	// the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one message's whole conversation; DefaultTimeout when zero.
	Timeout time.Duration
	// Now gives the Date header; time.Now when nil.
	Now func() time.Time
}

// Validate checks the settings alone, for `pacer config check`.
func (s Settings) Validate() error {
	_, err := s.normalize()
	return err
}

var hostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func (s Settings) normalize() (Settings, error) {
	switch s.TLS {
	case "":
		s.TLS = TLSStartTLS
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return s, fmt.Errorf("smtp tls is %q: use starttls (port 587), tls (port 465) or none", s.TLS)
	}
	if s.Host == "" {
		return s, errors.New("smtp host is empty: set it to the mail server's name, such as smtp.clinic.example")
	}
	if !hostPattern.MatchString(s.Host) && net.ParseIP(s.Host) == nil {
		return s, fmt.Errorf("smtp host %q is not a host name: give the name alone, without scheme or port", s.Host)
	}
	if s.Port == 0 {
		s.Port = map[TLSMode]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[s.TLS]
	}
	if s.Port < 1 || s.Port > 65535 {
		return s, fmt.Errorf("smtp port %d is out of range", s.Port)
	}
	if s.From == "" {
		return s, errors.New("smtp from is empty: set the sender address, such as pacer@clinic.example")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return s, fmt.Errorf("smtp from %q is not an address: write it as pacer@clinic.example or \"Pacer <pacer@clinic.example>\"", s.From)
	}
	if s.Username == "" && s.Password != "" {
		return s, errors.New("smtp password is set without a username: set both, or neither")
	}
	if s.Username != "" {
		if s.Password == "" {
			return s, errors.New("smtp username is set without a password: set both, or neither")
		}
		if s.TLS == TLSNone {
			return s, errors.New("smtp authentication needs tls starttls or tls: it would send the password in clear text")
		}
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s, nil
}

type notifier struct {
	srv  Settings
	from *mail.Address
	to   *mail.Address
}

// New returns a Notifier that mails c.Address. It fails, saying what to
// fix, when the server settings or the address are invalid.
func New(s Settings, c Config) (notify.Notifier, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("email channel has type %q: want %q", c.Type, Channel)
	}
	to, err := mail.ParseAddress(c.Address)
	if err != nil || c.Address == "" {
		return nil, errors.New("email address is not valid: write it as name@example.org")
	}
	from, _ := mail.ParseAddress(s.From) // checked by normalize
	return &notifier{srv: s, from: from, to: to}, nil
}

// Send delivers m in one SMTP conversation. A failure after the server
// accepted the message (at QUIT) is not reported, so a retry never
// delivers it twice.
func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	msg, err := n.compose(m)
	if err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("compose: %w", err)}
	}
	s := n.srv
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()

	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tlsConfig := &tls.Config{ServerName: s.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	if s.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return n.classify("connect", err)
	}
	defer conn.Close()
	// go-smtp bounds each command by its own timeouts but takes no context:
	// closing the connection when ctx ends (the whole conversation's
	// timeout, or a cancel) ends whatever step is waiting.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := n.converse(conn, tlsConfig, msg); err != nil {
		// A conversation cut short by ctx shows as a closed connection; say why.
		var ne *notify.Error
		if errors.As(err, &ne) && ne.Temporary && ctx.Err() != nil && !isSMTPReply(err) {
			ne.Err = fmt.Errorf("%w: %w", ne.Err, ctx.Err())
		}
		return err
	}
	return nil
}

// errNoStartTLS is go-smtp's error when the server does not offer STARTTLS;
// it exports no value to compare with.
const errNoStartTLS = "smtp: server doesn't support STARTTLS"

func (n *notifier) converse(conn net.Conn, tlsConfig *tls.Config, msg []byte) error {
	s := n.srv
	var c *smtp.Client
	if s.TLS == TLSStartTLS {
		var err error
		// Greets, says EHLO, and refuses to go on unless STARTTLS is offered.
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			if err.Error() == errNoStartTLS {
				return n.permanent(errors.New("server does not offer STARTTLS: set tls to tls if it listens for implicit TLS (port 465), or to none"))
			}
			return n.classify("STARTTLS", err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = s.Timeout, s.Timeout
	// EHLO (again, over TLS after STARTTLS): the TLS handshake happens here.
	if err := c.Hello("localhost"); err != nil {
		return n.classify("EHLO", err)
	}
	if s.Username != "" {
		auth, err := n.auth(c)
		if err != nil {
			return err
		}
		if err := c.Auth(auth); err != nil {
			return n.classify("AUTH", err)
		}
	}
	if err := c.Mail(n.from.Address, nil); err != nil {
		return n.classify("MAIL FROM", err)
	}
	if err := c.Rcpt(n.to.Address, nil); err != nil {
		return n.classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return n.classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return n.classify("DATA", err)
	}
	if err := w.Close(); err != nil { // the server's verdict on the message
		return n.classify("end of DATA", err)
	}
	_ = c.Quit() // accepted is delivered; a failed QUIT changes nothing
	return nil
}

// auth picks PLAIN if the server offers it, else LOGIN, and only over TLS:
// go-sasl's clients would send the password over any connection.
func (n *notifier) auth(c *smtp.Client) (sasl.Client, error) {
	if _, isTLS := c.TLSConnectionState(); !isTLS {
		return nil, n.permanent(errors.New("refusing to send the password without TLS: set tls to starttls or tls"))
	}
	ok, mechs := c.Extension("AUTH")
	switch {
	case !ok:
		return nil, n.permanent(errors.New("server offers no authentication: remove the smtp username and password, or check the server"))
	case c.SupportsAuth(sasl.Plain):
		return sasl.NewPlainClient("", n.srv.Username, n.srv.Password), nil
	case c.SupportsAuth(sasl.Login):
		return sasl.NewLoginClient(n.srv.Username, n.srv.Password), nil
	}
	return nil, n.permanent(fmt.Errorf("server offers authentication %q but neither PLAIN nor LOGIN", mechs))
}

// compose builds the RFC 5322 message: plain text, UTF-8, quoted-printable.
func (n *notifier) compose(m notify.Message) ([]byte, error) {
	// A tagged message gets a Message-ID derived from its tag, so that the
	// same reminder sent twice (a crash between a send and its record) is
	// one message to the mail systems that collapse duplicate ids.
	id := make([]byte, 16)
	if m.Tag != "" {
		sum := sha256.Sum256([]byte("pacer reminder\x00" + m.Tag))
		copy(id, sum[:16])
	} else if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", n.from.String())
	header("To", n.to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Title)))
	header("Date", n.srv.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	b.WriteString("\r\n")

	body := m.Body
	if m.URL != "" && !strings.Contains(body, m.URL) {
		body += "\n\n" + m.URL
	}
	qp := quotedprintable.NewWriter(&b)
	if _, err := io.WriteString(qp, body+"\n"); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func (n *notifier) permanent(err error) *notify.Error {
	return &notify.Error{Channel: Channel, Err: fmt.Errorf("%s: %w", n.srv.Host, err)}
}

func isSMTPReply(err error) bool {
	var reply *smtp.SMTPError
	return errors.As(err, &reply)
}

// classify turns a failure at an SMTP step into a notify.Error. A reply
// is quoted by its codes only ("SMTP 550 5.1.1"), since its text may
// repeat an address. 4xx replies are temporary, 5xx permanent; connection
// trouble and timeouts are temporary; a certificate the server's name or
// the trusted CAs do not match, and TLS spoken to a plain port (or the
// reverse), are permanent: the settings need fixing.
func (n *notifier) classify(step string, err error) *notify.Error {
	host := n.srv.Host
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		code := strconv.Itoa(reply.Code)
		if ec := reply.EnhancedCode; ec != smtp.NoEnhancedCode && ec != smtp.EnhancedCodeNotSet {
			code += fmt.Sprintf(" %d.%d.%d", ec[0], ec[1], ec[2])
		}
		return &notify.Error{Channel: Channel, Temporary: reply.Temporary(),
			Err: fmt.Errorf("SMTP %s from %s at %s", code, host, step)}
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return &notify.Error{Channel: Channel, Err: fmt.Errorf(
			"TLS certificate of %s not accepted at %s (it must be valid for %q and signed by a trusted CA): %w", host, step, host, err)}
	case errors.As(err, &record):
		return &notify.Error{Channel: Channel, Err: fmt.Errorf(
			"%s did not answer TLS at %s: check smtp tls (tls is for port 465, starttls for 587): %w", host, step, err)}
	}
	return &notify.Error{Channel: Channel, Temporary: true, Err: fmt.Errorf("%s at %s: %w", host, step, err)}
}
