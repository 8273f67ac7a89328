package svgchart_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/svgchart"
	"github.com/wardauth/ward/internal/yardstick"
)

// BenchmarkChartVsBareECDSA interleaves, in every iteration, drawing the
// overview's largest chart (48 stacked bars of 6 series) with one bare
// P-256 VerifyASN1, and reports the ratio of their summed times
// (x-bare): the cost of a chart in signature verifications.
func BenchmarkChartVsBareECDSA(b *testing.B) {
	c := svgchart.Chart{ID: "bench", Title: "Security events by type", Unit: "events", Labels: make([]string, 48)}
	for i := range c.Labels {
		c.Labels[i] = fmt.Sprintf("%02d:%02d", i/2, i%2*30)
	}
	for s := range 6 {
		v := make([]float64, 48)
		for i := range v {
			v[i] = float64((i*7 + s*13) % 20)
		}
		c.Series = append(c.Series, svgchart.Series{Name: fmt.Sprintf("type_%d", s), Values: v})
	}
	bare := yardstick.NewP256()
	var draw, base time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		_ = c.SVG()
		t1 := time.Now()
		if !bare.Verify() {
			b.Fatal("verify")
		}
		draw += t1.Sub(t0)
		base += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(draw)/float64(base), "x-bare")
	b.ReportMetric(float64(draw.Nanoseconds())/float64(n), "chart-ns/op")
}
