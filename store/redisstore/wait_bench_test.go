package redisstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/store/redisstore"
)

// BenchmarkWait measures what redis.replay_min_replicas costs a replay
// check: each iteration makes one Use with asynchronous replication, one
// with MinReplicas 1 (WAIT) and one bare P-256 verify, interleaved, on a
// Cluster and a Sentinel group on loopback. It reports wait/async (the
// latency ratio) and each against the verify.
//
//	go test ./store/redisstore -run '^$' -bench Wait -benchtime 2000x
func BenchmarkWait(b *testing.B) {
	for _, sh := range redistest.Shapes(b) {
		b.Run(sh.Name, func(b *testing.B) {
			prefix := redistest.Prefix("bw")
			async := redisstore.NewFromClient(sh.New(b), redisstore.Config{Prefix: prefix})
			wait := redisstore.NewFromClient(sh.New(b), redisstore.Config{Prefix: prefix, MinReplicas: 1, WaitTimeout: time.Second})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			d := sha256.Sum256([]byte("header.payload"))
			sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
			var ta, tw, tv time.Duration
			ctx := context.Background()
			exp := time.Now().Add(time.Minute)
			n := 0
			for b.Loop() {
				n++
				jti := strconv.Itoa(n)
				t0 := time.Now()
				if err := async.Use(ctx, "a", jti, exp); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := wait.Use(ctx, "w", jti, exp); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
					b.Fatal("verify")
				}
				t3 := time.Now()
				ta, tw, tv = ta+t1.Sub(t0), tw+t2.Sub(t1), tv+t3.Sub(t2)
			}
			b.ReportMetric(float64(tw)/float64(ta), "wait/async")
			b.ReportMetric(float64(ta)/float64(tv), "async/p256verify")
			b.ReportMetric(float64(tw)/float64(tv), "wait/p256verify")
			b.ReportMetric(float64(ta.Microseconds())/float64(n), "async-µs/op")
			b.ReportMetric(float64(tw.Microseconds())/float64(n), "wait-µs/op")
		})
	}
}
