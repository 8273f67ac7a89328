package resource

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers validated tokens by the SHA-256 of their bytes
// until they expire, so a token's signature (or its introspection) is
// checked once, not on every request. It is bounded: when full it sheds
// expired entries, then arbitrary ones.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[[32]byte]cacheEntry
	max int
}

type cacheEntry struct {
	id    *verified
	until time.Time // drop the entry after this instant
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{m: make(map[[32]byte]cacheEntry), max: max}
}

func tokenHash(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

func (c *tokenCache) get(h [32]byte, now time.Time) *verified {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.id
}

func (c *tokenCache) put(h [32]byte, id *verified, until time.Time, now time.Time) {
	if c == nil || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		// Still full: drop about a tenth, in map order (arbitrary).
		for k := range c.m {
			if len(c.m) < c.max*9/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[h] = cacheEntry{id: id, until: until}
}
