package config

import (
	"cmp"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/wardauth/ward/secevent"
)

// Webhook is one receiver of security events (events.webhooks[i],
// docs/EVENTS.md "Webhooks"): each event it takes is POSTed as JSON,
// signed as Standard Webhooks has it, from its own bounded queue.
type Webhook struct {
	// Name labels its metrics and log lines. Default webhook-<index>.
	Name string `yaml:"name"`
	// URL: https, or http to a loopback IP address only.
	URL string `yaml:"url"`
	// SecretEnv or SecretFile (exactly one) holds the signing secret,
	// "whsec_" and the standard base64 of 32 to 64 random bytes.
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	// PreviousSecretEnv or PreviousSecretFile (optional) holds the
	// secret being rotated out: it signs too, until removed.
	PreviousSecretEnv  string `yaml:"previous_secret_env"`
	PreviousSecretFile string `yaml:"previous_secret_file"`
	// Types filters the events; default secevent.DefaultWebhookTypes.
	Types []string `yaml:"types"`
	// MinSeverity drops events below it: info (default), warning or
	// critical.
	MinSeverity string `yaml:"min_severity"`
	// MaxRate bounds the requests a second to the receiver, retries
	// included (default 10); Burst at once (default 2 × max_rate).
	MaxRate Count `yaml:"max_rate"`
	Burst   Count `yaml:"burst"`
	// Queue bounds the events waiting (default 1000, at most
	// MaxWebhookQueue); a full queue drops and counts.
	Queue Count `yaml:"queue"`
	// Timeout bounds one attempt (default 10s, at most 1m).
	Timeout time.Duration `yaml:"timeout"`
	// Retry is the retry policy.
	Retry WebhookRetry `yaml:"retry"`

	// Secret and PreviousSecret are from secret_env and
	// previous_secret_env (ApplyEnv), never the file.
	Secret         string `yaml:"-"`
	PreviousSecret string `yaml:"-"`
}

// WebhookRetry: up to MaxAttempts attempts (default 5, at most 20),
// waiting Backoff (default 1s) doubled each time up to MaxBackoff
// (default 1m, at most 1h), with jitter; a Retry-After is honoured up to
// MaxBackoff.
type WebhookRetry struct {
	MaxAttempts Count         `yaml:"max_attempts"`
	Backoff     time.Duration `yaml:"backoff"`
	MaxBackoff  time.Duration `yaml:"max_backoff"`
}

// Bounds of a webhook's settings.
const (
	MaxWebhookQueue    = 100_000
	MaxWebhookRate     = 10_000
	MaxWebhookTimeout  = time.Minute
	MaxWebhookAttempts = 20
	MaxWebhookBackoff  = time.Hour
)

var webhookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Effective is w with its defaults filled in.
func (w Webhook) Effective(i int) Webhook {
	if w.Name == "" {
		w.Name = fmt.Sprintf("webhook-%d", i)
	}
	if w.Types == nil {
		w.Types = names(secevent.DefaultWebhookTypes)
	}
	if w.MaxRate == 0 {
		w.MaxRate = secevent.DefaultWebhookRate
	}
	if w.Burst == 0 {
		w.Burst = 2 * w.MaxRate
	}
	if w.Queue == 0 {
		w.Queue = secevent.DefaultWebhookQueue
	}
	w.Timeout = cmp.Or(w.Timeout, secevent.DefaultWebhookTimeout)
	if w.Retry.MaxAttempts == 0 {
		w.Retry.MaxAttempts = secevent.DefaultWebhookAttempts
	}
	w.Retry.Backoff = cmp.Or(w.Retry.Backoff, secevent.DefaultWebhookBackoff)
	w.Retry.MaxBackoff = cmp.Or(w.Retry.MaxBackoff, secevent.DefaultWebhookMaxBackoff)
	return w
}

// webhook checks events.webhooks[i].
func (v *validator) webhook(i int, seen map[string]bool) {
	w := v.c.Events.Webhooks[i].Effective(i)
	p := func(k string) string { return fmt.Sprintf("events.webhooks[%d].%s", i, k) }
	if w.URL == "" {
		v.add(p("url"), ErrMissing, "required (the https URL receiving the events)")
	} else if err := secevent.WebhookURLAllowed(w.URL); err != nil {
		v.add(p("url"), ErrInvalidValue, "%v", err) // never quoted: it may hold a credential
	}
	if !webhookName.MatchString(w.Name) {
		v.add(p("name"), ErrInvalidValue, "%q must be 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", w.Name)
	} else if seen[w.Name] {
		v.add(p("name"), ErrInvalidValue, "%q is the name of another webhook", w.Name)
	}
	seen[w.Name] = true
	v.webhookSecrets(w, p)
	for j, t := range w.Types {
		v.oneOf(fmt.Sprintf("events.webhooks[%d].types[%d]", i, j), t, names(secevent.Types)...)
	}
	if len(w.Types) == 0 {
		v.add(p("types"), ErrInvalidValue, "an empty list sends nothing: leave types out for the default")
	}
	if w.MinSeverity != "" {
		v.oneOf(p("min_severity"), w.MinSeverity, "info", "warning", "critical")
	}
	v.webhookBounds(w, p)
}

// webhookSecrets: exactly one of secret_env and secret_file, at most one
// of the previous pair; a secret from the environment (ApplyEnv) is
// checked here, a file's when the server reads it (Webhook.Keys).
func (v *validator) webhookSecrets(w Webhook, p func(string) string) {
	if (w.SecretEnv == "") == (w.SecretFile == "") {
		v.add(p("secret_env"), ErrMissing, "set exactly one of secret_env and secret_file")
	}
	if w.PreviousSecretEnv != "" && w.PreviousSecretFile != "" {
		v.add(p("previous_secret_env"), ErrInvalidValue, "set at most one of previous_secret_env and previous_secret_file")
	}
	for _, k := range []struct{ key, env, val string }{{"secret_env", w.SecretEnv, w.Secret},
		{"previous_secret_env", w.PreviousSecretEnv, w.PreviousSecret}} {
		if k.val == "" {
			continue
		}
		if _, err := secevent.ParseWebhookSecret(k.val); err != nil {
			v.add(p(k.key), ErrInvalidValue, "%s: %v", k.env, err)
		}
	}
}

func (v *validator) webhookBounds(w Webhook, p func(string) string) {
	if w.MaxRate < 1 || w.MaxRate > MaxWebhookRate {
		v.add(p("max_rate"), ErrInvalidValue, "must be between 1 and %d events a second", MaxWebhookRate)
	}
	if w.Burst < 1 || w.Burst > MaxWebhookQueue {
		v.add(p("burst"), ErrInvalidValue, "must be between 1 and %d", MaxWebhookQueue)
	}
	if w.Queue < 1 || w.Queue > MaxWebhookQueue {
		v.add(p("queue"), ErrInvalidValue, "must be between 1 and %d", MaxWebhookQueue)
	}
	v.positive(p("timeout"), w.Timeout, MaxWebhookTimeout)
	if w.Retry.MaxAttempts < 1 || w.Retry.MaxAttempts > MaxWebhookAttempts {
		v.add(p("retry.max_attempts"), ErrInvalidValue, "must be between 1 and %d (1: no retry)", MaxWebhookAttempts)
	}
	v.positive(p("retry.backoff"), w.Retry.Backoff, MaxWebhookBackoff)
	v.positive(p("retry.max_backoff"), w.Retry.MaxBackoff, MaxWebhookBackoff)
	if w.Retry.MaxBackoff > 0 && w.Retry.MaxBackoff < w.Retry.Backoff {
		v.add(p("retry.max_backoff"), ErrInvalidValue, "must be at least retry.backoff (%v)", w.Retry.Backoff)
	}
}

// applyWebhookEnv reads each webhook's secret_env and
// previous_secret_env into Secret and PreviousSecret (ApplyEnv).
func (c *Config) applyWebhookEnv(lookup func(string) (string, bool)) []error {
	var errs []error
	for i := range c.Events.Webhooks {
		w := &c.Events.Webhooks[i]
		for _, s := range []struct {
			key, env string
			dst      *string
		}{{"secret_env", w.SecretEnv, &w.Secret}, {"previous_secret_env", w.PreviousSecretEnv, &w.PreviousSecret}} {
			if s.env == "" {
				continue
			}
			val, ok := lookup(s.env)
			if (!ok || val == "") && !c.storeOnly {
				errs = append(errs, c.errorf(fmt.Sprintf("events.webhooks[%d].%s", i, s.key), ErrMissing,
					"environment variable %s is not set", s.env))
			}
			*s.dst = val
		}
	}
	return errs
}

// Keys are the webhook's HMAC keys, current first: from the environment
// (read by ApplyEnv) or the files named. An error names the key, never
// the secret.
func (w Webhook) Keys(i int) ([][]byte, error) {
	var keys [][]byte
	for _, s := range []struct{ key, val, file string }{
		{"secret", w.Secret, w.SecretFile}, {"previous_secret", w.PreviousSecret, w.PreviousSecretFile}} {
		val, key := s.val, s.key+"_env"
		if s.file != "" {
			b, err := os.ReadFile(s.file)
			if err != nil {
				return nil, fmt.Errorf("events.webhooks[%d].%s_file: %w", i, s.key, err)
			}
			val, key = string(b), s.key+"_file"
		}
		if val == "" {
			continue
		}
		k, err := secevent.ParseWebhookSecret(val)
		if err != nil {
			return nil, fmt.Errorf("events.webhooks[%d].%s: %w", i, key, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// EventTypes is w's types as secevent types (after Validate).
func (w Webhook) EventTypes() []secevent.Type {
	out := make([]secevent.Type, len(w.Types))
	for i, t := range w.Types {
		out[i] = secevent.Type(t)
	}
	return out
}
