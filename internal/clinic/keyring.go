package clinic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
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
	purposeFeed    = "pacer feed token\x00"
	purposeCheckin = "pacer check-in token\x00"
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

// NewNonce is 16 random bytes.
func NewNonce() ([]byte, error) {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	return b, err
}
