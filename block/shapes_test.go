package block

import (
	"testing"

	"github.com/wardauth/ward/internal/redistest"
)

// TestRedisShapes runs the conformance suite against a Redis Cluster and
// a Sentinel group started by the test: each script touches one key; the
// index (one sorted set) is updated in one MULTI on its own key, and List
// reads the blocks' keys in a pipeline, one key per command.
func TestRedisShapes(t *testing.T) {
	for _, sh := range redistest.Shapes(t) {
		t.Run(sh.Name, func(t *testing.T) {
			runConformance(t, func(t *testing.T) Store {
				return NewRedisStore(sh.New(t), RedisConfig{Prefix: redistest.Prefix("block")})
			})
		})
	}
}
