package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/gateway"
)

// spanMiddleware is what ward serve's tracing puts in Options.Middleware
// (server/tracing.go), reduced to starting the request's span.
func spanMiddleware(tp trace.TracerProvider) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, sp := tp.Tracer("test").Start(r.Context(), "request", trace.WithSpanKind(trace.SpanKindServer))
			defer sp.End()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// spansByName indexes the ended spans.
func spansByName(exp *tracetest.InMemoryExporter) map[string]tracetest.SpanStub {
	out := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		out[s.Name] = s
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestTracingSpans: with a span in the request context, the gateway names
// it after the route and adds the decision (route, outcome, status,
// client_id, and on refusal the reason); the token and proof check and
// the upstream call are child spans; the upstream receives a traceparent
// naming the upstream span of the same trace. No attribute holds the
// token or the proof.
func TestTracingSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	e := newEnvWith(t, nil, func(o *gateway.Options) { o.Middleware = spanMiddleware(tp) })
	tok := e.token(nil)
	if w := e.call("GET", "/orders/1", tok, nil); w.Code != http.StatusOK {
		t.Fatalf("allowed call: %d %s", w.Code, w.Body)
	}
	seen := <-e.seen
	spans := spansByName(exp)
	root, auth, up := spans["gateway orders"], spans["gateway.authenticate"], spans["gateway.upstream"]
	if !root.SpanContext.IsValid() || !auth.SpanContext.IsValid() || !up.SpanContext.IsValid() {
		t.Fatalf("spans: %v", names(exp))
	}
	for k, want := range map[string]string{"ward.route": "orders", "ward.outcome": "allowed", "http.response.status_code": "200", "ward.client_id": "app"} {
		if got := attr(root, k); got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	if attr(auth, "ward.sender") != "dpop" || auth.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Errorf("authenticate span: sender %q, parent %v", attr(auth, "ward.sender"), auth.Parent.SpanID())
	}
	if up.SpanKind != trace.SpanKindClient || up.Parent.SpanID() != root.SpanContext.SpanID() || attr(up, "http.response.status_code") != "200" {
		t.Errorf("upstream span: kind %v parent %v status %q", up.SpanKind, up.Parent.SpanID(), attr(up, "http.response.status_code"))
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(t.Context(), propagation.HeaderCarrier(seen)))
	if sc.TraceID() != root.SpanContext.TraceID() || sc.SpanID() != up.SpanContext.SpanID() {
		t.Errorf("upstream traceparent %q, want trace %s span %s", seen.Get("Traceparent"), root.SpanContext.TraceID(), up.SpanContext.SpanID())
	}

	exp.Reset()
	if w := e.call("GET", "/orders/1", e.token(map[string]any{"cnf": nil}), map[string]string{}); w.Code != http.StatusUnauthorized {
		t.Fatalf("unbound token: %d", w.Code)
	}
	spans = spansByName(exp)
	if r := spans["gateway orders"]; attr(r, "ward.outcome") != "rejected" || attr(r, "ward.reason") == "" || attr(r, "http.response.status_code") != "401" {
		t.Errorf("refused request span: %v", r.Attributes)
	}
	if _, ok := spans["gateway.upstream"]; ok {
		t.Error("a refused request has an upstream span")
	}
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), tok[:20]) || strings.Contains(a.Value.String(), "eyJ") {
				t.Errorf("span %s attribute %s holds a token", s.Name, a.Key)
			}
		}
	}
}

// TestTracingOff: without a span in the context (tracing off) the gateway
// adds no trace headers and leaves the client's as they are.
func TestTracingOff(t *testing.T) {
	e := newEnv(t, nil)
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if w := e.call("GET", "/orders/1", e.token(nil), map[string]string{"Traceparent": tp}); w.Code != http.StatusOK {
		t.Fatalf("call: %d", w.Code)
	}
	if got := (<-e.seen).Get("Traceparent"); got != tp {
		t.Errorf("upstream traceparent %q, want the client's %q", got, tp)
	}
}

func names(exp *tracetest.InMemoryExporter) []string {
	var out []string
	for _, s := range exp.GetSpans() {
		out = append(out, s.Name)
	}
	return out
}
