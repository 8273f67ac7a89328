package promring_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/promring"
)

func Example() {
	reg := prometheus.NewRegistry()
	accepted := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_gateway_accepted_total"}, []string{"sender"})
	reg.MustRegister(accepted)
	r := promring.New(promring.Options{Gatherer: reg, Tracks: []promring.Track{{Name: "ward_gateway_accepted_total", By: "sender"}}})

	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	accepted.WithLabelValues("bearer").Add(8)
	accepted.WithLabelValues("dpop").Add(2)
	_ = r.Sample(start) // Run calls Sample every Step
	accepted.WithLabelValues("dpop").Add(6)
	_ = r.Sample(start.Add(time.Minute))

	w, _ := r.Range("ward_gateway_accepted_total", start, start.Add(2*time.Minute), time.Minute)
	for _, s := range w.Series {
		fmt.Println(s.Name, s.Values)
	}
	// Output:
	// bearer [8 0]
	// dpop [2 6]
}
