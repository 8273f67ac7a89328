package gateway

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

// Tracing (docs/OBSERVABILITY.md). The gateway starts no trace itself:
// ward serve's Options.Middleware puts each request's span in its
// context, and the gateway adds to it when it records — the decision, a
// child span for the token and sender check, one for the upstream call —
// and hands the trace to the upstream in W3C traceparent. Without a span
// in the context each hook is one context lookup.

// tracerName names the gateway's spans' instrumentation scope.
const tracerName = "github.com/wardauth/ward/gateway"

// traceContext writes the W3C traceparent and tracestate headers.
var traceContext = propagation.TraceContext{}

// Span attribute keys. Values are route names, the fixed outcomes and
// reasons, OAuth error codes and the client_id: never a token or proof.
const (
	attrRoute    = attribute.Key("ward.route")
	attrOutcome  = attribute.Key("ward.outcome")
	attrReason   = attribute.Key("ward.reason")
	attrClientID = attribute.Key("ward.client_id")
	attrErrCode  = attribute.Key("ward.error_code")
	attrStatus   = attribute.Key("http.response.status_code")
)

// The front doors' span names: "<door> <route>".
const (
	doorProxy      = "gateway"    // the reverse proxy (serve.go)
	doorAuthorizer = "authorizer" // the forward-auth endpoint (authorizer.go)
	doorExtAuthz   = "ext_authz"  // DecideAndRecord, for the ext_authz server
)

// annotateSpan adds the gateway's decision to the request's span.
func annotateSpan(r *http.Request, rec *record, status int) {
	annotateDecision(r, rec, status, doorProxy)
}

// annotateDecision adds the decision of the front door door to the
// request's span and names it after door and the route.
func annotateDecision(r *http.Request, rec *record, status int, door string) {
	sp := trace.SpanFromContext(r.Context())
	if !sp.IsRecording() {
		return
	}
	sp.SetName(door + " " + rec.route)
	sp.SetAttributes(attrRoute.String(rec.route), attrOutcome.String(string(rec.outcome)), attrStatus.Int(status))
	if rec.reason != "" {
		sp.SetAttributes(attrReason.String(string(rec.reason)))
	}
	if rec.id != nil {
		sp.SetAttributes(attrClientID.String(rec.id.ClientID))
	}
	if status >= http.StatusInternalServerError {
		sp.SetStatus(codes.Error, string(rec.outcome))
	}
}

// annotateAuthorizerRefusal records on the request's span a forward-auth
// call refused before any decision: an untrusted peer, a request the
// proxy described badly.
func annotateAuthorizerRefusal(r *http.Request, reason Reason, status int) {
	sp := trace.SpanFromContext(r.Context())
	if !sp.IsRecording() {
		return
	}
	sp.SetName(doorAuthorizer + " none")
	sp.SetAttributes(attrOutcome.String(string(OutcomeRejected)), attrReason.String(string(reason)), attrStatus.Int(status))
}

// authenticateTraced is the route's token and sender check (the access
// token, its DPoP proof with the replay check, or its certificate) in a
// child span when the request's span records.
func authenticateTraced(rs *resource.Resource, r *http.Request, rt *route) (*resource.Identity, error) {
	parent := trace.SpanFromContext(r.Context())
	if !parent.IsRecording() {
		return rs.Authenticate(r, rt.req)
	}
	ctx, sp := parent.TracerProvider().Tracer(tracerName).Start(r.Context(), "gateway.authenticate")
	defer sp.End()
	id, err := rs.Authenticate(r.WithContext(ctx), rt.req)
	if err != nil {
		e := oauth.As(err)
		sp.SetAttributes(attrReason.String(e.Reason), attrErrCode.String(e.Code))
		sp.SetStatus(codes.Error, e.Reason)
		return nil, err
	}
	if id.JKT != "" {
		sp.SetAttributes(attribute.String("ward.sender", "dpop"))
	} else if id.CertThumbprint != "" {
		sp.SetAttributes(attribute.String("ward.sender", "mtls"))
	}
	return id, nil
}

// upstreamTrace starts the upstream call's client span when the request's
// span records, and sets traceparent (and tracestate) on the upstream
// request whenever the request has a trace, sampled or not. end, nil when
// there is no trace, closes the span with the answer's status.
func upstreamTrace(r *http.Request, rt *route) (*http.Request, func(http.ResponseWriter)) {
	if !trace.SpanContextFromContext(r.Context()).IsValid() {
		return r, nil
	}
	end := func(http.ResponseWriter) {}
	if parent := trace.SpanFromContext(r.Context()); parent.IsRecording() {
		ctx, sp := parent.TracerProvider().Tracer(tracerName).Start(r.Context(), "gateway.upstream",
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrRoute.String(rt.cfg.Name)))
		r = r.WithContext(ctx)
		end = func(w http.ResponseWriter) {
			if sw, ok := w.(*statusWriter); ok {
				sp.SetAttributes(attrStatus.Int(sw.status))
				if sw.status >= http.StatusInternalServerError {
					sp.SetStatus(codes.Error, "upstream answered "+http.StatusText(sw.status))
				}
			}
			sp.End()
		}
	}
	traceContext.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
	return r, end
}
