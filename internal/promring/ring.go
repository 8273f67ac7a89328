package promring

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Track names a counter family and the label it is split by ("" sums
// the family into one series named "total").
type Track struct {
	Name string
	By   string
}

// Other names the series that sums the label values past MaxSeries.
const Other = "other"

// Options configure a Ring; zero values take the defaults.
type Options struct {
	Gatherer prometheus.Gatherer
	Tracks   []Track
	// Step is the bucket length (default one minute).
	Step time.Duration
	// Keep is how far back the ring reaches (default 24 hours); it keeps
	// Keep/Step buckets.
	Keep time.Duration
	// MaxSeries bounds the series of one family (default 12).
	MaxSeries int
}

// Ring holds the sampled increases. Its methods may be called
// concurrently.
type Ring struct {
	gather    prometheus.Gatherer
	step      time.Duration
	n         int
	maxSeries int

	mu sync.Mutex
	// slot[i] is the absolute bucket number (time / step) that slot i
	// holds, or -1.
	slot   []int64
	tracks map[string]*track
}

type track struct {
	by     string
	last   map[string]float64   // cumulative value at the last sample, by label value
	series map[string][]float64 // increases by slot, by series name
}

// New returns an empty ring.
func New(o Options) *Ring {
	if o.Step <= 0 {
		o.Step = time.Minute
	}
	if o.Keep < o.Step {
		o.Keep = 24 * time.Hour
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 12
	}
	r := &Ring{gather: o.Gatherer, step: o.Step, n: int(o.Keep / o.Step), maxSeries: o.MaxSeries,
		tracks: map[string]*track{}}
	r.slot = make([]int64, r.n)
	for i := range r.slot {
		r.slot[i] = -1
	}
	for _, t := range o.Tracks {
		r.tracks[t.Name] = &track{by: t.By, last: map[string]float64{}, series: map[string][]float64{}}
	}
	return r
}

// Step is the ring's bucket length.
func (r *Ring) Step() time.Duration { return r.step }

// Run samples every step until ctx ends.
func (r *Ring) Run(ctx context.Context) {
	tick := time.NewTicker(r.step)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			_ = r.Sample(now)
		}
	}
}

// Sample gathers the counters and adds their increase since the last
// sample to the bucket of now. A counter lower than before (a reset)
// counts from zero. The first sample counts each counter's whole value:
// the ring starts with the process whose counters it samples.
func (r *Ring) Sample(now time.Time) error {
	mfs, err := r.gather.Gather()
	if err != nil && len(mfs) == 0 {
		return fmt.Errorf("promring: gather: %w", err)
	}
	totals := r.totals(mfs)
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := r.claim(r.bucket(now))
	for name, t := range r.tracks {
		sums := totals[name]
		// In label order, so which values get a series of their own
		// when there are too many does not depend on map order.
		for _, value := range slices.Sorted(maps.Keys(sums)) {
			total := sums[value]
			inc := total - t.last[value]
			if inc < 0 {
				inc = total
			}
			t.last[value] = total
			if inc != 0 {
				r.seriesOf(t, value)[slot] += inc
			}
		}
	}
	return err
}

// totals sums each tracked family's counters by its label.
func (r *Ring) totals(mfs []*dto.MetricFamily) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		t, ok := r.tracks[mf.GetName()]
		if !ok || mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		sums := map[string]float64{}
		for _, m := range mf.GetMetric() {
			sums[labelValue(m, t.by)] += m.GetCounter().GetValue()
		}
		out[mf.GetName()] = sums
	}
	return out
}

func labelValue(m *dto.Metric, name string) string {
	if name == "" {
		return "total"
	}
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func (r *Ring) bucket(t time.Time) int64 { return t.UnixNano() / int64(r.step) }

// claim makes slot of bucket b hold b, clearing what an older bucket left.
func (r *Ring) claim(b int64) int {
	i := int(b % int64(r.n))
	if r.slot[i] != b {
		r.slot[i] = b
		for _, t := range r.tracks {
			for _, s := range t.series {
				s[i] = 0
			}
		}
	}
	return i
}

// seriesOf returns the slots of label value v, or of Other once the
// family holds MaxSeries series.
func (r *Ring) seriesOf(t *track, v string) []float64 {
	if s, ok := t.series[v]; ok {
		return s
	}
	if len(t.series) >= r.maxSeries-1 {
		v = Other
		if s, ok := t.series[v]; ok {
			return s
		}
	}
	s := make([]float64, r.n)
	t.series[v] = s
	return s
}

// ErrUnknownTrack is Range's answer for a family the ring does not track.
var ErrUnknownTrack = errors.New("promring: family not tracked")

// MaxPoints bounds the points of one Range.
const MaxPoints = 10000

// ErrRange is Range's answer for an empty or too finely divided range.
var ErrRange = errors.New("promring: bad range")

// Window is a family's increases over a time range, in points of a
// whole number of buckets.
type Window struct {
	// Starts are the points' start times, oldest first.
	Starts []time.Time
	// Point is the length of one point.
	Point time.Duration
	// Series are the increases by label value, one per point, names
	// sorted.
	Series []Series
}

// Series is one label value's increases.
type Series struct {
	Name   string
	Values []float64
}

// Range returns family name's increases over [from, to), summed into
// points of point (rounded up to a whole number of buckets). Buckets
// older than the ring keeps, or never sampled, count zero.
func (r *Ring) Range(name string, from, to time.Time, point time.Duration) (Window, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tracks[name]
	if !ok {
		return Window{}, fmt.Errorf("%w: %q", ErrUnknownTrack, name)
	}
	per := max(int64(1), int64((point+r.step-1)/r.step))
	first := r.bucket(from) / per * per
	last := r.bucket(to.Add(-1))
	if last < first || (last-first)/per >= MaxPoints {
		return Window{}, fmt.Errorf("%w: %v to %v in %v points", ErrRange, from, to, point)
	}
	w := Window{Point: time.Duration(per) * r.step}
	for b := first; b <= last; b += per {
		w.Starts = append(w.Starts, time.Unix(0, b*int64(r.step)))
	}
	for name, slots := range t.series {
		vals := make([]float64, len(w.Starts))
		for p := range w.Starts {
			for b := first + int64(p)*per; b < first+int64(p+1)*per && b <= last; b++ {
				if i := int(b % int64(r.n)); b >= 0 && r.slot[i] == b {
					vals[p] += slots[i]
				}
			}
		}
		w.Series = append(w.Series, Series{Name: name, Values: vals})
	}
	sort.Slice(w.Series, func(i, j int) bool { return w.Series[i].Name < w.Series[j].Name })
	return w, nil
}
