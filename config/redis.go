package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Environment variables for the redis section, read by ApplyEnv.
const (
	// EnvRedisURL replaces redis.addr, username, password, db and
	// tls.enabled with those of a redis:// or rediss:// (TLS) URL.
	EnvRedisURL = "WARD_REDIS_URL"
	// EnvRedisPassword sets the Redis password (wins over the URL's).
	EnvRedisPassword = "WARD_REDIS_PASSWORD"
	// EnvRedisSentinelPassword sets the password Ward gives the
	// sentinels (redis.sentinel.username), not the Redis servers.
	EnvRedisSentinelPassword = "WARD_REDIS_SENTINEL_PASSWORD"
)

// MaxReplayWaitTimeout bounds redis.replay_wait_timeout.
const MaxReplayWaitTimeout = 5 * time.Second

// DefaultReplayWaitTimeout is the default redis.replay_wait_timeout.
const DefaultReplayWaitTimeout = 50 * time.Millisecond

// DefaultRedisTimeout is the default dial, read and write timeout: short,
// so that a dead Redis fails a request quickly instead of stalling it.
const DefaultRedisTimeout = 100 * time.Millisecond

// MaxRedisTimeout bounds the Redis timeouts: every request needing a
// replay check waits up to about twice this long when Redis is silent.
const MaxRedisTimeout = 5 * time.Second

// Redis configures the shared Redis that several instances use to refuse
// a DPoP proof seen by any of them (RFC 9449 §11.1). Off when Addr is
// empty: each instance then keeps its own in-memory replay store.
type Redis struct {
	// Addr is host:port of the Redis server. Empty (and no sentinel or
	// cluster): Redis is off. Environment: WARD_REDIS_URL. Exactly one of
	// addr, sentinel and cluster is set.
	Addr string `yaml:"addr"`
	// Sentinel: a Redis master and replicas watched by Sentinel; Ward
	// asks the sentinels which server is the master and follows a
	// failover.
	Sentinel RedisSentinel `yaml:"sentinel"`
	// Cluster: a Redis Cluster, found from its seed addresses.
	Cluster RedisCluster `yaml:"cluster"`
	// ReplayMinReplicas, when positive, makes every replay-check write
	// wait (WAIT) until that many replicas hold it, and refuses the
	// request (503) when fewer acknowledge within ReplayWaitTimeout: a
	// failover then cannot forget a proof Ward accepted. Default 0:
	// Redis's asynchronous replication (docs/SCALEOUT.md).
	ReplayMinReplicas RedisReplicas `yaml:"replay_min_replicas"`
	// ReplayWaitTimeout bounds that wait. Default 50ms, at most 5s.
	ReplayWaitTimeout time.Duration `yaml:"replay_wait_timeout"`
	// Username for Redis 6 ACLs; empty for the default user.
	Username string `yaml:"username"`
	// DB is the database number. Default 0.
	DB RedisDB `yaml:"db"`
	// TLS for the connection to Redis.
	TLS RedisTLS `yaml:"tls"`
	// DialTimeout, ReadTimeout, WriteTimeout: default 100ms, at most 5s.
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// KeyPrefix is put in front of every key, so that several deployments
	// can share one Redis. Default "ward:". Every instance of one
	// deployment must use the same prefix.
	KeyPrefix string `yaml:"key_prefix"`
	// FailOpen accepts a proof unchecked when Redis cannot be reached.
	// Default false: such a request is refused with 503 (fail closed).
	FailOpen bool `yaml:"fail_open"`

	// Password is from WARD_REDIS_PASSWORD or WARD_REDIS_URL, never the
	// file.
	Password string `yaml:"-"`
}

// RedisSentinel names a master monitored by Redis Sentinel.
type RedisSentinel struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string `yaml:"master_name"`
	// Addresses are host:port of the sentinels (at least one).
	Addresses []string `yaml:"addresses"`
	// Username for the sentinels' ACL (empty: default user). The
	// password is from WARD_REDIS_SENTINEL_PASSWORD, never the file. The
	// servers themselves use redis.username and WARD_REDIS_PASSWORD.
	Username string `yaml:"username"`

	// Password is from WARD_REDIS_SENTINEL_PASSWORD.
	Password string `yaml:"-"`
}

// RedisCluster lists seed nodes of a Redis Cluster.
type RedisCluster struct {
	// Addresses are host:port of some of the cluster's nodes; the client
	// learns the others (CLUSTER SLOTS).
	Addresses []string `yaml:"addresses"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled connects with TLS (1.2 or later); set by a rediss:// URL.
	Enabled bool `yaml:"enabled"`
	// CAFile: PEM certificates to verify the server with, instead of the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName to verify; default the host of Addr.
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile: a client certificate, when Redis asks for one.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RedisDB is a Redis database number, 0 to 15 by default.
type RedisDB int

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *RedisDB) UnmarshalText(text []byte) error {
	n, err := strconv.Atoi(string(text))
	if err != nil || n < 0 || n > 1<<16 {
		return errors.New("not a database number (0, 1, ...)")
	}
	*d = RedisDB(n)
	return nil
}

// RedisReplicas is a number of replicas, 0 to 16.
type RedisReplicas int

// UnmarshalText implements encoding.TextUnmarshaler.
func (n *RedisReplicas) UnmarshalText(text []byte) error {
	v, err := strconv.Atoi(string(text))
	if err != nil || v < 0 || v > 16 {
		return errors.New("not a number of replicas between 0 and 16")
	}
	*n = RedisReplicas(v)
	return nil
}

// DefaultRedis returns the redis section's defaults: off, 100 ms
// timeouts, prefix "ward:", fail closed.
func DefaultRedis() Redis {
	return Redis{
		DialTimeout:  DefaultRedisTimeout,
		ReadTimeout:  DefaultRedisTimeout,
		WriteTimeout: DefaultRedisTimeout,
		KeyPrefix:    "ward:",

		ReplayWaitTimeout: DefaultReplayWaitTimeout,
	}
}

// Enabled reports whether a Redis is configured.
func (r Redis) Enabled() bool {
	return r.Addr != "" || r.Sentinel.MasterName != "" || len(r.Sentinel.Addresses) > 0 || len(r.Cluster.Addresses) > 0
}

// Shape names the deployment configured: "single", "sentinel",
// "cluster", or "" when Redis is off.
func (r Redis) Shape() string {
	switch {
	case r.Sentinel.MasterName != "" || len(r.Sentinel.Addresses) > 0:
		return "sentinel"
	case len(r.Cluster.Addresses) > 0:
		return "cluster"
	case r.Addr != "":
		return "single"
	}
	return ""
}

// applyURL sets the connection fields from a redis:// or rediss://
// URL: redis[s]://[user[:password]@]host[:port][/db].
func (r *Redis) applyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL (redis://[user:password@]host:port[/db], or rediss:// for TLS)")
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		r.TLS.Enabled = true
	default:
		return fmt.Errorf("scheme %q: use redis:// or rediss:// (TLS)", u.Scheme)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want redis://[user:password@]host:port[/db] without query or fragment")
	}
	r.Addr = u.Host
	if u.Port() == "" {
		r.Addr = net.JoinHostPort(u.Hostname(), "6379")
	}
	if u.User != nil {
		r.Username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			r.Password = p
		} else if r.Username != "" {
			// redis://password@host, as go-redis reads it.
			r.Password, r.Username = r.Username, ""
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if err := r.DB.UnmarshalText([]byte(db)); err != nil {
			return fmt.Errorf("database %q: %w", db, err)
		}
	}
	return nil
}

func (v *validator) redis() {
	r := v.c.Redis
	if !r.Enabled() {
		if r.Password != "" {
			v.add("redis.addr", ErrMissing, "required when %s is set", EnvRedisPassword)
		}
		return
	}
	v.redisShape(r)
	v.positive("redis.replay_wait_timeout", r.ReplayWaitTimeout, MaxReplayWaitTimeout)
	v.positive("redis.dial_timeout", r.DialTimeout, MaxRedisTimeout)
	v.positive("redis.read_timeout", r.ReadTimeout, MaxRedisTimeout)
	v.positive("redis.write_timeout", r.WriteTimeout, MaxRedisTimeout)
	if r.KeyPrefix == "" {
		v.add("redis.key_prefix", ErrMissing, "must not be empty (default \"ward:\")")
	}
	t := r.TLS
	if !t.Enabled && (t.CAFile != "" || t.ServerName != "" || t.CertFile != "" || t.KeyFile != "") {
		v.add("redis.tls.enabled", ErrInvalidValue, "tls settings are given but tls.enabled is false")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("redis.tls.cert_file", ErrMissing, "cert_file and key_file go together")
	}
}

// redisShape checks that exactly one of addr, sentinel and cluster is
// set, and that the one set is complete.
func (v *validator) redisShape(r Redis) {
	sentinel := r.Sentinel.MasterName != "" || len(r.Sentinel.Addresses) > 0
	cluster := len(r.Cluster.Addresses) > 0
	switch {
	case r.Addr != "" && sentinel:
		v.add("redis.sentinel", ErrInvalidValue, "set either redis.addr or redis.sentinel, not both")
	case r.Addr != "" && cluster:
		v.add("redis.cluster", ErrInvalidValue, "set either redis.addr or redis.cluster, not both")
	case sentinel && cluster:
		v.add("redis.cluster", ErrInvalidValue, "set either redis.sentinel or redis.cluster, not both")
	case sentinel:
		if r.Sentinel.MasterName == "" {
			v.add("redis.sentinel.master_name", ErrMissing, "required with redis.sentinel.addresses")
		}
		if len(r.Sentinel.Addresses) == 0 {
			v.add("redis.sentinel.addresses", ErrMissing, "required with redis.sentinel.master_name")
		}
		v.hostPorts("redis.sentinel.addresses", r.Sentinel.Addresses)
	case cluster:
		v.hostPorts("redis.cluster.addresses", r.Cluster.Addresses)
		if r.DB != 0 {
			v.add("redis.db", ErrInvalidValue, "Redis Cluster has database 0 only")
		}
	default:
		v.hostPorts("redis.addr", []string{r.Addr})
	}
	if !sentinel && (r.Sentinel.Username != "" || r.Sentinel.Password != "") {
		v.add("redis.sentinel.username", ErrInvalidValue, "sentinel credentials without redis.sentinel.master_name")
	}
}

func (v *validator) hostPorts(key string, addrs []string) {
	for _, a := range addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			v.add(key, ErrInvalidValue, "%q is not a host:port address", a)
		}
	}
}
