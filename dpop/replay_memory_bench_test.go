package dpop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"runtime"
	"testing"
	"time"
)

// BenchmarkMemoryReplayStoreMemory is the heap one live entry of the
// in-memory replay store holds: replayEntries proofs of one key (a
// 43-character RFC 7638 thumbprint) with 22-character random jtis (128
// bits, base64url, as Ward's client makes them), none expired, the live
// heap after a GC compared with the heap before (the jtis made
// beforehand). It reports B/entry, for docs/CAPACITY.md:
//
//	go test ./dpop -run '^$' -bench MemoryReplayStoreMemory -benchtime 1x
func BenchmarkMemoryReplayStoreMemory(b *testing.B) {
	const replayEntries = 100_000
	now := time.Unix(1_700_000_000, 0)
	jkt := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	jtis := make([]string, replayEntries)
	for i := range jtis {
		r := make([]byte, 16)
		_, _ = rand.Read(r)
		jtis[i] = base64.RawURLEncoding.EncodeToString(r)
	}
	ctx := context.Background()
	for b.Loop() {
		before := liveHeap()
		s := NewMemoryReplayStore(2*replayEntries, func() time.Time { return now })
		for _, j := range jtis {
			if err := s.Use(ctx, jkt, j, now.Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		after := liveHeap()
		if s.Len() != replayEntries {
			b.Fatalf("%d entries, want %d", s.Len(), replayEntries)
		}
		b.ReportMetric(float64(after-before)/replayEntries, "B/entry")
		runtime.KeepAlive(s)
	}
	runtime.KeepAlive(jtis)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
