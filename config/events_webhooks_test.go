package config_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/secevent"
)

func whsec(n int) string {
	return secevent.WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

func webhookEnv(vals map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
}

// A webhook with only url and secret takes the defaults; its secrets come
// from the environment or a file, the previous one signing too.
func TestWebhookConfigDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "prev")
	if err := os.WriteFile(file, []byte(whsec(40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load("ward.yaml", base+"events:\n  webhooks:\n    - url: https://siem.example/ward\n      secret_env: HOOK\n      previous_secret_file: "+file+"\n",
		webhookEnv(map[string]string{"HOOK": whsec(32)}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Events.Webhooks[0].Effective(0)
	if w.Name != "webhook-0" || w.MaxRate != 10 || w.Burst != 20 || w.Queue != 1000 || w.Timeout != 10*time.Second ||
		w.Retry.MaxAttempts != 5 || w.Retry.Backoff != time.Second || w.Retry.MaxBackoff != time.Minute ||
		strings.Join(w.Types, ",") != "token_leaked,refresh_replayed,code_replayed,account_locked,address_blocked,key_blocked" {
		t.Errorf("defaults %+v", w)
	}
	keys, err := w.Keys(0)
	if err != nil || len(keys) != 2 || len(keys[0]) != 32 || len(keys[1]) != 40 {
		t.Fatalf("keys: %d %v", len(keys), err)
	}
}

// Every refusal names its key and line; none quotes a secret or the URL's
// credentials.
func TestWebhookConfigRefusals(t *testing.T) {
	env := webhookEnv(map[string]string{"HOOK": whsec(32), "SHORT": whsec(16), "RAW": "hunter2hunter2hunter2hunter2hunter2"})
	hook := func(extra string) string {
		return base + "events:\n  webhooks:\n    - url: https://siem.example/ward\n      secret_env: HOOK\n" + extra
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"http remote", base + "events:\n  webhooks:\n    - url: http://siem.example/ward\n      secret_env: HOOK\n",
			`ward.yaml:6: events.webhooks[0].url: must use https (http only to a loopback IP address such as 127.0.0.1)`},
		{"http private", base + "events:\n  webhooks:\n    - url: http://10.0.0.8/ward\n      secret_env: HOOK\n",
			`ward.yaml:6: events.webhooks[0].url: must use https`},
		{"metadata", base + "events:\n  webhooks:\n    - url: https://169.254.169.254/latest\n      secret_env: HOOK\n",
			`ward.yaml:6: events.webhooks[0].url: must not name a link-local, unspecified or multicast address`},
		{"userinfo", base + "events:\n  webhooks:\n    - url: https://u:topsecretpw@siem.example/\n      secret_env: HOOK\n",
			`events.webhooks[0].url: must not contain user information`},
		{"no url", base + "events:\n  webhooks:\n    - secret_env: HOOK\n", `ward.yaml:6: events.webhooks[0].url: required`},
		{"no secret", base + "events:\n  webhooks:\n    - url: https://siem.example/ward\n",
			`ward.yaml:6: events.webhooks[0].secret_env: set exactly one of secret_env and secret_file`},
		{"both secrets", hook("      secret_file: /s\n"), `ward.yaml:7: events.webhooks[0].secret_env: set exactly one`},
		{"unset env", base + "events:\n  webhooks:\n    - url: https://siem.example/ward\n      secret_env: NOPE\n",
			`ward.yaml:7: events.webhooks[0].secret_env: environment variable NOPE is not set`},
		{"short secret", base + "events:\n  webhooks:\n    - url: https://siem.example/ward\n      secret_env: SHORT\n",
			`ward.yaml:7: events.webhooks[0].secret_env: SHORT: secevent: invalid webhook secret: 16 bytes, want 32 to 64`},
		{"raw secret", base + "events:\n  webhooks:\n    - url: https://siem.example/ward\n      secret_env: RAW\n",
			`events.webhooks[0].secret_env: RAW: secevent: invalid webhook secret: must start with "whsec_"`},
		{"bad type", hook("      types: [token_leaked, tokn_leaked]\n"), `ward.yaml:8: events.webhooks[0].types[1]: "tokn_leaked" is not one of`},
		{"empty types", hook("      types: []\n"), `ward.yaml:8: events.webhooks[0].types: an empty list sends nothing`},
		{"severity", hook("      min_severity: high\n"), `ward.yaml:8: events.webhooks[0].min_severity: "high" is not one of info, warning, critical`},
		{"rate", hook("      max_rate: 20000\n"), `ward.yaml:8: events.webhooks[0].max_rate: must be between 1 and 10000`},
		{"queue", hook("      queue: 1000000\n"), `ward.yaml:8: events.webhooks[0].queue: must be between 1 and 100000`},
		{"queue text", hook("      queue: lots\n"), `ward.yaml:8: events.webhooks[0].queue: "lots"`},
		{"timeout", hook("      timeout: 2m\n"), `ward.yaml:8: events.webhooks[0].timeout: 2m0s exceeds the maximum of 1m0s`},
		{"attempts", hook("      retry: {max_attempts: 50}\n"), `ward.yaml:8: events.webhooks[0].retry.max_attempts: must be between 1 and 20`},
		{"backoff order", hook("      retry: {backoff: 10s, max_backoff: 5s}\n"), `ward.yaml:8: events.webhooks[0].retry.max_backoff: must be at least retry.backoff`},
		{"name", hook("      name: \"Bad Name\"\n"), `ward.yaml:8: events.webhooks[0].name: "Bad Name" must be`},
		{"duplicate name", base + "events:\n  webhooks:\n    - {url: https://a.example/, secret_env: HOOK, name: siem}\n    - {url: https://b.example/, secret_env: HOOK, name: siem}\n",
			`ward.yaml:7: events.webhooks[1].name: "siem" is the name of another webhook`},
		{"unknown key", hook("      secret: whsec_x\n"), `ward.yaml:8: unknown key "secret" in events.webhooks[0]`},
		{"events queue", base + "events:\n  queue: 0\n", `ward.yaml:5: events.queue: must be between 1 and`},
	} {
		_, err := load("ward.yaml", tc.yaml, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
			continue
		}
		if !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrMissing) && !errors.Is(err, config.ErrUnknownKey) {
			t.Errorf("%s: %v wraps no sentinel", tc.name, err)
		}
		for _, leak := range []string{"hunter2", "topsecretpw", whsec(16)[6:]} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: the error shows a secret: %v", tc.name, err)
			}
		}
	}
}

// A secret file is read and checked when the server starts: an error
// names the key, not the content.
func TestWebhookSecretFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(file, []byte("hunter2hunter2hunter2hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := config.Webhook{URL: "https://siem.example/", SecretFile: file}
	_, err := w.Keys(3)
	if err == nil || !strings.Contains(err.Error(), "events.webhooks[3].secret_file") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad secret file: %v", err)
	}
	w.SecretFile = filepath.Join(t.TempDir(), "missing")
	if _, err := w.Keys(0); err == nil || !strings.Contains(err.Error(), "events.webhooks[0].secret_file") {
		t.Errorf("missing secret file: %v", err)
	}
}
