package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the sentinels monitor the master under.
const MasterName = "ward"

// DownAfter is the sentinels' down-after-milliseconds: a master silent
// this long is subjectively down, and failed over once two agree.
const DownAfter = time.Second

// Sentinel is a master, two replicas and three sentinels (quorum 2).
type Sentinel struct {
	Servers   []*Server // the master first, then the replicas
	Sentinels []*Server
	Access    Access // ACL of the data nodes (the sentinels take no password), TLS of all
}

// StartSentinel starts the group and waits until the master has both
// replicas in sync and every sentinel knows both replicas and the two
// other sentinels.
//
// With an acl, only that user may connect to the data nodes
// (StartSentinel(t, acl)); the sentinels use it too.
func StartSentinel(t testing.TB, acl ...Access) *Sentinel {
	t.Helper()
	srv, sen := binary(t, "redis-server"), binary(t, "redis-sentinel")
	g := &Sentinel{}
	if len(acl) > 0 {
		g.Access = acl[0]
	}
	m := start(t, srv, g.Access)
	g.Servers = append(g.Servers, m, start(t, srv, g.Access, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port)),
		start(t, srv, g.Access, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port)))
	waitFor(t, 10*time.Second, "master has 2 replicas in sync", func(ctx context.Context) bool {
		return strings.Count(str(ctx, m, "info", "replication"), "state=online") == 2
	})
	for range 3 {
		lines := []string{"sentinel monitor " + MasterName + " 127.0.0.1 " + strconv.Itoa(m.Port) + " 2"}
		if g.Access.User != "" {
			lines = append(lines, "sentinel auth-user "+MasterName+" "+g.Access.User, "sentinel auth-pass "+MasterName+" "+g.Access.Password)
		}
		g.Sentinels = append(g.Sentinels, start(t, sen, Access{TLS: g.Access.TLS}, append(lines,
			"sentinel down-after-milliseconds "+MasterName+" "+strconv.Itoa(int(DownAfter/time.Millisecond)),
			"sentinel failover-timeout "+MasterName+" 5000")...))
	}
	for _, s := range g.Sentinels {
		waitFor(t, 15*time.Second, s.Addr+" knows the group", func(ctx context.Context) bool {
			c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, TLSConfig: g.Access.TLS.config()})
			defer c.Close()
			r, err1 := c.Replicas(ctx, MasterName).Result()
			o, err2 := c.Sentinels(ctx, MasterName).Result()
			return err1 == nil && err2 == nil && len(r) == 2 && len(o) == 2
		})
	}
	return g
}

// SentinelAddrs returns the sentinels' addresses.
func (g *Sentinel) SentinelAddrs() []string {
	var a []string
	for _, s := range g.Sentinels {
		a = append(a, s.Addr)
	}
	return a
}

// Client returns a failover client with test timeouts.
func (g *Sentinel) Client() *redis.Client {
	return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: MasterName, SentinelAddrs: g.SentinelAddrs(),
		Username: g.Access.User, Password: g.Access.Password, TLSConfig: g.Access.TLS.config(),
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
}

// Master returns the server the sentinels name as master now.
func (g *Sentinel) Master(t testing.TB) *Server {
	t.Helper()
	for _, s := range g.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, TLSConfig: g.Access.TLS.config()})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		c.Close()
		if err != nil {
			continue
		}
		for _, srv := range g.Servers {
			if srv.Addr == a[0]+":"+a[1] {
				return srv
			}
		}
	}
	t.Fatal("redistest: no sentinel names a master")
	return nil
}
