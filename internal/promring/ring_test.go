package promring_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/promring"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func newRing(t *testing.T, o promring.Options) (*promring.Ring, *prometheus.CounterVec) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_test_rejections_total"}, []string{"reason", "error"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_test_gauge"})
	reg.MustRegister(c, g)
	g.Set(5)
	o.Gatherer = reg
	o.Tracks = append(o.Tracks, promring.Track{Name: "ward_test_rejections_total", By: "reason"},
		promring.Track{Name: "ward_test_gauge"})
	return promring.New(o), c
}

func series(t *testing.T, w promring.Window, name string) []float64 {
	t.Helper()
	for _, s := range w.Series {
		if s.Name == name {
			return s.Values
		}
	}
	t.Fatalf("no series %q in %+v", name, w.Series)
	return nil
}

// TestRingIncreases: each bucket holds the increase of its minute,
// summed over the other labels; a reset counts from zero; a gauge is
// never tracked.
func TestRingIncreases(t *testing.T) {
	r, c := newRing(t, promring.Options{})
	c.WithLabelValues("replayed", "invalid_dpop_proof").Add(3)
	c.WithLabelValues("replayed", "other").Add(1)
	mustSample(t, r, t0.Add(10*time.Second))
	c.WithLabelValues("expired", "invalid_token").Add(2)
	mustSample(t, r, t0.Add(70*time.Second))
	mustSample(t, r, t0.Add(130*time.Second)) // nothing new
	c.WithLabelValues("replayed", "other").Add(5)
	mustSample(t, r, t0.Add(190*time.Second))

	w, err := r.Range("ward_test_rejections_total", t0, t0.Add(4*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Starts) != 4 || !w.Starts[0].Equal(t0) || w.Point != time.Minute {
		t.Fatalf("window starts %v point %v", w.Starts, w.Point)
	}
	if got := series(t, w, "replayed"); !slices.Equal(got, []float64{4, 0, 0, 5}) {
		t.Errorf("replayed = %v, want [4 0 0 5]", got)
	}
	if got := series(t, w, "expired"); !slices.Equal(got, []float64{0, 2, 0, 0}) {
		t.Errorf("expired = %v, want [0 2 0 0]", got)
	}
	coarse, err := r.Range("ward_test_rejections_total", t0, t0.Add(4*time.Minute), 2*time.Minute)
	if err != nil || !slices.Equal(series(t, coarse, "replayed"), []float64{4, 5}) {
		t.Errorf("2-minute points: %+v, %v; want replayed [4 5]", coarse, err)
	}
	if w, err := r.Range("ward_test_gauge", t0, t0.Add(time.Minute), time.Minute); err != nil || len(w.Series) != 0 {
		t.Errorf("a gauge was sampled: %+v, %v", w, err)
	}
	if _, err := r.Range("ward_unknown", t0, t0.Add(time.Minute), time.Minute); !errors.Is(err, promring.ErrUnknownTrack) {
		t.Errorf("an untracked family: %v, want ErrUnknownTrack", err)
	}
}

// TestRingReset: a counter that went down restarted from zero: its
// value is the increase.
func TestRingReset(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_x_total"})
	reg.MustRegister(c)
	r := promring.New(promring.Options{Gatherer: reg, Tracks: []promring.Track{{Name: "ward_x_total"}}})
	c.Add(10)
	mustSample(t, r, t0)
	reg.Unregister(c)
	c2 := prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_x_total"})
	reg.MustRegister(c2)
	c2.Add(3)
	mustSample(t, r, t0.Add(time.Minute))
	w, _ := r.Range("ward_x_total", t0, t0.Add(2*time.Minute), time.Minute)
	if got := series(t, w, "total"); !slices.Equal(got, []float64{10, 3}) {
		t.Errorf("across a reset: %v, want [10 3]", got)
	}
}

// TestRingBounded: past MaxSeries label values add up under "other",
// and a bucket older than Keep is forgotten when its slot comes round.
func TestRingBounded(t *testing.T) {
	r, c := newRing(t, promring.Options{Keep: 10 * time.Minute, MaxSeries: 3})
	for i := range 5 {
		c.WithLabelValues(fmt.Sprintf("r%d", i), "").Inc()
	}
	mustSample(t, r, t0)
	w, _ := r.Range("ward_test_rejections_total", t0, t0.Add(time.Minute), time.Minute)
	if len(w.Series) != 3 || series(t, w, promring.Other)[0] != 3 {
		t.Errorf("5 reasons, at most 3 series: %+v", w.Series)
	}
	c.WithLabelValues("r0", "").Add(7)
	mustSample(t, r, t0.Add(10*time.Minute)) // the same slot, 10 minutes on
	old, _ := r.Range("ward_test_rejections_total", t0, t0.Add(time.Minute), time.Minute)
	for _, s := range old.Series {
		if s.Values[0] != 0 {
			t.Errorf("a bucket older than Keep still holds %s = %v", s.Name, s.Values[0])
		}
	}
	now, _ := r.Range("ward_test_rejections_total", t0.Add(10*time.Minute), t0.Add(11*time.Minute), time.Minute)
	if got := series(t, now, "r0"); got[0] != 7 {
		t.Errorf("r0 in the reused slot = %v, want 7", got)
	}
	if _, err := r.Range("ward_test_rejections_total", t0, t0.Add(-time.Minute), time.Minute); !errors.Is(err, promring.ErrRange) {
		t.Errorf("an empty range: %v, want ErrRange", err)
	}
	if _, err := r.Range("ward_test_rejections_total", t0, t0.Add(24*365*time.Hour), time.Minute); !errors.Is(err, promring.ErrRange) {
		t.Errorf("a range of too many points: %v, want ErrRange", err)
	}
}

func mustSample(t *testing.T, r *promring.Ring, at time.Time) {
	t.Helper()
	if err := r.Sample(at); err != nil {
		t.Fatal(err)
	}
}
