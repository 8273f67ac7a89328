package wardtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedis is the Redis the tests use when WARD_TEST_REDIS is unset.
const DefaultRedis = "127.0.0.1:6379"

// Redis returns the address of the test Redis (WARD_TEST_REDIS, default
// DefaultRedis), a client for it, and a key prefix of the test's own
// ("ward-test:<tag>:<random>:") whose keys are deleted at cleanup. When
// Redis is unreachable the test skips, or fails with
// WARD_TEST_REQUIRE_SERVICES=1 (Unavailable).
func Redis(t testing.TB, tag string) (addr string, c *redis.Client, prefix string) {
	t.Helper()
	addr = os.Getenv("WARD_TEST_REDIS")
	if addr == "" {
		addr = DefaultRedis
	}
	c = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		Unavailable(t, fmt.Sprintf("Redis unreachable (WARD_TEST_REDIS=%q): %v", addr, err))
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix = "ward-test:" + tag + ":" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return addr, c, prefix
}
