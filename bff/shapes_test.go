package bff

import (
	"testing"
	"time"

	"github.com/wardauth/ward/internal/redistest"
)

// TestRedisStoreShapes runs the session store's suite against a Redis
// Cluster and a Sentinel group started by the test: every command and
// script (take, lock, unlock) touches one key.
func TestRedisStoreShapes(t *testing.T) {
	for _, sh := range redistest.Shapes(t) {
		t.Run(sh.Name, func(t *testing.T) {
			storeSuite(t, NewRedisStore(sh.New(t), redistest.Prefix("bff")), time.Sleep)
		})
	}
}
