package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRedisEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Redis
		err  string
	}{
		{"url", map[string]string{EnvRedisURL: "redis://ward:s3cret@redis.internal:6380/2"},
			Redis{Addr: "redis.internal:6380", Username: "ward", Password: "s3cret", DB: 2}, ""},
		{"rediss default port", map[string]string{EnvRedisURL: "rediss://redis.internal"},
			Redis{Addr: "redis.internal:6379", TLS: RedisTLS{Enabled: true}}, ""},
		{"password only in url", map[string]string{EnvRedisURL: "redis://:pw@127.0.0.1:6379"},
			Redis{Addr: "127.0.0.1:6379", Password: "pw"}, ""},
		{"password env wins", map[string]string{EnvRedisURL: "redis://:pw@127.0.0.1:6379", EnvRedisPassword: "other"},
			Redis{Addr: "127.0.0.1:6379", Password: "other"}, ""},
		{"bad scheme", map[string]string{EnvRedisURL: "http://u:hunter2@h:1"}, Redis{}, `WARD_REDIS_URL: scheme "http"`},
		{"bad db", map[string]string{EnvRedisURL: "redis://:hunter2@h:1/x"}, Redis{}, `database "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.ApplyEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidValue) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := c.Redis
			got.DialTimeout, got.ReadTimeout, got.WriteTimeout, got.KeyPrefix = 0, 0, 0, ""
			if got != tt.want {
				t.Fatalf("redis = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRedisValidate(t *testing.T) {
	yaml := `issuer: https://auth.example.com
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
keys: {kek_file: kek}
redis:
  addr: redis.internal
  db: -1
  read_timeout: 10s
  key_prefix: ""
  tls:
    ca_file: ca.pem
    cert_file: c.pem
`
	c := Default()
	err := c.Decode("ward.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), `ward.yaml:6: redis.db: "-1": not a database number`) {
		t.Fatalf("decode: %v", err)
	}
	err = c.Validate()
	for _, want := range []string{
		`ward.yaml:5: redis.addr: "redis.internal" is not a host:port address`,
		`ward.yaml:7: redis.read_timeout: 10s exceeds the maximum of 5s`,
		`ward.yaml:8: redis.key_prefix: must not be empty`,
		`ward.yaml:10: redis.tls.enabled: tls settings are given but tls.enabled is false`,
		`ward.yaml:11: redis.tls.cert_file: cert_file and key_file go together`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}

	c = Default()
	c.Issuer = "https://auth.example.com"
	c.BehindTLSProxy.TrustedProxies = nil
	c.Redis.Password = "pw"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "redis.addr: required when WARD_REDIS_PASSWORD is set") {
		t.Errorf("password without addr: %v", err)
	}
	if d := DefaultRedis(); d.Enabled() || d.FailOpen || d.ReadTimeout != 100*time.Millisecond {
		t.Errorf("defaults: %+v", d)
	}
}
