package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/ratelimit"
)

// TestOpenRedisShapes: redis.cluster and redis.sentinel give the shared
// client of their shape, on which the replay store (with
// replay_min_replicas) and the rate-limit store work. Every server
// speaks TLS only (redis.tls.ca_file, no server_name: each node's own
// address is verified), and the data nodes accept one ACL user only
// (redis.username and WARD_REDIS_PASSWORD); without the password nothing
// works.
func TestOpenRedisShapes(t *testing.T) {
	x := redistest.NewTLS(t)
	acl := redistest.Access{User: "ward", Password: "s3cret-acl", TLS: x}
	for _, sh := range redistest.Shapes(t, acl) {
		t.Run(sh.Name, func(t *testing.T) {
			r := config.DefaultRedis()
			r.ReadTimeout = time.Second
			r.KeyPrefix = redistest.Prefix("srv")
			r.ReplayMinReplicas = 1
			r.Username = acl.User
			r.TLS.Enabled, r.TLS.CAFile = true, x.CAFile
			if sh.Cluster != nil {
				r.Cluster.Addresses = sh.Cluster.Addrs()
			} else {
				r.Sentinel.MasterName, r.Sentinel.Addresses = redistest.MasterName, sh.Sentinel.SentinelAddrs()
			}
			anon, err := openRedis(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := anon.Ping(context.Background()); err == nil {
				t.Fatal("ping without the Access password succeeded")
			}
			anon.Close()
			r.Password = acl.Password
			rs, err := openRedis(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			switch rs.client.(type) {
			case *redis.ClusterClient:
				if sh.Cluster == nil {
					t.Fatal("a cluster client for redis.sentinel")
				}
			case *redis.Client:
				if sh.Cluster != nil {
					t.Fatal("not a cluster client for redis.cluster")
				}
			}
			ctx := context.Background()
			if err := rs.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Minute)
			if err := rs.replay.Use(ctx, "jkt", "jti", exp); err != nil {
				t.Fatal(err)
			}
			if err := rs.replay.Use(ctx, "jkt", "jti", exp); !errors.Is(err, dpop.ErrSeen) {
				t.Fatalf("replay: %v", err)
			}
			l := ratelimit.Limit{Rate: 1, Period: time.Minute}
			if res, err := rs.limits.Take(ctx, "k", time.Now(), l, 1); err != nil || !res.Allowed {
				t.Fatalf("first take: %+v %v", res, err)
			}
			if res, err := rs.limits.Take(ctx, "k", time.Now(), l, 1); err != nil || res.Allowed {
				t.Fatalf("second take: %+v %v", res, err)
			}
		})
	}
}
