package resource_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
)

// noReplay accepts every proof, so that the replay store's memory stays
// out of BenchmarkTokenCacheMemory.
type noReplay struct{}

func (noReplay) Use(context.Context, string, string, time.Time) error { return nil }

// BenchmarkTokenCacheMemory is the heap one cached access token holds in
// a resource server (the gateway's token cache): tokenCacheEntries
// distinct DPoP-bound tokens (RFC 9068 claims, cnf.jkt) are verified
// once each, and the live heap after a GC is compared with the heap
// before, the tokens and proofs made beforehand (they are the client's).
// It reports B/token, for docs/CAPACITY.md:
//
//	go test ./resource -run '^$' -bench TokenCacheMemory -benchtime 1x
func BenchmarkTokenCacheMemory(b *testing.B) {
	const tokenCacheEntries = 5000
	for b.Loop() {
		f := newFixture(b, func(_ *resource.Config, o *[]dpop.VerifierOption) {
			*o = append(*o, dpop.WithReplayStore(noReplay{}))
		})
		h := f.rs.Require("orders:read")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		toks := make([]string, tokenCacheEntries)
		proofs := make([]string, tokenCacheEntries)
		for i := range toks {
			c := f.is.claims(f.cl.signer.Thumbprint())
			c["jti"] = fmt.Sprintf("tok-%d-%x", i, i*7919)
			toks[i] = f.is.token(b, c)
			proofs[i] = f.cl.proof(b, "GET", apiURL, toks[i])
		}
		call := func(i int) {
			r := httptest.NewRequest("GET", apiURL, nil)
			r.Header.Set("Authorization", "DPoP "+toks[i])
			r.Header.Set("DPoP", proofs[i])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		call(0) // the JWKS, fetched once
		before := liveHeap()
		for i := 1; i < tokenCacheEntries; i++ {
			call(i)
		}
		after := liveHeap()
		b.ReportMetric(float64(after-before)/float64(tokenCacheEntries-1), "B/token")
		runtime.KeepAlive(toks)
		runtime.KeepAlive(proofs)
		runtime.KeepAlive(f)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
