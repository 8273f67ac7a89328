package authz

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// This file chooses which of a user's claims a client receives: those of
// the granted scopes (OIDC Core §5.4) and those named by the claims
// request parameter (§5.5), for the UserInfo endpoint and, in words, for
// the consent page.

// scopeClaims are the claims each scope requests (OIDC Core §5.4).
var scopeClaims = map[string][]string{
	oauth.ScopeProfile: {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	oauth.ScopeEmail:   {"email", "email_verified"},
	oauth.ScopeAddress: {"address"},
	oauth.ScopePhone:   {"phone_number", "phone_number_verified"},
}

// Members of the claims request parameter (OIDC Core §5.5).
const (
	claimsForUserInfo = "userinfo"
	claimsForIDToken  = "id_token"
)

// requestedClaims returns the names of the claims requested for target
// (claimsForUserInfo or claimsForIDToken) by scope and by the claims
// request (JSON text, as stored in store.OIDC.ClaimsRequest; validated
// when the authorization request was made). Essential and voluntary
// claims alike: OIDC Core §5.5.1 lets the server return either, and
// omitting an unavailable essential claim is not an error.
func requestedClaims(scope, claimsRequest, target string) []string {
	var names []string
	for _, sc := range strings.Fields(scope) {
		names = append(names, scopeClaims[sc]...)
	}
	if claimsRequest != "" {
		var req map[string]map[string]json.RawMessage
		if json.Unmarshal([]byte(claimsRequest), &req) == nil {
			for name := range req[target] {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// userClaimValues are a user's stored claims by name, with updated_at
// (OIDC Core §5.1: seconds since the epoch) from the record.
func userClaimValues(u *store.User) map[string]any {
	all := map[string]any{}
	b, _ := json.Marshal(u.Claims) // a struct of strings, bools and a struct
	_ = json.Unmarshal(b, &all)
	if !u.UpdatedAt.IsZero() {
		all["updated_at"] = u.UpdatedAt.Unix()
	}
	return all
}

// userInfoClaims are the UserInfo response's claims (OIDC Core §5.3.2):
// sub always — the same subjectFor value as in the ID token — then every
// requested claim the user has. Claims the user has not set are omitted
// (§5.3.2: not returned, never null).
func (s *Server) userInfoClaims(ctx context.Context, g *userInfoGrant) (map[string]any, error) {
	u, err := s.st.GetUser(ctx, g.fam.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidToken("the user of the access token no longer exists")
	}
	if err != nil {
		return nil, err
	}
	sub := s.subjectFor(g.client.Client, u.Subject) // logs why when ""
	if sub == "" {
		return nil, oauth.Wrap(ErrNoPairwiseSalt, "cannot compute the subject")
	}
	all := userClaimValues(u)
	out := map[string]any{"sub": sub}
	for _, name := range requestedClaims(g.at.Scope, g.fam.ClaimsRequest, claimsForUserInfo) {
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return out, nil
}

// claimWords groups the claims in the words the consent page uses, in
// the order it lists them.
var claimWords = []struct {
	words  string
	claims []string
}{
	{"your name and username", []string{"name", "given_name", "family_name", "middle_name", "nickname", "preferred_username"}},
	{"your email address", []string{"email", "email_verified"}},
	{"your phone number", []string{"phone_number", "phone_number_verified"}},
	{"your postal address", []string{"address"}},
	{"your profile details (picture, web pages, gender, date of birth)", []string{"profile", "picture", "website", "gender", "birthdate"}},
	{"your language and time zone", []string{"locale", "zoneinfo", "updated_at"}},
}

// consentClaims says in plain words what a client will learn about the
// user: an identifier for the account with openid, then the groups of
// claims the scope and the claims request (both targets) ask for.
func consentClaims(scope, claimsRequest string) []string {
	if !slices.Contains(strings.Fields(scope), oauth.ScopeOpenID) {
		return nil
	}
	names := append(requestedClaims(scope, claimsRequest, claimsForUserInfo),
		requestedClaims("", claimsRequest, claimsForIDToken)...)
	out := []string{"an identifier for your account"}
	for _, g := range claimWords {
		if slices.ContainsFunc(g.claims, func(c string) bool { return slices.Contains(names, c) }) {
			out = append(out, g.words)
		}
	}
	return out
}

// flowClaimsRequest is the claims request parameter of an authorization
// flow, as JSON text; "" until the authentication-request parameters
// (authorize.go) carry it.
func flowClaimsRequest(*authRequest) string { return "" }
