package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	otelresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/config"
)

// tracing is the process's OpenTelemetry tracer (tracing section; nil
// when off, and every method of a nil *tracing hands back what it was
// given): spans for each request of the authorization server and the
// gateway, started here (handler), which the packages add their decision
// and child spans to, and child spans around the Redis and store calls of
// the hot paths (tracing_stores.go). docs/OBSERVABILITY.md.
type tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	// trust continues a client's W3C trace (tracing.trust_incoming).
	trust bool
}

// traceContext reads and writes W3C traceparent and tracestate.
var traceContext = propagation.TraceContext{}

// spanExporter is the OTLP/HTTP exporter to cfg.Endpoint; tests replace it
// with an in-memory one.
var spanExporter = func(ctx context.Context, cfg config.Tracing) (sdktrace.SpanExporter, error) {
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
}

// openTracing builds the tracer of the tracing section, nil when off. The
// exporter connects on its first batch: a collector that is down costs
// dropped spans, never a request.
func openTracing(ctx context.Context, cfg config.Tracing) (*tracing, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	exp, err := spanExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithRawSpanLimits(spanLimits()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(float64(cfg.SampleRatio)))),
		sdktrace.WithResource(otelresource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))),
	)
	return &tracing{tp: tp, tracer: tp.Tracer("github.com/wardauth/ward/server"), trust: cfg.TrustIncoming}, nil
}

// shutdown flushes the spans still queued, for up to 5 s.
func (t *tracing) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.tp.Shutdown(ctx)
}

// middleware returns the wrapper of a listener's handler that starts each
// request's server span, named server ("authz", "gateway"; the gateway
// renames it after its route). A client's traceparent and tracestate are
// dropped before anything reads them unless tracing.trust_incoming: the
// trace an upstream receives is the one Ward started (the gateway sets the
// headers again from its span, gateway/tracing.go), and a client cannot
// choose a trace ID or force sampling.
func (t *tracing) middleware(server string) func(http.Handler) http.Handler {
	if t == nil {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if t.trust {
				ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			delete(r.Header, "Traceparent")
			delete(r.Header, "Tracestate")
			method := spanMethod(r.Method)
			ctx, sp := t.tracer.Start(ctx, server+" "+method, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.path", r.URL.Path)))
			defer sp.End()
			sw := &spanStatus{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(ctx))
			sp.SetAttributes(attribute.Int("http.response.status_code", sw.status()))
			if sw.status() >= http.StatusInternalServerError {
				sp.SetStatus(codes.Error, http.StatusText(sw.status()))
			}
		})
	}
}

// wrap is middleware(server) applied to h, or h when tracing is off.
func (t *tracing) wrap(server string, h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return t.middleware(server)(h)
}

// spanStatus records the status of the answer for the span.
type spanStatus struct {
	http.ResponseWriter
	code int
}

func (w *spanStatus) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *spanStatus) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *spanStatus) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *spanStatus) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *spanStatus) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// maxSpanAttrLen clips every span attribute value: the path a client sends
// may fill the header limit, and each queued span would hold it.
const maxSpanAttrLen = 1024

// spanLimits is the SDK's defaults with attribute values clipped.
func spanLimits() sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	l.AttributeValueLengthLimit = maxSpanAttrLen
	return l
}

// spanMethod is the request method for the span's name and
// http.request.method: one of RFC 9110 §9's (and PATCH), else "_OTHER"
// (OpenTelemetry HTTP semantic conventions), as any token is a method and
// a client would otherwise choose span names without end.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
