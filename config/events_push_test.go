package config_test

import (
	"errors"
	"testing"

	"github.com/wardauth/ward/config"
)

// gwOnly is a gateway-only process: gwBase, then line 19.
const gwOnly = gwBase + "authorization_server: {enabled: false}\n"

// TestEventPush: a gateway-only process that pushes, an authorization
// server that receives, and each mistake named with its key and line.
func TestEventPush(t *testing.T) {
	c, err := load("ward.yaml", gwOnly+"events:\n  push: {url: https://as.example/events/push, issuer: https://gw-a.example, key_file: /k.pem}\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Events.Push; !p.Enabled() || p.Queue != 0 || p.MaxRetry != 0 {
		t.Errorf("push: %+v", p)
	}
	c, err = load("ward.yaml", base+"events:\n  receive:\n    enabled: true\n    senders: [{issuer: https://gw-a.example, public_key_file: /gw-a.pub}]\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Events.Receive; !r.Enabled || len(r.Senders) != 1 || r.MaxAge != 0 {
		t.Errorf("receive: %+v", r)
	}
	for _, tt := range []struct{ name, yaml, want string }{
		{"push with AS", base + "events:\n  push: {url: https://as.example/events/push, issuer: gw, key_file: /k}\n",
			`ward.yaml:5: events.push.url: is for a gateway-only process (authorization_server.enabled: false): with the authorization server, events are stored here`},
		{"push url", gwOnly + "events:\n  push: {url: 'ftp://as', issuer: gw, key_file: /k}\n",
			`ward.yaml:21: events.push.url: "ftp://as" is not an http(s) URL`},
		{"push issuer", gwOnly + "events:\n  push:\n    url: https://as.example/events/push\n    key_file: /k\n",
			`ward.yaml:22: events.push.issuer: required with events.push.url (this gateway's name, the SETs' iss)`},
		{"push key", gwOnly + "events:\n  push:\n    url: https://as.example/events/push\n    issuer: gw\n",
			`ward.yaml:22: events.push.key_file: required with events.push.url (a PKCS#8 PEM P-256 private key)`},
		{"push no url", gwOnly + "events:\n  push:\n    issuer: gw\n",
			`ward.yaml:22: events.push.url: required with events.push.issuer and key_file`},
		{"push retry", gwOnly + "events:\n  push:\n    url: https://as.example/events/push\n    issuer: gw\n    key_file: /k\n    max_retry: 10ms\n",
			`ward.yaml:25: events.push.max_retry: must be at least 1s (0: default 10m)`},
		{"push queue", gwOnly + "events:\n  push:\n    url: https://as.example/events/push\n    issuer: gw\n    key_file: /k\n    queue: 2000000\n",
			`ward.yaml:25: events.push.queue: must be between 1 and 1048576 (0: default 1024)`},
		{"receive no senders", base + "events:\n  receive:\n    enabled: true\n",
			`ward.yaml:6: events.receive.senders: list the gateways allowed to push (issuer, public_key_file)`},
		{"receive gateway-only", gwOnly + "events:\n  receive:\n    enabled: true\n    senders: [{issuer: gw, public_key_file: /p}]\n",
			`ward.yaml:22: events.receive.enabled: needs events.enabled and authorization_server.enabled`},
		{"receive twice", base + "events:\n  receive:\n    enabled: true\n    senders:\n      - {issuer: gw, public_key_file: /p}\n      - {issuer: gw, public_key_file: /q}\n",
			`ward.yaml:9: events.receive.senders[1].issuer: "gw" is listed twice`},
		{"receive key", base + "events:\n  receive:\n    enabled: true\n    senders:\n      - issuer: gw\n",
			`ward.yaml:8: events.receive.senders[0].public_key_file: required (the gateway's P-256 public keys, PEM)`},
		{"receive max_age", base + "events:\n  receive:\n    enabled: true\n    max_age: 2h\n    senders: [{issuer: gw, public_key_file: /p}]\n",
			`ward.yaml:7: events.receive.max_age: must be between 10s and 1h (0: default 5m)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrMissing) {
				t.Errorf("wraps neither ErrInvalidValue nor ErrMissing: %v", err)
			}
		})
	}
}

// events.queue set in a file decodes (it panicked the loader as an int).
func TestEventsQueueDecodes(t *testing.T) {
	c, err := load("ward.yaml", base+"events: {queue: 10}\n", noEnv)
	if err != nil || c.Events.Queue != 10 {
		t.Fatalf("events.queue: %v", err)
	}
	if _, err := load("ward.yaml", base+"events: {queue: 0}\n", noEnv); err == nil ||
		err.Error() != "ward.yaml:4: events.queue: must be between 1 and 1048576" {
		t.Errorf("events.queue 0: %v", err)
	}
}
