package server

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/gateway"
)

// decider wraps the ext_authz server's decision (gateway.DecideAndRecord)
// in a server span per Check, which the gateway names "ext_authz
// <route>" and adds the decision to; decide itself when tracing is off.
// The trace is Ward's own: the client's traceparent in the described
// request is never read, as on the listeners without
// tracing.trust_incoming (middleware).
func (t *tracing) decider(decide func(*http.Request) *gateway.Decision) func(*http.Request) *gateway.Decision {
	if t == nil {
		return decide
	}
	return func(r *http.Request) *gateway.Decision {
		method := spanMethod(r.Method)
		ctx, sp := t.tracer.Start(r.Context(), "ext_authz "+method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.path", r.URL.Path)))
		defer sp.End()
		d := decide(r.WithContext(ctx))
		if d.Status >= http.StatusInternalServerError {
			sp.SetStatus(codes.Error, http.StatusText(d.Status))
		}
		return d
	}
}
