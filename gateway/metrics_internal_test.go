package gateway

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wardauth/ward/resource"
)

// TestAcceptedBySender: an allowed request with a token counts once in
// ward_gateway_accepted_total under what the token is bound to; a
// refused request, a public route and a mount count nowhere there.
func TestAcceptedBySender(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	allowed := func(id *resource.Identity) *record {
		return &record{route: "orders", outcome: OutcomeAllowed, id: id}
	}
	m.observe(allowed(&resource.Identity{JKT: "k"}), time.Millisecond)
	m.observe(allowed(&resource.Identity{JKT: "k", X5TS256: "c"}), time.Millisecond)
	m.observe(allowed(&resource.Identity{X5TS256: "c"}), time.Millisecond)
	m.observe(allowed(&resource.Identity{}), time.Millisecond)
	m.observe(allowed(&resource.Identity{}), time.Millisecond)
	m.observe(&record{route: "orders", outcome: OutcomeRejected, id: &resource.Identity{JKT: "k"}}, time.Millisecond)
	m.observe(&record{route: "pub", outcome: OutcomePublic}, time.Millisecond)
	m.observe(allowed(nil), time.Millisecond)
	for i, want := range []float64{senderDPoP: 2, senderMTLS: 1, senderBearer: 2} {
		var got dto.Metric
		if err := m.accepted[i].Write(&got); err != nil || got.GetCounter().GetValue() != want {
			t.Errorf("ward_gateway_accepted_total{sender=%q} = %v, want %v", senderLabels[i], got.GetCounter().GetValue(), want)
		}
	}
}

// TestAcceptedCountAllocs: counting an accepted request by sender
// allocates nothing once the route's series are resolved.
func TestAcceptedCountAllocs(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	rec := &record{route: "orders", outcome: OutcomeAllowed, id: &resource.Identity{JKT: "k"}}
	m.observe(rec, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { m.observe(rec, time.Millisecond) }); n != 0 {
		t.Errorf("observing an accepted request allocates %.1f times, want 0", n)
	}
}
