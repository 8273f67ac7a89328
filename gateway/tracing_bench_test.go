package gateway_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wardauth/ward/gateway"
)

// discardExporter drops the spans the batcher hands it.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkGatewayTracing interleaves, in every iteration, one request
// through a gateway without tracing (off) and one through the same
// configuration with every request traced (on: sample ratio 1, the
// request span, the authenticate and upstream child spans, traceparent
// set upstream, a batching exporter that drops the spans), and reports
// each one's time per request (ns-off/op, ns-on/op) and their ratio.
func BenchmarkGatewayTracing(b *testing.B) {
	off, nextOff := benchGateway(b, "http://upstream.invalid", cannedTransport{})
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	on, nextOn := benchGatewayWith(b, "http://upstream.invalid", cannedTransport{}, false, func(o *gateway.Options) {
		o.Middleware = spanMiddleware(tp)
	})
	var tOff, tOn time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r1, r2 := nextOff(), nextOn()
		w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
		b.StartTimer()
		t0 := time.Now()
		off.ServeHTTP(w1, r1)
		t1 := time.Now()
		on.ServeHTTP(w2, r2)
		tOn += time.Since(t1)
		tOff += t1.Sub(t0)
		if w1.Code != 200 || w2.Code != 200 {
			b.Fatalf("status %d %d", w1.Code, w2.Code)
		}
	}
	b.ReportMetric(float64(tOff.Nanoseconds())/float64(b.N), "ns-off/op")
	b.ReportMetric(float64(tOn.Nanoseconds())/float64(b.N), "ns-on/op")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
}
