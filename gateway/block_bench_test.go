package gateway_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
)

// newBenchBlocker is ward serve's default Blocker (address kind, in
// memory) with the key kind on too, holding 10 000 blocked addresses, so
// an accepted request pays both checks against a populated store.
func newBenchBlocker(tb testing.TB) *block.Blocker {
	p := block.Policy{Threshold: 1, Window: time.Minute, Period: time.Hour, MaxPeriod: time.Hour}
	b, err := block.New(block.Options{Config: block.Config{Address: p, Key: p}, Clock: func() time.Time { return testNow },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 10_000 {
		b.Strike(tb.Context(), block.Offence{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Reason: "bad_signature"})
	}
	return b
}

// BenchmarkGatewayBlocksOnOff is BenchmarkGatewayEventsOnOff for the
// blocking response: one accepted request through a gateway with blocks
// on and one with them off, interleaved, medians of 1000-request rounds
// and their ratio (on/off).
func BenchmarkGatewayBlocksOnOff(b *testing.B) {
	blocker := newBenchBlocker(b)
	hOn, nextOn := benchGatewayWith(b, "http://upstream.invalid", cannedTransport{}, false, func(o *gateway.Options) { o.Blocks = blocker })
	hOff, nextOff := benchGatewayWith(b, "http://upstream.invalid", cannedTransport{}, false, nil)
	benchOnOff(b, hOn, nextOn, hOff, nextOff)
}

// benchOnOff runs the interleaved comparison of two gateways.
func benchOnOff(b *testing.B, hOn http.Handler, nextOn func() *http.Request, hOff http.Handler, nextOff func() *http.Request) {
	const round = 1000
	var on, off []float64
	var sumOn, sumOff time.Duration
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rOn, rOff := nextOn(), nextOff()
		b.StartTimer()
		first, second, r1, r2 := hOff, hOn, rOff, rOn
		if i%2 == 1 {
			first, second, r1, r2 = hOn, hOff, rOn, rOff
		}
		w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
		t0 := time.Now()
		first.ServeHTTP(w1, r1)
		t1 := time.Now()
		second.ServeHTTP(w2, r2)
		t2 := time.Now()
		if w1.Code != 200 || w2.Code != 200 {
			b.Fatalf("status %d, %d", w1.Code, w2.Code)
		}
		if i%2 == 1 {
			sumOn, sumOff = sumOn+t1.Sub(t0), sumOff+t2.Sub(t1)
		} else {
			sumOff, sumOn = sumOff+t1.Sub(t0), sumOn+t2.Sub(t1)
		}
		if n++; n == round {
			on, off = append(on, float64(sumOn)/round), append(off, float64(sumOff)/round)
			sumOn, sumOff, n = 0, 0, 0
		}
	}
	if len(on) == 0 {
		return
	}
	mOn, mOff := median(on), median(off)
	b.ReportMetric(mOn, "ns-on")
	b.ReportMetric(mOff, "ns-off")
	b.ReportMetric(mOn/mOff, "on/off")
}

// TestBlocksAcceptedRequestAllocs: blocks on cost an accepted request at
// most the address key's string (the key's check allocates nothing).
func TestBlocksAcceptedRequestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations")
	}
	if wardtest.Race {
		// sync.Pool drops items at random under the race detector, so an
		// allocation count moves by one from run to run.
		t.Skip("allocation counts are not stable under the race detector")
	}
	allocs := func(opt func(*gateway.Options)) float64 {
		h, next := benchGatewayWith(t, "http://upstream.invalid", cannedTransport{}, false, opt)
		reqs := make([]*http.Request, 200)
		for i := range reqs {
			reqs[i] = next()
		}
		i := 0
		return testing.AllocsPerRun(100, func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i])
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			i++
		})
	}
	blocker := newBenchBlocker(t)
	off, on := allocs(nil), allocs(func(o *gateway.Options) { o.Blocks = blocker })
	t.Logf("allocations of an accepted request: %.1f with blocks on, %.1f off", on, off)
	if on > off+1 {
		t.Errorf("an accepted request allocates %.1f times with blocks on, %.1f off", on, off)
	}
}
