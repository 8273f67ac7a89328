package config

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/wardauth/ward/oauth"
)

// clientTokenExchange checks a client's token_exchange policy against
// its grant_types and authentication method (docs/TOKEN_EXCHANGE.md).
func (v *validator) clientTokenExchange(cl *Client, p func(string) string, grants []oauth.GrantType) {
	listed := slices.Contains(grants, oauth.GrantTokenExchange)
	te := cl.TokenExchange
	switch {
	case te == nil && listed:
		v.add(p("token_exchange"), ErrMissing, "required when grant_types lists %s", oauth.GrantTokenExchange)
		return
	case te == nil:
		return
	case !listed:
		v.add(p("grant_types"), ErrInvalidValue, "token_exchange is set: list %s in grant_types to enable it", oauth.GrantTokenExchange)
	}
	switch cl.AuthMethod {
	case oauth.AuthPrivateKeyJWT, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient:
	default:
		v.add(p("auth_method"), ErrInvalidValue, "a client of the token exchange grant must authenticate with private_key_jwt, tls_client_auth or self_signed_tls_client_auth, not %q", cl.AuthMethod)
	}
	tp := func(k string) string { return p("token_exchange." + k) }
	v.exchangeURIs(tp("subject_audiences"), te.SubjectAudiences)
	v.exchangeURIs(tp("audiences"), te.Audiences)
	v.scopeTokens(tp("scopes"), te.Scopes)
	if te.MaxChainDepth > MaxTokenExchangeChainDepth {
		v.add(tp("max_chain_depth"), ErrInvalidValue, "must be between 1 and %d (0: the default, %d)", MaxTokenExchangeChainDepth, DefaultTokenExchangeChainDepth)
	}
}

// exchangeURIs checks a required list of absolute URIs without fragment
// (RFC 8707 §2).
func (v *validator) exchangeURIs(path string, list []string) {
	if len(list) == 0 {
		v.add(path, ErrMissing, "required: at least one absolute URI")
	}
	for j, a := range list {
		if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
			v.add(fmt.Sprintf("%s[%d]", path, j), ErrInvalidValue, "%q is not an absolute URI without fragment (RFC 8707 §2)", a)
		}
	}
}
