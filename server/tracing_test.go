package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
)

const clientTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// memoryTracing is the tracing of cfg with its spans kept in memory.
func memoryTracing(t *testing.T, cfg config.Tracing) (*tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	old := spanExporter
	spanExporter = func(context.Context, config.Tracing) (sdktrace.SpanExporter, error) { return exp, nil }
	t.Cleanup(func() { spanExporter = old })
	cfg.Enabled, cfg.Endpoint = true, "http://127.0.0.1:4318"
	tr, err := openTracing(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr, exp
}

func flushed(t *testing.T, tr *tracing, exp *tracetest.InMemoryExporter) map[string]tracetest.SpanStub {
	t.Helper()
	if err := tr.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		out[s.Name] = s
	}
	return out
}

func spanAttr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestTracingMiddleware: a client's traceparent and tracestate never reach
// the handler; they start the trace only with tracing.trust_incoming.
func TestTracingMiddleware(t *testing.T) {
	for _, trust := range []bool{false, true} {
		tr, exp := memoryTracing(t, config.Tracing{SampleRatio: 1, ServiceName: "ward", TrustIncoming: trust})
		var got http.Header
		h := tr.wrap("gateway", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Clone()
			w.WriteHeader(http.StatusTeapot)
		}))
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Traceparent", clientTraceparent)
		r.Header.Set("Tracestate", "vendor=evil")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got.Get("Traceparent") != "" || got.Get("Tracestate") != "" {
			t.Errorf("trust=%v: the handler saw the client's trace headers", trust)
		}
		sp := flushed(t, tr, exp)["gateway GET"]
		fromClient := sp.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c"
		if fromClient != trust || spanAttr(sp, "http.response.status_code") != "418" || sp.SpanKind != trace.SpanKindServer {
			t.Errorf("trust=%v: trace %s, status %q", trust, sp.SpanContext.TraceID(), spanAttr(sp, "http.response.status_code"))
		}
		tr.shutdown()
	}
}

// TestTracingProcess: a dev process with tracing on traces /token (the
// request's span with the refusal's error code, the DPoP check and the
// store calls as child spans) and the gateway (the decision, the token
// check, the upstream call).
func TestTracingProcess(t *testing.T) {
	cfg, p, exp := tracedDevProcess(t, nil)
	proof, token := tokenRequest(t, cfg, p)
	w := token()
	if w.Code != http.StatusOK {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	spans := flushed(t, p.tr, exp)
	root, verify := spans["authz POST"], spans["authz.dpop_verify"]
	if spanAttr(root, "http.response.status_code") != "200" || verify.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Errorf("/token spans: %v", names(spans))
	}
	var stores int
	for n, s := range spans {
		if strings.HasPrefix(n, "store.") && s.Parent.TraceID() == root.SpanContext.TraceID() {
			stores++
		}
	}
	if stores == 0 {
		t.Errorf("no store span under /token: %v", names(spans))
	}
	access := strings.Split(w.Body.String(), `"`)[3] // {"access_token":"..."
	exp.Reset()
	if w := token(); w.Code != http.StatusBadRequest {
		t.Fatalf("replayed proof: %d %s", w.Code, w.Body)
	}
	spans = flushed(t, p.tr, exp)
	if root := spans["authz POST"]; spanAttr(root, "ward.error_code") != "invalid_dpop_proof" || spanAttr(root, "ward.reason") != "replayed" {
		t.Errorf("refused /token span: %v", root.Attributes)
	}
	if v := spans["authz.dpop_verify"]; spanAttr(v, "ward.reason") != "replayed" {
		t.Errorf("dpop_verify span: %v", v.Attributes)
	}
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			if v := a.Value.String(); strings.Contains(v, p.creds.Service.ClientSecret) || strings.Contains(v, access) || strings.Contains(v, proof) {
				t.Errorf("span %s attribute %s holds a secret, token or proof", s.Name, a.Key)
			}
		}
	}

	exp.Reset()
	gw := p.gw.Handler()
	r := httptest.NewRequest("GET", cfg.Gateway.PublicURL+"/demo/public", nil)
	r.Header.Set("Traceparent", clientTraceparent)
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, r)
	spans = flushed(t, p.tr, exp)
	g, up := spans["gateway demo-public"], spans["gateway.upstream"]
	if rec.Code != http.StatusOK || spanAttr(g, "ward.outcome") != "public" || up.Parent.SpanID() != g.SpanContext.SpanID() {
		t.Errorf("gateway: %d, spans %v", rec.Code, names(spans))
	}
	if g.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
		t.Error("the gateway continued the client's trace without trust_incoming")
	}
}

// tracedDevProcess opens a dev process (changed by mod) with tracing on
// and its spans in memory.
func tracedDevProcess(t *testing.T, mod func(*config.Config)) (*config.Config, *process, *tracetest.InMemoryExporter) {
	t.Helper()
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	cfg := config.Dev(t.TempDir())
	if mod != nil {
		mod(cfg)
	}
	cfg.Tracing = config.Tracing{SampleRatio: 1, ServiceName: "ward"}
	_, exp := memoryTracing(t, cfg.Tracing) // installs the exporter
	cfg.Tracing.Enabled, cfg.Tracing.Endpoint = true, "http://127.0.0.1:4318"
	p, err := openProcess(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return cfg, p, exp
}

// tokenRequest makes a DPoP proof for /token and a function that sends a
// client_credentials request of the dev service client with it.
func tokenRequest(t *testing.T, cfg *config.Config, p *process) (string, func() *httptest.ResponseRecorder) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := dpop.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := signer.Proof("POST", cfg.Issuer+"/token")
	if err != nil {
		t.Fatal(err)
	}
	return proof, func() *httptest.ResponseRecorder {
		f := url.Values{"grant_type": {"client_credentials"}}
		r := httptest.NewRequest("POST", cfg.Issuer+"/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(p.creds.Service.ClientID, p.creds.Service.ClientSecret)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		p.as.handler().ServeHTTP(w, r)
		return w
	}
}

// TestTracingProcessRedis: in the scale-out shape the replay check of the
// /token proof is a Redis call, traced as a child of the DPoP check.
func TestTracingProcessRedis(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "tracing")
	cfg, p, exp := tracedDevProcess(t, func(c *config.Config) { c.Redis.Addr, c.Redis.KeyPrefix = addr, prefix })
	_, token := tokenRequest(t, cfg, p)
	if w := token(); w.Code != http.StatusOK {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	spans := flushed(t, p.tr, exp)
	use, verify := spans["dpop.replay.use"], spans["authz.dpop_verify"]
	if !use.SpanContext.IsValid() || use.Parent.SpanID() != verify.SpanContext.SpanID() {
		t.Errorf("no Redis replay span under the DPoP check: %v", names(spans))
	}
}

func names(m map[string]tracetest.SpanStub) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

// TestTracingSpanInputBounded: the request method and path a client sends
// are unbounded (any token is a method; the request line may fill
// max_header_bytes): a method outside RFC 9110's set is named "_OTHER" in
// the span's name and attribute (OpenTelemetry HTTP semantic
// conventions), and attribute values are clipped, so a client can neither
// mint span names without end nor hold max_header_bytes per queued span.
func TestTracingSpanInputBounded(t *testing.T) {
	tr, exp := memoryTracing(t, config.Tracing{SampleRatio: 1, ServiceName: "ward"})
	defer tr.shutdown()
	h := tr.wrap("authz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/"+strings.Repeat("p", 8000), nil)
	r.Method = "X" + strings.Repeat("Y", 8000)
	h.ServeHTTP(httptest.NewRecorder(), r)
	spans := flushed(t, tr, exp)
	sp, ok := spans["authz _OTHER"]
	if !ok {
		t.Fatalf("spans %v: want one named %q", names(spans), "authz _OTHER")
	}
	if m := spanAttr(sp, "http.request.method"); m != "_OTHER" {
		t.Errorf("http.request.method = %.40q, want _OTHER", m)
	}
	if p := spanAttr(sp, "url.path"); len(p) > maxSpanAttrLen {
		t.Errorf("url.path is %d bytes, want at most %d", len(p), maxSpanAttrLen)
	}
}
