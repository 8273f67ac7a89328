package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestExchangeCacheBounded: the cache of exchanged tokens never holds more
// than its bound, answers a token only until shortly before it expires,
// and keeps none that is about to expire.
func TestExchangeCacheBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newExchangeCache(4)
	x := &config.RouteExchange{Audience: "https://a.example"}
	for i := range 10 {
		c.put(exchangeKey(fmt.Sprint("subject", i), x), "tok", now, 5*time.Minute)
	}
	if len(c.m) != 4 {
		t.Fatalf("%d entries, want at most 4", len(c.m))
	}
	k := exchangeKey("subject-new", x)
	c.put(k, "t", now, 100*time.Second)
	if tok, ok := c.get(k, now.Add(89*time.Second)); !ok || tok != "t" {
		t.Fatal("a fresh token was not cached")
	}
	if _, ok := c.get(k, now.Add(90*time.Second)); ok {
		t.Fatal("a token was answered within its last tenth of life")
	}
	if _, ok := c.get(exchangeKey("subject-new", &config.RouteExchange{Audience: "https://b.example"}), now); ok {
		t.Fatal("a token for another audience was answered")
	}
	short := exchangeKey("short", x)
	c.put(short, "s", now, 4*time.Second)
	if _, ok := c.get(short, now); ok {
		t.Fatal("a token about to expire was cached")
	}
}
