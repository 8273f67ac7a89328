package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shape is one Redis deployment a test runs against.
type Shape struct {
	Name string
	// New returns a client for the deployment (closed at cleanup).
	New func(t testing.TB) redis.UniversalClient
	// Cluster or Sentinel is set, according to Name.
	Cluster  *Cluster
	Sentinel *Sentinel
}

// Shapes starts a Cluster and a Sentinel group and returns both shapes,
// for a test to run its conformance cases against each. (The single
// server shape is WARD_TEST_REDIS, wardtest.Redis.) With an acl, only
// that user may connect to the data nodes.
func Shapes(t testing.TB, acl ...Access) []Shape {
	t.Helper()
	c := StartCluster(t, acl...)
	g := StartSentinel(t, acl...)
	return []Shape{
		{Name: "cluster", Cluster: c, New: func(t testing.TB) redis.UniversalClient {
			cc := c.Client()
			t.Cleanup(func() { cc.Close() })
			return cc
		}},
		{Name: "sentinel", Sentinel: g, New: func(t testing.TB) redis.UniversalClient {
			fc := g.Client()
			t.Cleanup(func() { fc.Close() })
			return fc
		}},
	}
}

// Prefix returns a fresh key prefix ("ward-test:<tag>:<random>:").
func Prefix(tag string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "ward-test:" + tag + ":" + hex.EncodeToString(b) + ":"
}

// ScanKeys lists the keys under prefix with SCAN on every master (a
// cluster's SCAN sees one node only), never KEYS.
func ScanKeys(t testing.TB, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	var mu sync.Mutex
	scan := func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var ks []string
		for iter.Next(ctx) {
			ks = append(ks, iter.Val())
		}
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return iter.Err()
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
