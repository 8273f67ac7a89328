package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

// TestTracingExtAuthzDecider: with tracing on each ext_authz Check gets a
// server span of its own, a new trace whatever traceparent the described
// request carries, in which the gateway's decision is made; off, the
// decision is called as it is.
func TestTracingExtAuthzDecider(t *testing.T) {
	tr, exp := memoryTracing(t, config.Tracing{SampleRatio: 1})
	var inside trace.SpanContext
	decide := func(r *http.Request) *gateway.Decision {
		inside = trace.SpanContextFromContext(r.Context())
		return &gateway.Decision{Status: http.StatusServiceUnavailable}
	}
	r := httptest.NewRequest("GET", "https://api.example/orders/1", nil)
	r.Header.Set("Traceparent", clientTraceparent)
	tr.decider(decide)(r)
	spans := flushed(t, tr, exp)
	sp, ok := spans["ext_authz GET"]
	if !ok || sp.SpanKind != trace.SpanKindServer || sp.Status.Code.String() != "Error" {
		t.Fatalf("spans %v", names(spans))
	}
	if inside.SpanID() != sp.SpanContext.SpanID() || sp.Parent.IsValid() ||
		inside.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("decision made in span %v (trace %s), want %v, a new trace", inside.SpanID(), inside.TraceID(), sp.SpanContext.SpanID())
	}
	var off *tracing
	inside = trace.SpanContext{}
	off.decider(decide)(r)
	if inside.IsValid() {
		t.Error("a span with tracing off")
	}
}
