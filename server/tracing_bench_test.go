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
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
)

// discardExporter drops the spans the batcher hands it.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkTokenTracing interleaves, in every iteration, one
// client_credentials request with a fresh DPoP proof to a dev process
// without tracing (off) and one to a dev process with every request
// traced (on: the request span, the DPoP check and the store calls as
// child spans, a batching exporter that drops them), and reports each
// one's time per request and their ratio.
func BenchmarkTokenTracing(b *testing.B) {
	open := func(traced bool) (http.Handler, string, *process) {
		cfg := config.Dev(b.TempDir())
		if traced {
			old := spanExporter
			spanExporter = func(context.Context, config.Tracing) (sdktrace.SpanExporter, error) { return discardExporter{}, nil }
			b.Cleanup(func() { spanExporter = old })
			cfg.Tracing = config.Tracing{Enabled: true, Endpoint: "http://127.0.0.1:4318", SampleRatio: 1, ServiceName: "ward"}
		}
		p, err := openProcess(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.close)
		return p.as.handler(), cfg.Issuer + "/token", p
	}
	b.Setenv(config.EnvStoreDSN, "")
	b.Setenv(config.EnvKeyEncryptionKey, "")
	b.Setenv(config.EnvDPoPNonceSecret, "")
	off, uOff, pOff := open(false)
	on, uOn, pOn := open(true)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(key)
	req := func(u string, p *process) *http.Request {
		proof, err := signer.Proof("POST", u)
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest("POST", u, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(p.creds.Service.ClientID, p.creds.Service.ClientSecret)
		r.Header.Set("DPoP", proof)
		return r
	}
	var tOff, tOn time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r1, r2 := req(uOff, pOff), req(uOn, pOn)
		w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
		b.StartTimer()
		t0 := time.Now()
		off.ServeHTTP(w1, r1)
		t1 := time.Now()
		on.ServeHTTP(w2, r2)
		tOn += time.Since(t1)
		tOff += t1.Sub(t0)
		if w1.Code != 200 || w2.Code != 200 {
			b.Fatalf("status %d %d: %s %s", w1.Code, w2.Code, w1.Body, w2.Body)
		}
	}
	b.ReportMetric(float64(tOff.Nanoseconds())/float64(b.N), "ns-off/op")
	b.ReportMetric(float64(tOn.Nanoseconds())/float64(b.N), "ns-on/op")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
}
