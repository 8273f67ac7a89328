package config

import (
	"fmt"
	"net/url"
	"time"
)

// EventPush sends the events of a gateway-only process to the
// authorization server as Security Event Tokens (RFC 8417) over HTTP
// push (RFC 8935), so that they are stored with every other instance's
// and token_leaked revokes the family there (docs/EVENTS.md). Off unless
// url is set.
type EventPush struct {
	// URL is the authorization server's push endpoint, its issuer +
	// /events/push.
	URL string `yaml:"url"`
	// Issuer names this gateway: the SETs' iss, which the authorization
	// server's events.receive.senders lists.
	Issuer string `yaml:"issuer"`
	// KeyFile is the PKCS#8 PEM P-256 private key that signs the SETs
	// (ES256); its public key is the sender's public_key_file.
	KeyFile string `yaml:"key_file"`
	// Queue bounds the SETs waiting to be sent; default 1024, at most
	// MaxEventQueue. A full queue drops an event, counted and logged.
	Queue Count `yaml:"queue"`
	// MaxRetry is how long one SET is retried while the authorization
	// server cannot be reached; default 10m, at least 1s.
	MaxRetry time.Duration `yaml:"max_retry"`
}

// Enabled reports whether events are pushed.
func (p EventPush) Enabled() bool { return p.URL != "" }

// EventReceive is the authorization server's push endpoint (RFC 8935),
// /events/push: the SETs of the listed senders only.
type EventReceive struct {
	Enabled bool `yaml:"enabled"`
	// MaxAge is how old a SET (its iat) may be; default 5m, 10s to 1h.
	MaxAge time.Duration `yaml:"max_age"`
	// Senders are the gateways allowed to push.
	Senders []EventSender `yaml:"senders"`
}

// EventSender is one gateway allowed to push events.
type EventSender struct {
	// Issuer is the gateway's events.push.issuer.
	Issuer string `yaml:"issuer"`
	// PublicKeyFile holds its P-256 public keys, PEM "PUBLIC KEY" blocks
	// (several while a key is rotated).
	PublicKeyFile string `yaml:"public_key_file"`
}

// eventPush checks events.push.
func (v *validator) eventPush() {
	const p = "events.push."
	e := v.c.Events.Push
	if !e.Enabled() {
		if e.Issuer != "" || e.KeyFile != "" {
			v.add(p+"url", ErrMissing, "required with events.push.issuer and key_file")
		}
		return
	}
	if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.Fragment != "" {
		v.add(p+"url", ErrInvalidValue, "%q is not an http(s) URL", e.URL)
	}
	switch {
	case !v.c.Events.Enabled:
		v.add(p+"url", ErrInvalidValue, "needs events.enabled")
	case v.c.AuthorizationServer.Enabled:
		v.add(p+"url", ErrInvalidValue, "is for a gateway-only process (authorization_server.enabled: false): with the authorization server, events are stored here")
	case !v.c.Gateway.Enabled:
		v.add(p+"url", ErrInvalidValue, "needs gateway.enabled")
	}
	if e.Issuer == "" {
		v.add(p+"issuer", ErrMissing, "required with events.push.url (this gateway's name, the SETs' iss)")
	}
	if e.KeyFile == "" {
		v.add(p+"key_file", ErrMissing, "required with events.push.url (a PKCS#8 PEM P-256 private key)")
	}
	if e.Queue > MaxEventQueue {
		v.add(p+"queue", ErrInvalidValue, "must be between 1 and %d (0: default 1024)", MaxEventQueue)
	}
	if e.MaxRetry != 0 && e.MaxRetry < time.Second {
		v.add(p+"max_retry", ErrInvalidValue, "must be at least 1s (0: default 10m)")
	}
}

// eventReceive checks events.receive.
func (v *validator) eventReceive() {
	const p = "events.receive."
	e := v.c.Events.Receive
	if !e.Enabled {
		return
	}
	if !v.c.Events.Enabled || !v.c.AuthorizationServer.Enabled {
		v.add(p+"enabled", ErrInvalidValue, "needs events.enabled and authorization_server.enabled")
	}
	if e.MaxAge != 0 && (e.MaxAge < 10*time.Second || e.MaxAge > time.Hour) {
		v.add(p+"max_age", ErrInvalidValue, "must be between 10s and 1h (0: default 5m)")
	}
	if len(e.Senders) == 0 {
		v.add(p+"senders", ErrMissing, "list the gateways allowed to push (issuer, public_key_file)")
	}
	seen := map[string]bool{}
	for i, s := range e.Senders {
		sp := fmt.Sprintf("%ssenders[%d].", p, i)
		switch {
		case s.Issuer == "":
			v.add(sp+"issuer", ErrMissing, "required (the gateway's events.push.issuer)")
		case seen[s.Issuer]:
			v.add(sp+"issuer", ErrInvalidValue, "%q is listed twice", s.Issuer)
		}
		seen[s.Issuer] = true
		if s.PublicKeyFile == "" {
			v.add(sp+"public_key_file", ErrMissing, "required (the gateway's P-256 public keys, PEM)")
		}
	}
}
