package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three masters, each with one replica.
type Cluster struct {
	Nodes  []*Server // masters first, then their replicas in the same order
	Access Access
}

// NodeTimeout is the cluster-node-timeout: a master silent this long is
// failed over to its replica.
const NodeTimeout = time.Second

// StartCluster starts a Redis Cluster of three masters (slots 0-5460,
// 5461-10922, 10923-16383) and one replica each, and waits until every
// node reports cluster_state:ok and every replica is in sync.
//
// With an acl, only that user may connect (StartCluster(t, acl)).
func StartCluster(t testing.TB, acl ...Access) *Cluster {
	t.Helper()
	bin := binary(t, "redis-server")
	c := &Cluster{}
	if len(acl) > 0 {
		c.Access = acl[0]
	}
	for range 6 {
		c.Nodes = append(c.Nodes, start(t, bin, c.Access, "cluster-enabled yes", "cluster-config-file nodes.conf",
			"cluster-node-timeout "+strconv.Itoa(int(NodeTimeout/time.Millisecond))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, r := range ranges {
		do(t, ctx, c.Nodes[i], "cluster", "addslotsrange", r[0], r[1])
	}
	for _, n := range c.Nodes[1:] {
		do(t, ctx, c.Nodes[0], "cluster", "meet", "127.0.0.1", n.Port)
	}
	for _, n := range c.Nodes {
		waitFor(t, 10*time.Second, n.Addr+" knows every node", func(ctx context.Context) bool {
			return strings.Count(str(ctx, n, "cluster", "nodes"), "\n") >= 6
		})
	}
	for i := range 3 {
		id := str(ctx, c.Nodes[i], "cluster", "myid")
		do(t, ctx, c.Nodes[3+i], "cluster", "replicate", id)
	}
	for _, n := range c.Nodes {
		waitFor(t, 10*time.Second, n.Addr+" cluster_state:ok", func(ctx context.Context) bool {
			return strings.Contains(str(ctx, n, "cluster", "info"), "cluster_state:ok")
		})
	}
	for _, n := range c.Nodes[:3] {
		waitFor(t, 10*time.Second, n.Addr+" has its replica in sync", func(ctx context.Context) bool {
			return strings.Contains(str(ctx, n, "info", "replication"), "state=online")
		})
	}
	return c
}

// Addrs returns every node's address, the seeds for a client.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// Client returns a cluster client with test timeouts.
func (c *Cluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Username: c.Access.User, Password: c.Access.Password, TLSConfig: c.Access.TLS.config(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
}

// MasterFor returns the node that is now the master of key's slot.
func (c *Cluster) MasterFor(t testing.TB, key string) *Server {
	t.Helper()
	cc := c.Client()
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := cc.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if n.Addr == m.Options().Addr {
			return n
		}
	}
	t.Fatalf("redistest: master %s of %q is not a node", m.Options().Addr, key)
	return nil
}

// ReplicaOf returns the node that replicates master now (from INFO
// replication), or nil.
func (c *Cluster) ReplicaOf(t testing.TB, master *Server) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info := str(ctx, master, "info", "replication")
	for _, n := range c.Nodes {
		if strings.Contains(info, "port="+strconv.Itoa(n.Port)+",") {
			return n
		}
	}
	return nil
}

// do runs a command on one server and fails the test on an error.
func do(t testing.TB, ctx context.Context, s *Server, args ...any) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	if err := c.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("redistest: %s %v: %v", s.Addr, args, err)
	}
}

// str runs a command on one server and returns its text answer, "" on
// an error.
func str(ctx context.Context, s *Server, args ...any) string {
	c := s.Client()
	defer c.Close()
	v, _ := c.Do(ctx, args...).Text()
	return v
}
