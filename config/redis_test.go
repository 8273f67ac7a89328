package config

import (
	"errors"
	"reflect"
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
			got.DialTimeout, got.ReadTimeout, got.WriteTimeout, got.KeyPrefix, got.ReplayWaitTimeout = 0, 0, 0, "", 0
			if !reflect.DeepEqual(got, tt.want) {
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

// TestRedisShapes checks that exactly one of addr, sentinel and cluster
// is accepted, each complete, and that a mistake names its key and line.
func TestRedisShapes(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want, shape string
	}{
		{"sentinel", "redis:\n  sentinel:\n    master_name: ward\n    addresses: [10.0.0.1:26379, 10.0.0.2:26379]\n    username: s\n", "", "sentinel"},
		{"cluster", "redis:\n  cluster:\n    addresses: [10.0.0.1:7000]\n  replay_min_replicas: 1\n", "", "cluster"},
		{"single", "redis:\n  addr: 10.0.0.1:6379\n", "", "single"},
		{"addr and sentinel", "redis:\n  addr: 10.0.0.1:6379\n  sentinel:\n    master_name: ward\n    addresses: [10.0.0.1:26379]\n",
			"ward.yaml:4: redis.sentinel: set either redis.addr or redis.sentinel, not both", ""},
		{"addr and cluster", "redis:\n  addr: 10.0.0.1:6379\n  cluster:\n    addresses: [10.0.0.1:7000]\n",
			"ward.yaml:4: redis.cluster: set either redis.addr or redis.cluster, not both", ""},
		{"sentinel and cluster", "redis:\n  sentinel:\n    master_name: w\n    addresses: [h:1]\n  cluster:\n    addresses: [h:2]\n",
			"ward.yaml:6: redis.cluster: set either redis.sentinel or redis.cluster, not both", ""},
		{"sentinel without name", "redis:\n  sentinel:\n    addresses: [h:1]\n",
			"ward.yaml:3: redis.sentinel.master_name: required", ""},
		{"sentinel without addresses", "redis:\n  sentinel:\n    master_name: ward\n",
			"ward.yaml:3: redis.sentinel.addresses: required", ""},
		{"bad sentinel address", "redis:\n  sentinel:\n    master_name: ward\n    addresses: [nohost]\n",
			`ward.yaml:4: redis.sentinel.addresses: "nohost" is not a host:port address`, ""},
		{"bad cluster address", "redis:\n  cluster:\n    addresses: [h:1, nohost]\n",
			`ward.yaml:3: redis.cluster.addresses: "nohost" is not a host:port address`, ""},
		{"cluster db", "redis:\n  cluster:\n    addresses: [h:1]\n  db: 2\n",
			"ward.yaml:4: redis.db: Redis Cluster has database 0 only", ""},
		{"min replicas", "redis:\n  addr: h:1\n  replay_min_replicas: -1\n",
			`ward.yaml:3: redis.replay_min_replicas: "-1": not a number of replicas between 0 and 16`, ""},
		{"wait timeout", "redis:\n  addr: h:1\n  replay_wait_timeout: 6s\n",
			"ward.yaml:3: redis.replay_wait_timeout: 6s exceeds the maximum of 5s", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Issuer = "https://auth.example.com"
			c.BehindTLSProxy.TrustedProxies = nil
			c.Listen = "127.0.0.1:0"
			err := c.Decode("ward.yaml", []byte(tt.yaml))
			if err == nil {
				err = c.Validate()
			}
			if tt.want == "" {
				if (err != nil && strings.Contains(err.Error(), "redis")) || c.Redis.Shape() != tt.shape || !c.Redis.Enabled() {
					t.Fatalf("err %v, shape %q", err, c.Redis.Shape())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q in:\n%v", tt.want, err)
			}
		})
	}
}
