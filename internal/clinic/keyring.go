package clinic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"pacer/internal/store"
)

// Keyring derives patients' capability tokens (feed and check-in URLs) from
// per-patient nonces and the server's secret key. The store keeps the nonce
// and the token's hash only: the server can rebuild a link for a feed
// description or a reminder, a copy of the database cannot.
type Keyring struct {
	key []byte
}

// NewKeyring checks the key's length: at least 32 bytes of randomness.
func NewKeyring(key []byte) (Keyring, error) {
	if len(key) < 32 {
		return Keyring{}, errors.New("the secret key must be at least 32 bytes")
	}
	return Keyring{key: key}, nil
}

// Token purposes, so that a feed nonce can never yield a check-in token.
const (
	purposeFeed        = "pacer feed token\x00"
	purposeCheckin     = "pacer check-in token\x00"
	purposeSession     = "pacer session token\x00"
	purposeGroup       = "pacer session group token\x00"
	purposeConfirm     = "pacer channel confirmation token\x00"
	purposeFingerprint = "pacer key fingerprint\x00"
	purposeTelegram    = "pacer telegram start code\x00"
)

// token is base64url(HMAC-SHA256(key, purpose || nonce)): 256 bits, 43 characters.
func (k Keyring) token(purpose string, nonce []byte) string {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(purpose))
	mac.Write(nonce)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// FeedToken and CheckinToken rebuild a patient's tokens.
func (k Keyring) FeedToken(nonce []byte) string    { return k.token(purposeFeed, nonce) }
func (k Keyring) CheckinToken(nonce []byte) string { return k.token(purposeCheckin, nonce) }

// TelegramCode is the code a patient's Telegram set-up sends to the
// clinic's bot ("/start <code>"), which tells pacer their chat: derived from
// their check-in nonce, so only their page shows it, and rotating the
// check-in link changes it. 24 characters.
func (k Keyring) TelegramCode(checkinNonce []byte) string {
	return k.token(purposeTelegram, checkinNonce)[:24]
}

// ConfirmToken rebuilds the token of a channel's confirmation link.
func (k Keyring) ConfirmToken(nonce []byte) string { return k.token(purposeConfirm, nonce) }

// Fingerprint identifies the key without revealing it: the database keeps
// it, so that pacer refuses to start with a key its links were not made
// with.
func (k Keyring) Fingerprint() string { return k.token(purposeFingerprint, nil)[:22] }

// sessionTokenLen is a session token's bytes: the session's id (8) and a
// MAC (32).
const sessionTokenLen = 8 + sha256.Size

// SessionToken is the token of one session's link, /s/{token}: the session's
// id and a MAC, under the key, of the patient's feed nonce and the session's
// identity. Nothing is stored: the server checks a token by recomputing it,
// and rotating the feed link (a new nonce) or deleting the session revokes
// it. 320 bits, 54 characters.
func (k Keyring) SessionToken(feedNonce []byte, x store.Session) string {
	b := make([]byte, 8, sessionTokenLen)
	binary.BigEndian.PutUint64(b, uint64(x.ID))
	return base64.RawURLEncoding.EncodeToString(append(b, k.sessionMAC(feedNonce, x)...))
}

// GroupToken is the token of a group's link, /g/{token}: the sessions of
// one assignment at one time on one day, named by one of them (anchor), as
// SessionToken names one session, under a purpose of its own.
func (k Keyring) GroupToken(feedNonce []byte, anchor store.Session) string {
	b := make([]byte, 8, sessionTokenLen)
	binary.BigEndian.PutUint64(b, uint64(anchor.ID))
	return base64.RawURLEncoding.EncodeToString(append(b, k.mac(purposeGroup, feedNonce, anchor)...))
}

// checkGroup reports whether mac is the MAC of a group's link named by x.
func (k Keyring) checkGroup(feedNonce []byte, x store.Session, mac []byte) bool {
	return hmac.Equal(mac, k.mac(purposeGroup, feedNonce, x))
}

// sessionMAC binds the link to the session's id and identity (assignment,
// activity, date, slot), so that a session id reused after a deletion does
// not inherit an old link.
func (k Keyring) sessionMAC(feedNonce []byte, x store.Session) []byte {
	return k.mac(purposeSession, feedNonce, x)
}

// mac is a link's MAC for a purpose over the feed nonce and a session's
// identity.
func (k Keyring) mac(purpose string, feedNonce []byte, x store.Session) []byte {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(purpose))
	fmt.Fprintf(mac, "%d\x00%x\x00%d\x00%s\x00%d\x00%d", len(feedNonce), feedNonce, x.ID, x.Activity, x.Date, x.Slot)
	fmt.Fprintf(mac, "\x00%d", x.AssignmentID)
	return mac.Sum(nil)
}

// sessionID reads the session id of a session token; false for anything
// that is not one.
func sessionID(token string) (int64, []byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != sessionTokenLen {
		return 0, nil, false
	}
	id := int64(binary.BigEndian.Uint64(b))
	return id, b[8:], id > 0
}

// checkSession reports whether mac is the session's link's MAC.
func (k Keyring) checkSession(feedNonce []byte, x store.Session, mac []byte) bool {
	return hmac.Equal(mac, k.sessionMAC(feedNonce, x))
}

// NewNonce is 16 random bytes.
func NewNonce() ([]byte, error) {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	return b, err
}
