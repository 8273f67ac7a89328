package secevent

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signed returns headers for body signed with keys at ts.
func signed(keys [][]byte, id string, ts time.Time, body []byte) http.Header {
	t := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, t)
	h.Set(HeaderWebhookSignature, signWebhook(keys, id, t, body))
	return h
}

// A Standard Webhooks signature computed independently (the
// specification's recipe spelled out) verifies.
func TestVerifyWebhookKnownAnswer(t *testing.T) {
	secret, key := testSecret('w')
	now := time.Unix(1674087231, 0)
	body := []byte(`{"type":"token_leaked"}`)
	h := signed([][]byte{key}, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)
	if err := VerifyWebhook(secret, h, body, now, 0); err != nil {
		t.Fatal(err)
	}
	want := "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "1674087231", body))
	if got := h.Get(HeaderWebhookSignature); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}

// Tampering with the body, the id or the timestamp, an old or future
// timestamp, another secret, and malformed or repeated headers are all
// refused, each with its error.
func TestVerifyWebhookRefuses(t *testing.T) {
	secret, key := testSecret('w')
	_, otherKey := testSecret('x')
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"token_leaked","data":{"severity":"critical"}}`)
	good := func() http.Header { return signed([][]byte{key}, "evt_1", now, body) }
	tamper := func(f func(http.Header)) http.Header { h := good(); f(h); return h }
	for name, tc := range map[string]struct {
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		"body":           {good(), []byte(`{"type":"token_leaked","data":{"severity":"info"}}`), now, ErrWebhookSignature},
		"id":             {tamper(func(h http.Header) { h.Set(HeaderWebhookID, "evt_2") }), body, now, ErrWebhookSignature},
		"timestamp":      {tamper(func(h http.Header) { h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix()+1, 10)) }), body, now, ErrWebhookSignature},
		"old":            {good(), body, now.Add(6 * time.Minute), ErrWebhookTimestamp},
		"future":         {good(), body, now.Add(-6 * time.Minute), ErrWebhookTimestamp},
		"other secret":   {signed([][]byte{otherKey}, "evt_1", now, body), body, now, ErrWebhookSignature},
		"no signature":   {tamper(func(h http.Header) { h.Del(HeaderWebhookSignature) }), body, now, ErrWebhookHeader},
		"two ids":        {tamper(func(h http.Header) { h.Add(HeaderWebhookID, "evt_1") }), body, now, ErrWebhookHeader},
		"two signatures": {tamper(func(h http.Header) { h.Add(HeaderWebhookSignature, h.Get(HeaderWebhookSignature)) }), body, now, ErrWebhookHeader},
		"dot in id":      {tamper(func(h http.Header) { h.Set(HeaderWebhookID, "a.b") }), body, now, ErrWebhookHeader},
		"signed timestamp": {tamper(func(h http.Header) {
			h.Set(HeaderWebhookTimestamp, "+"+h.Get(HeaderWebhookTimestamp))
		}), body, now, ErrWebhookHeader},
		"leading zero":   {tamper(func(h http.Header) { h.Set(HeaderWebhookTimestamp, "0"+h.Get(HeaderWebhookTimestamp)) }), body, now, ErrWebhookHeader},
		"only v1a":       {tamper(func(h http.Header) { h.Set(HeaderWebhookSignature, "v1a,AAAA") }), body, now, ErrWebhookSignature},
		"truncated mac":  {tamper(func(h http.Header) { h.Set(HeaderWebhookSignature, h.Get(HeaderWebhookSignature)[:20]) }), body, now, ErrWebhookHeader},
		"double space":   {tamper(func(h http.Header) { h.Set(HeaderWebhookSignature, "v1a,AA  "+h.Get(HeaderWebhookSignature)) }), body, now, ErrWebhookHeader},
		"bare signature": {tamper(func(h http.Header) { h.Set(HeaderWebhookSignature, h.Get(HeaderWebhookSignature)[3:]) }), body, now, ErrWebhookHeader},
		"many signatures": {tamper(func(h http.Header) {
			h.Set(HeaderWebhookSignature, strings.Repeat("v1a,AA ", 8)+h.Get(HeaderWebhookSignature))
		}), body, now, ErrWebhookHeader},
	} {
		err := VerifyWebhook(secret, tc.h, tc.body, tc.now, 5*time.Minute)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Within the tolerance, and one good signature among others, passes.
	h := tamper(func(h http.Header) {
		h.Set(HeaderWebhookSignature, "v1a,AAAA "+signWebhook([][]byte{otherKey, key}, "evt_1", strconv.FormatInt(now.Unix(), 10), body))
	})
	if err := VerifyWebhook(secret, h, body, now.Add(4*time.Minute), 5*time.Minute); err != nil {
		t.Errorf("rotation with another scheme: %v", err)
	}
}

func TestParseWebhookSecret(t *testing.T) {
	good, _ := testSecret('a')
	if _, err := ParseWebhookSecret(good); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "secret", strings.TrimPrefix(good, WebhookSecretPrefix), WebhookSecretPrefix + "not base64!",
		WebhookSecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 24)),
		WebhookSecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 65)),
		WebhookSecretPrefix + base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := ParseWebhookSecret(s); !errors.Is(err, ErrWebhookSecret) {
			t.Errorf("ParseWebhookSecret(%q) = %v, want ErrWebhookSecret", s, err)
		}
	}
}

// FuzzVerifyWebhook: any headers and body either verify only when signed
// with the key over exactly that id, timestamp and body, or are refused
// with one of the sentinels; nothing panics.
func FuzzVerifyWebhook(f *testing.F) {
	secret, key := testSecret('f')
	now := time.Unix(1_800_000_000, 0)
	h := signed([][]byte{key}, "evt_1", now, []byte("{}"))
	f.Add(h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature), []byte("{}"))
	f.Add("evt_1", "1800000000", "v1a,AA v1,AAAA", []byte("{}"))
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "-1", "v1,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		hh := http.Header{}
		hh.Set(HeaderWebhookID, id)
		hh.Set(HeaderWebhookTimestamp, ts)
		hh.Set(HeaderWebhookSignature, sig)
		err := VerifyWebhook(secret, hh, body, now, time.Minute)
		if err == nil {
			want := "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key, id, ts, body))
			if !strings.Contains(" "+sig+" ", " "+want+" ") || strings.Contains(id, ".") {
				t.Fatalf("verified without a matching signature: %q %q %q", id, ts, sig)
			}
			return
		}
		if !errors.Is(err, ErrWebhookHeader) && !errors.Is(err, ErrWebhookTimestamp) && !errors.Is(err, ErrWebhookSignature) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
