package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/redistest"
)

func TestClusterAndSentinelStart(t *testing.T) {
	start := time.Now()
	c := redistest.StartCluster(t)
	t.Logf("cluster up in %v", time.Since(start))
	cc := c.Client()
	defer cc.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := cc.Set(ctx, k, "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	g := redistest.StartSentinel(t)
	t.Logf("sentinel group up in %v", time.Since(start))
	fc := g.Client()
	defer fc.Close()
	if err := fc.Set(ctx, "a", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if g.Master(t) != g.Servers[0] {
		t.Fatal("master is not the first server")
	}
}
