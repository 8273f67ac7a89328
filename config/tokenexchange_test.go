package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

const exchangeYAML = base + `clients:
  - id: orders-svc
    auth_method: private_key_jwt
    jwks_file: /orders.jwks
    grant_types: [client_credentials, "urn:ietf:params:oauth:grant-type:token-exchange"]
    token_exchange:
      subject_audiences: [https://orders.example]
      audiences: [https://payments.example]
      scopes: [payments:read]
      max_chain_depth: 3
`

// TestTokenExchangeConfig: a client's token_exchange policy loads, and a
// mistake names the key and the file line.
func TestTokenExchangeConfig(t *testing.T) {
	c, err := load("ward.yaml", exchangeYAML, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	te := c.Clients[0].TokenExchange
	if te == nil || te.SubjectAudiences[0] != "https://orders.example" || te.Audiences[0] != "https://payments.example" || te.ChainDepth() != 3 {
		t.Fatalf("token_exchange %+v", te)
	}
	if d := (&config.TokenExchange{}).ChainDepth(); d != config.DefaultTokenExchangeChainDepth {
		t.Fatalf("default depth %d", d)
	}
	_, err = load("ward.yaml", strings.Replace(exchangeYAML, "max_chain_depth: 3", "max_chain_depth: 99", 1), noEnv)
	if !errors.Is(err, config.ErrInvalidValue) || !strings.Contains(err.Error(), "ward.yaml:13: clients[0].token_exchange.max_chain_depth") {
		t.Fatalf("error %v", err)
	}
}
