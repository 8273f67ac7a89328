package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

// TestTracingAuthorizerSpans: the forward-auth endpoint names the
// request's span "authorizer <route>" and adds the decision, with the
// token and sender check as a child span, as the reverse proxy does; a
// call refused before any decision (a peer not trusted) is recorded too.
// No attribute holds the token.
func TestTracingAuthorizerSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	e := newEnvWith(t, withAuthorizer, func(o *gateway.Options) { o.Middleware = spanMiddleware(tp) })
	tok := e.token(nil)
	if w := e.check("nginx", "GET", "/orders/1", publicURL+"/orders/1", tok, nil); w.Code != http.StatusOK {
		t.Fatalf("allowed check: %d %s", w.Code, w.Body)
	}
	spans := spansByName(exp)
	root, auth := spans["authorizer orders"], spans["gateway.authenticate"]
	if !root.SpanContext.IsValid() || !auth.SpanContext.IsValid() || auth.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Fatalf("spans: %v", names(exp))
	}
	for k, want := range map[string]string{"ward.route": "orders", "ward.outcome": "allowed", "http.response.status_code": "200", "ward.client_id": "app"} {
		if got := attr(root, k); got != want {
			t.Errorf("authorizer span %s = %q, want %q", k, got, want)
		}
	}

	exp.Reset()
	if w := e.check("caddy", "GET", "/orders/1", publicURL+"/orders/1", "", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("check without a token: %d", w.Code)
	}
	if r := spansByName(exp)["authorizer orders"]; attr(r, "ward.outcome") != "rejected" || attr(r, "http.response.status_code") != "401" {
		t.Errorf("refused check span: %v", r.Attributes)
	}

	exp.Reset()
	if w := e.check("nginx", "GET", "/orders/1", publicURL+"/orders/1", tok, map[string]string{"X-Original-URI": "orders"}); w.Code != http.StatusBadRequest {
		t.Fatalf("a badly described request: %d", w.Code)
	}
	if r := spansByName(exp)["authorizer none"]; attr(r, "ward.reason") != "authorizer_bad_request" || attr(r, "http.response.status_code") != "400" {
		t.Errorf("bad request span: %v (spans %v)", r.Attributes, names(exp))
	}
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), "eyJ") {
				t.Errorf("span %s attribute %s holds a token", s.Name, a.Key)
			}
		}
	}
}

// TestTracingDecideAndRecord: the decision asked by the ext_authz server
// is added to the span in the request's context, named "ext_authz
// <route>", with the token check as a child span.
func TestTracingDecideAndRecord(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	e := newEnv(t, func(*config.Gateway) {})
	r := e.decideReq("GET", publicURL+"/orders/1", publicURL+"/orders/1", e.token(nil))
	ctx, sp := tp.Tracer("test").Start(r.Context(), "check", trace.WithSpanKind(trace.SpanKindServer))
	d := e.gw.DecideAndRecord(r.WithContext(ctx))
	sp.End()
	if !d.Allowed {
		t.Fatalf("decision %+v", d)
	}
	spans := spansByName(exp)
	root, auth := spans["ext_authz orders"], spans["gateway.authenticate"]
	if attr(root, "ward.outcome") != "allowed" || attr(root, "ward.client_id") != "app" || auth.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Errorf("spans %v: %v", names(exp), root.Attributes)
	}
}

// TestTracingAuthorizerListener: on its own listener
// (gateway.authorizer.listen) the forward-auth endpoint gets the request
// span from Options.Middleware too.
func TestTracingAuthorizerListener(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	e := newEnvWith(t, func(c *config.Gateway) {
		c.Authorizer.Listen = "127.0.0.1:0"
		c.Authorizer.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}, func(o *gateway.Options) { o.Middleware = spanMiddleware(tp) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.ServeAuthorizer(ctx, ln) }()
	defer func() { cancel(); <-done }()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/_ward/authorize", nil)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/orders/1")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", strings.TrimPrefix(publicURL, "https://"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("check without a token: %d", resp.StatusCode)
	}
	if r := spansByName(exp)["authorizer orders"]; attr(r, "ward.outcome") != "rejected" {
		t.Errorf("spans %v", names(exp))
	}
}
