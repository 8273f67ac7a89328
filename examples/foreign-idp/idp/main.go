// Command idp is a stand-in for another identity provider (Keycloak,
// Okta, Auth0, Entra, ...) in the foreign-idp example: an OAuth 2.0
// authorization server that knows one confidential client and issues
// RFC 9068 JWT access tokens bound to the client's DPoP key (RFC 9449)
// by client credentials. It serves RFC 8414 and OpenID Connect discovery
// metadata, its JWKS and /token over TLS, and nothing else. It exists so
// the example runs on one machine without a real provider; it is not a
// product.
//
// Usage: idp --listen 127.0.0.1:8600 --cert server.pem --key server-key.pem
// with the client's secret in IDP_CLIENT_SECRET.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/jws"
	"github.com/wardauth/ward/oauth"
)

type idp struct {
	issuer, clientID, secret, audience, scope string
	key                                       *ecdsa.PrivateKey
	kid                                       string
	proofs                                    *dpop.Verifier
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8600", "address to listen on")
	cert := flag.String("cert", "", "TLS certificate (PEM)")
	key := flag.String("key", "", "TLS key (PEM)")
	clientID := flag.String("client-id", "svc", "the one client")
	audience := flag.String("audience", "", "aud of the access tokens (the API's identifier)")
	scope := flag.String("scope", "orders:read", "scope of the access tokens")
	flag.Parse()
	secret := os.Getenv("IDP_CLIENT_SECRET")
	if *cert == "" || *key == "" || *audience == "" || secret == "" {
		log.Fatal("idp: give --cert, --key, --audience and IDP_CLIENT_SECRET")
	}
	p, err := newIDP("https://"+*listen, *clientID, secret, *audience, *scope)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *listen, Handler: p.routes(), ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	log.Printf("idp: issuer %s", p.issuer)
	if err := srv.ListenAndServeTLS(*cert, *key); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func newIDP(issuer, clientID, secret, audience, scope string) (*idp, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	proofs, err := dpop.NewVerifier(dpop.WithBaseURL(issuer))
	if err != nil {
		return nil, err
	}
	return &idp{issuer: issuer, clientID: clientID, secret: secret, audience: audience, scope: scope,
		key: k, kid: "idp-1", proofs: proofs}, nil
}

func (p *idp) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", p.metadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", p.metadata)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("POST /token", p.token)
	return mux
}

// metadata is the RFC 8414 document (also served as OpenID Connect
// discovery, as most providers do).
func (p *idp) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"grant_types_supported":                 []string{string(oauth.GrantClientCredentials)},
		"token_endpoint_auth_methods_supported": []string{string(oauth.AuthSecretBasic)},
		"dpop_signing_alg_values_supported":     []string{"ES256", "EdDSA"},
	})
}

func (p *idp) jwks(w http.ResponseWriter, _ *http.Request) {
	jwk := jose.JSONWebKey{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "ES256", Use: "sig"}
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
}

// token issues a DPoP-bound access token by client credentials
// (RFC 6749 §4.4, RFC 9449 §5).
func (p *idp) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := basicAuth(r)
	if !ok || id != p.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.secret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": oauth.InvalidClient})
		return
	}
	if r.PostFormValue("grant_type") != string(oauth.GrantClientCredentials) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": oauth.UnsupportedGrantType})
		return
	}
	proof, err := p.proofs.VerifyHTTP(r.Context(), r, "", "")
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": oauth.InvalidDPoPProof, "error_description": err.Error()})
		return
	}
	at, err := p.sign(proof.Thumbprint)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": oauth.ServerError})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": oauth.TokenTypeDPoP, "expires_in": 300, "scope": p.scope})
}

// basicAuth reads client_secret_basic: the id and secret are
// form-urlencoded before they are joined and base64-encoded (RFC 6749
// §2.3.1).
func basicAuth(r *http.Request) (id, secret string, ok bool) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(u)
	secret, err2 := url.QueryUnescape(p)
	return id, secret, err1 == nil && err2 == nil
}

// sign makes an RFC 9068 access token bound to the DPoP key jkt.
func (p *idp) sign(jkt string) (string, error) {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss": p.issuer, "sub": p.clientID, "client_id": p.clientID, "aud": p.audience,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti),
		"scope": p.scope, "cnf": map[string]string{"jkt": jkt},
	})
	if err != nil {
		return "", err
	}
	h, err := jws.EncodeHeader(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": p.kid})
	if err != nil {
		return "", err
	}
	return jws.Sign(p.key, "ES256", h, claims)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "idp:", err)
	}
}
