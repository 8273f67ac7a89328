package mtls_test

import (
	"fmt"
	"net/http"
	"net/netip"

	"github.com/wardauth/ward/mtls"
)

// A listener that accepts client certificates from its CAs, and a handler
// that reads the certificate from the connection or from a trusted proxy.
func Example() {
	sc, err := mtls.NewServerConfig("server.pem", "server-key.pem", []string{"ca.pem"})
	if err != nil {
		fmt.Println("load:", err != nil)
		return
	}
	proxy := &mtls.TrustedProxy{
		Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Roots:   sc, // forwarded certificates are verified again
	}
	srv := &http.Server{
		TLSConfig: sc.TLSConfig(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			proxy.Strip(r)
			cert, err := mtls.ClientCertificate(r, proxy)
			if err != nil {
				http.Error(w, "client certificate required", http.StatusUnauthorized)
				return
			}
			id, _ := mtls.SPIFFEID(cert)
			fmt.Fprintln(w, mtls.Thumbprint(cert), id)
		}),
	}
	_ = srv.ListenAndServeTLS("", "")
	// Output: load: true
}
