package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/ratelimit"
)

// TestTracedStores: with a recording span in the context, each replay
// check and rate-limit decision is a child span (a replay's status says
// "seen", never the jti or key); without one, no span is made; with
// tracing off the stores are not wrapped.
func TestTracedStores(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := &tracing{tp: tp, tracer: tp.Tracer("test")}
	replay := tr.replay(dpop.NewMemoryReplayStore(0, nil))
	limits := tr.limits(ratelimit.NewMemoryStore(0))

	ctx, parent := tr.tracer.Start(context.Background(), "request")
	exp1 := time.Now().Add(time.Minute)
	if err := replay.Use(ctx, "jkt-1", "jti-secret", exp1); err != nil {
		t.Fatal(err)
	}
	if err := replay.Use(ctx, "jkt-1", "jti-secret", exp1); !errors.Is(err, dpop.ErrSeen) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := limits.Take(ctx, "ip:1", time.Now(), ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 10}, 1); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 2 replay checks, 1 rate-limit decision and the request", len(spans))
	}
	for _, s := range spans[:3] {
		if s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the request", s.Name)
		}
		for _, a := range s.Attributes {
			if v := a.Value.String(); v == "jti-secret" || v == "jkt-1" || v == "ip:1" {
				t.Errorf("%s holds a key: %s", s.Name, a.Key)
			}
		}
	}
	if spans[0].Name != "dpop.replay.use" || spans[1].Status.Code != codes.Error || spans[1].Status.Description != "seen" || spans[2].Name != "ratelimit.take" {
		t.Errorf("spans: %s, %s (%v), %s", spans[0].Name, spans[1].Name, spans[1].Status, spans[2].Name)
	}

	exp.Reset()
	if err := replay.Use(context.Background(), "jkt-1", "jti-2", exp1); err != nil || len(exp.GetSpans()) != 0 {
		t.Errorf("without a request span: %v, %d spans", err, len(exp.GetSpans()))
	}
	var off *tracing
	if _, wrapped := off.replay(dpop.NewMemoryReplayStore(0, nil)).(tracedReplay); wrapped {
		t.Error("tracing off wraps the replay store")
	}
}
