package ratelimit

import (
	"testing"

	"github.com/wardauth/ward/internal/redistest"
)

// TestRedisShapes runs the conformance suite against a Redis Cluster and
// a Sentinel group started by the test: the GCRA script touches one key,
// so it runs on whichever master holds that key's slot.
func TestRedisShapes(t *testing.T) {
	for _, sh := range redistest.Shapes(t) {
		t.Run(sh.Name, func(t *testing.T) {
			runConformance(t, func(t *testing.T) Store {
				return NewRedisStore(sh.New(t), RedisConfig{Prefix: redistest.Prefix("rl")})
			})
		})
	}
}
