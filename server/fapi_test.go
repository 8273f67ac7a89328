package server

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestListenerTLS13Only: where Ward terminates TLS (tls.cert_file), the
// listener speaks TLS 1.3 only, which satisfies FAPI 2.0 Security Profile
// §5.2.1 (TLS 1.2 or later; TLS 1.2 only with its four cipher suites)
// without a cipher-suite list to get wrong. Behind a TLS-terminating proxy
// that is the deployment's requirement (docs/FAPI2.md).
func TestListenerTLS13Only(t *testing.T) {
	s := newServer("127.0.0.1:0", http.NotFoundHandler(), config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}, slog.Default())
	if s.TLSConfig == nil || s.TLSConfig.MinVersion != tls.VersionTLS13 {
		t.Fatalf("TLS listener config %+v, want MinVersion TLS 1.3", s.TLSConfig)
	}
}
