package secevent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (v1.0.0, "Signature scheme" and "Webhook headers"):
// each delivery carries these three headers; the signature is
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)),
// one per secret, space-separated, so that a secret can be rotated
// without a gap.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Webhook secrets are serialized as Standard Webhooks has it:
// "whsec_" + standard base64 of the key. Ward asks for 32 to 64 random
// bytes (the specification: at least 24).
const (
	WebhookSecretPrefix = "whsec_"
	MinWebhookSecret    = 32
	MaxWebhookSecret    = 64
)

// DefaultWebhookTolerance is VerifyWebhook's timestamp tolerance when
// none is given: five minutes either way, as Standard Webhooks advises.
const DefaultWebhookTolerance = 5 * time.Minute

// Bounds of the headers VerifyWebhook accepts.
const (
	maxWebhookID         = 256
	maxWebhookSignatures = 8
	maxSignatureHeader   = 1024
)

// VerifyWebhook's errors; each is wrapped with the detail.
var (
	ErrWebhookSecret    = errors.New("secevent: invalid webhook secret")
	ErrWebhookHeader    = errors.New("secevent: malformed webhook headers")
	ErrWebhookTimestamp = errors.New("secevent: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("secevent: no valid webhook signature")
)

// ParseWebhookSecret decodes a "whsec_<base64>" secret into the HMAC key:
// 32 to 64 bytes, standard base64 with padding.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: must start with %q", ErrWebhookSecret, WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(key) != b64 {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrWebhookSecret, WebhookSecretPrefix)
	}
	if len(key) < MinWebhookSecret || len(key) > MaxWebhookSecret {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d random bytes (openssl rand -base64 32)",
			ErrWebhookSecret, len(key), MinWebhookSecret, MaxWebhookSecret)
	}
	return key, nil
}

// webhookMAC is the raw HMAC-SHA256 of id.timestamp.body under key.
func webhookMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// signWebhook is the webhook-signature header value: one "v1," signature
// per key, space-separated.
func signWebhook(keys [][]byte, id, ts string, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(webhookMAC(k, id, ts, body))
	}
	return strings.Join(sigs, " ")
}

// VerifyWebhook checks a delivery of a Ward webhook (or of any Standard
// Webhooks sender using HMAC-SHA256): secret is the "whsec_..." secret
// the receiver shares with the sender, header the request's headers and
// body its raw body, read before any JSON parsing. The timestamp must lie
// within tolerance of now (DefaultWebhookTolerance when tolerance <= 0),
// which stops a captured delivery being replayed later; within it, the
// receiver should also refuse a webhook-id it has seen (the id stays the
// same across retries). One v1 signature of the header must match,
// compared in constant time; signatures of other schemes (v1a) are
// skipped. Each header must appear exactly once and be well formed.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs, err := webhookHeaders(header)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sec, _ := strconv.ParseInt(ts, 10, 64) // webhookHeaders checked the digits
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s from now", ErrWebhookTimestamp, d.Round(time.Second))
	}
	want := webhookMAC(key, id, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}

// webhookHeaders parses the three headers strictly: each exactly once;
// the id printable ASCII without '.', at most 256 characters; the
// timestamp decimal seconds without sign or leading zero; the signature a
// list of "version,value" entries separated by single spaces, at most
// eight, each v1 value the standard base64 of 32 bytes.
func webhookHeaders(h http.Header) (id, ts string, v1 [][]byte, err error) {
	var vals [3]string
	for i, name := range [...]string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature} {
		vs := h.Values(name)
		if len(vs) != 1 {
			return "", "", nil, fmt.Errorf("%w: want exactly one %s header, got %d", ErrWebhookHeader, name, len(vs))
		}
		vals[i] = vs[0]
	}
	id, ts = vals[0], vals[1]
	if !validWebhookID(id) {
		return "", "", nil, fmt.Errorf("%w: %s must be 1 to %d printable characters without '.'", ErrWebhookHeader, HeaderWebhookID, maxWebhookID)
	}
	if !validTimestamp(ts) {
		return "", "", nil, fmt.Errorf("%w: %s must be Unix seconds", ErrWebhookHeader, HeaderWebhookTimestamp)
	}
	v1, err = parseSignatures(vals[2])
	return id, ts, v1, err
}

func validWebhookID(id string) bool {
	if id == "" || len(id) > maxWebhookID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return false
		}
	}
	return true
}

func validTimestamp(ts string) bool {
	if ts == "" || len(ts) > 12 || (ts[0] == '0' && len(ts) > 1) {
		return false
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return false
		}
	}
	return true
}

// parseSignatures returns the decoded v1 signatures of a
// webhook-signature header.
func parseSignatures(s string) ([][]byte, error) {
	if s == "" || len(s) > maxSignatureHeader {
		return nil, fmt.Errorf("%w: %s empty or longer than %d", ErrWebhookHeader, HeaderWebhookSignature, maxSignatureHeader)
	}
	entries := strings.Split(s, " ")
	if len(entries) > maxWebhookSignatures {
		return nil, fmt.Errorf("%w: more than %d signatures", ErrWebhookHeader, maxWebhookSignatures)
	}
	var v1 [][]byte
	for _, e := range entries {
		version, value, ok := strings.Cut(e, ",")
		if !ok || version == "" || value == "" || strings.ContainsAny(value, ",") {
			return nil, fmt.Errorf("%w: %s entries are version,signature separated by one space", ErrWebhookHeader, HeaderWebhookSignature)
		}
		if version != "v1" {
			continue // another scheme (v1a: ed25519)
		}
		mac, err := base64.StdEncoding.Strict().DecodeString(value)
		// The decoder skips \r and \n: only the canonical text passes.
		if err != nil || len(mac) != sha256.Size || base64.StdEncoding.EncodeToString(mac) != value {
			return nil, fmt.Errorf("%w: a v1 signature is the base64 of 32 bytes", ErrWebhookHeader)
		}
		v1 = append(v1, mac)
	}
	if len(v1) == 0 {
		return nil, fmt.Errorf("%w: no v1 signature", ErrWebhookSignature)
	}
	return v1, nil
}
