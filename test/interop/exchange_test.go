package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

const (
	exchangerAPI = "https://orders.interop.example"
	exchangeAPI  = "https://payments.interop.example"
)

// TestOpenIDClientTokenExchange: openid-client (pinned in interop/) does a
// token exchange (RFC 8693) with genericGrantRequest. The subject token is
// a Ward DPoP-bound access token aimed at the exchanging client's API; the
// exchanger authenticates with private_key_jwt and proves its own DPoP
// key. The issued token is bound to the exchanger's key (not the subject
// holder's), names the exchanger in act (§4.1), keeps the subject, aims
// at the requested resource, and has no refresh token; asking for a scope
// the subject token does not hold is invalid_scope (docs/DELEGATION.md).
func TestOpenIDClientTokenExchange(t *testing.T) {
	node := needNode(t, "openid-client", "jose")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: key, KeyID: "orders-1", Algorithm: "ES256", Use: "sig"}
	jwk, _ := priv.MarshalJSON()
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}})
	as := authztest.New(t, authztest.Options{
		Config: func(c *config.Config) {
			c.DPoP.Nonce.Enabled = true
			c.Clients = append(c.Clients, config.Client{ID: "orders", TokenExchange: &config.TokenExchange{
				SubjectAudiences: []string{exchangerAPI}, Audiences: []string{exchangeAPI}, Scopes: []string{"read", "write"}}})
		},
		Clients: []store.Client{
			{ID: "front", Name: "front end", AuthMethod: oauth.AuthSecretPost,
				GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"read", "write"}, Audiences: []string{exchangerAPI}},
			{ID: "orders", Name: "orders service", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set,
				GrantTypes: []oauth.GrantType{oauth.GrantTokenExchange}, Scopes: []string{"read", "write"}, Audiences: []string{exchangeAPI}},
		},
	})
	s := startScriptEnv(t, []string{"EXCHANGER_JWK=" + string(jwk)}, node, "token-exchange.mjs",
		as.URL, "front", as.Secrets["front"], "orders", exchangerAPI, exchangeAPI)
	var out struct {
		Subject      string `json:"subject"`
		SubjectJKT   string `json:"subject_jkt"`
		ExchangerJKT string `json:"exchanger_jkt"`
		Exchanged    struct {
			AccessToken     string `json:"access_token"`
			TokenType       string `json:"token_type"`
			IssuedTokenType string `json:"issued_token_type"`
			HasRefreshToken bool   `json:"has_refresh_token"`
		} `json:"exchanged"`
		Widen struct {
			Accepted bool   `json:"accepted"`
			Error    string `json:"error"`
			Status   int    `json:"status"`
		} `json:"widen"`
	}
	s.next(&out)
	_, sub := decodeJWT(t, out.Subject)
	if cnf, _ := sub["cnf"].(map[string]any); cnf["jkt"] != out.SubjectJKT || sub["aud"] != exchangerAPI {
		t.Fatalf("subject token claims %v: want aud %s and cnf.jkt %s", sub, exchangerAPI, out.SubjectJKT)
	}
	ex := out.Exchanged
	_, cl := decodeJWT(t, ex.AccessToken)
	cnf, _ := cl["cnf"].(map[string]any)
	act, _ := cl["act"].(map[string]any)
	switch {
	case !strings.EqualFold(ex.TokenType, oauth.TokenTypeDPoP) || ex.IssuedTokenType != oauth.TokenTypeAccessToken || ex.HasRefreshToken:
		t.Fatalf("exchange answer %+v", ex)
	case out.ExchangerJKT == out.SubjectJKT || cnf["jkt"] != out.ExchangerJKT:
		t.Fatalf("exchanged cnf %v: want the exchanger's key %s, not the subject's %s", cnf, out.ExchangerJKT, out.SubjectJKT)
	case act["sub"] != "orders" || cl["client_id"] != "orders" || cl["sub"] != sub["sub"] || cl["aud"] != exchangeAPI || cl["scope"] != "read":
		t.Fatalf("exchanged claims %v: want act.sub orders, client_id orders, sub %v, aud %s, scope read", cl, sub["sub"], exchangeAPI)
	}
	if w := out.Widen; w.Accepted || w.Error != "invalid_scope" || w.Status != 400 {
		t.Fatalf("widening exchange: %+v, want 400 invalid_scope", w)
	}
}
