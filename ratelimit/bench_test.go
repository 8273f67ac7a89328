package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// BenchmarkMemory is the limiter's cost per request in memory, over 10 000
// keys, from parallel goroutines.
func BenchmarkMemory(b *testing.B) {
	l, _ := New(NewMemoryStore(0), Limit{Rate: 1000, Period: time.Second})
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = "ip:" + strconv.Itoa(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = l.Allow(ctx, keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkRedis is the cost with Redis: one EVALSHA round trip.
func BenchmarkRedis(b *testing.B) {
	l, _ := New(newRedisStore(b), Limit{Rate: 1000, Period: time.Second})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Allow(ctx, "ip:"+strconv.Itoa(i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := &http.Request{RemoteAddr: "10.0.0.2:443", Header: http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = IPKey(ClientIP(r, trusted))
	}
}
