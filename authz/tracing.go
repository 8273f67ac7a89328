package authz

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/oauth"
)

// Tracing (docs/OBSERVABILITY.md). The authorization server starts no
// trace: ward serve wraps its handler in a span (package server), and
// these hooks add to the request context's span when it records. Without
// one each hook is one context lookup. Attributes carry OAuth error codes
// and stable reasons, never a token, proof, code or secret.

const tracerName = "github.com/wardauth/ward/authz"

// annotateRefusal adds a refusal's error code and reason to the request's
// span.
func annotateRefusal(r *http.Request, e *oauth.Error) {
	sp := trace.SpanFromContext(r.Context())
	if !sp.IsRecording() {
		return
	}
	sp.SetAttributes(attribute.String("ward.outcome", "refused"), attribute.String("ward.error_code", e.Code))
	if e.Reason != "" {
		sp.SetAttributes(attribute.String("ward.reason", e.Reason))
	}
	if e.Status >= http.StatusInternalServerError {
		sp.SetStatus(codes.Error, e.Code)
	}
}

// startSpan starts a child span named name when ctx's span records; end
// records err's stable reason (a DPoP refusal's) and closes it.
func startSpan(ctx context.Context, name string) (context.Context, func(error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, func(error) {}
	}
	ctx, sp := parent.TracerProvider().Tracer(tracerName).Start(ctx, name)
	return ctx, func(err error) {
		if err != nil {
			sp.SetAttributes(attribute.String("ward.reason", string(dpopReason(err))))
			sp.SetStatus(codes.Error, string(dpopReason(err)))
		}
		sp.End()
	}
}
