package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

const (
	mcpUser     = "alice"
	mcpPassword = "correct horse battery staple"
	// mcpRedirect is registered without a port; the client's listener
	// takes any (RFC 8252 §7.3).
	mcpRedirect = "http://127.0.0.1/callback"
	mcpListener = "http://127.0.0.1:53682/callback"
)

var resourceMetadataRE = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// TestMCPStyleDiscoveryRegistration is the path an MCP client takes
// knowing only an API URL: a 401 from the gateway names the protected
// resource metadata (RFC 9728 §5.1), which names the issuer; the
// authorization server metadata (RFC 8414) names the registration
// endpoint; the client registers itself as a public client with a
// loopback redirect URI (open registration, RFC 7591), pushes a PKCE
// request bound to its DPoP key (RFC 9126, RFC 9449 §10), the user logs
// in and consents, and the DPoP-bound token opens the API.
func TestMCPStyleDiscoveryRegistration(t *testing.T) {
	s := newSystem(t, func(c *config.Config) {
		c.Registration.Enabled, c.Registration.Open = true, true
		c.Registration.Scopes = []string{"demo:read"}
		c.Registration.Audiences = []string{c.Gateway.PublicURL}
	})
	s.seedUser()
	api := s.gwURL + "/demo/whoami"

	prm := s.discoverResource(api)
	issuer := prm.AuthorizationServers[0]
	var asm authz.Metadata
	s.getJSON(issuer+authz.PathMetadata, &asm)
	if asm.Issuer != issuer || asm.RegistrationEndpoint == "" || !slices.Contains(asm.CodeChallengeMethodsSupported, "S256") {
		t.Fatalf("authorization server metadata: %+v", asm)
	}

	reg := s.registerPublic(asm.RegistrationEndpoint)
	sg, _ := s.newSigner(0)
	verifier, _ := pkce.NewVerifier()
	requestURI := s.pushRequest(asm.PushedAuthorizationRequestEndpoint, reg.ClientID, prm.Resource, verifier, sg)

	authURL := asm.AuthorizationEndpoint + "?" + url.Values{"client_id": {reg.ClientID}, "request_uri": {requestURI}}.Encode()
	final, err := wardtest.BrowserLogin(authURL, mcpUser, mcpPassword, "allow")
	if err != nil {
		t.Fatal(err)
	}
	q := final.Query()
	if !strings.HasPrefix(final.String(), "http://127.0.0.1:53682/callback?") || q.Get("state") != "mcp-state" || q.Get("iss") != issuer {
		t.Fatalf("redirect to the client: %s", final)
	}
	tok := s.redeemCode(asm.TokenEndpoint, reg.ClientID, q.Get("code"), verifier, prm.Resource, sg)

	r := s.call(sg, http.MethodGet, "/demo/whoami", tok, nil)
	if r.status != http.StatusOK {
		t.Fatalf("API call with the registered client's token: %d %s", r.status, r.body)
	}
	if who := s.lastSeen().header; who.Get("X-Ward-Client") != reg.ClientID || who.Get("X-Ward-Subject") == "" ||
		who.Get("X-Ward-Jkt") != sg.Thumbprint() {
		t.Fatalf("upstream identity: %v", who)
	}
	// The token is DPoP-bound: as a bearer token it opens nothing.
	if r := s.do(http.MethodGet, "/demo/whoami", "Bearer "+tok, "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("bearer use of the DPoP-bound token: %d", r.status)
	}
}

// protectedResource is the part of RFC 9728 §2 metadata the client uses.
type protectedResource struct {
	Resource                      string   `json:"resource"`
	AuthorizationServers          []string `json:"authorization_servers"`
	DPoPBoundAccessTokensRequired bool     `json:"dpop_bound_access_tokens_required"`
}

// discoverResource calls the API without a token, follows the
// resource_metadata of the 401's challenge (RFC 9728 §5.1) and returns
// the document, checked against RFC 9728 §3.3 (resource is the API's).
func (s *system) discoverResource(api string) protectedResource {
	s.t.Helper()
	resp, err := s.client.Get(api)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	var prmURL string
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		if m := resourceMetadataRE.FindStringSubmatch(c); m != nil {
			prmURL = m[1]
		}
	}
	if resp.StatusCode != http.StatusUnauthorized || prmURL == "" {
		s.t.Fatalf("unauthenticated API call: %d, challenges %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	var prm protectedResource
	s.getJSON(prmURL, &prm)
	if !strings.HasPrefix(api, prm.Resource) || len(prm.AuthorizationServers) != 1 || !prm.DPoPBoundAccessTokensRequired {
		s.t.Fatalf("protected resource metadata: %+v", prm)
	}
	return prm
}

func (s *system) getJSON(u string, v any) {
	s.t.Helper()
	resp, err := s.client.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, v) != nil {
		s.t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
}

type registration struct {
	ClientID                string `json:"client_id"`
	RegistrationAccessToken string `json:"registration_access_token"`
	DPoPBound               bool   `json:"dpop_bound_access_tokens"`
}

// registerPublic registers a public client with a loopback redirect URI.
func (s *system) registerPublic(endpoint string) registration {
	s.t.Helper()
	body := `{"client_name":"MCP client","redirect_uris":["` + mcpRedirect + `"],"token_endpoint_auth_method":"none",
		"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"scope":"demo:read"}`
	resp, err := s.client.Post(endpoint, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var reg registration
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &reg) != nil || reg.ClientID == "" || !reg.DPoPBound {
		s.t.Fatalf("registration: %d %s", resp.StatusCode, b)
	}
	return reg
}

// pushRequest pushes the authorization request with a DPoP proof, which
// binds the code to sg's key (RFC 9449 §10.1), and returns request_uri.
func (s *system) pushRequest(endpoint, clientID, resource, verifier string, sg *dpop.Signer) string {
	s.t.Helper()
	form := url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {mcpListener},
		"scope": {"demo:read"}, "state": {"mcp-state"}, "resource": {resource},
		"code_challenge": {pkce.Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	var out struct {
		RequestURI string `json:"request_uri"`
	}
	s.postDPoP(endpoint, form, sg, http.StatusCreated, &out)
	return out.RequestURI
}

// redeemCode exchanges the code with a DPoP proof and returns the token.
func (s *system) redeemCode(endpoint, clientID, code, verifier, resource string, sg *dpop.Signer) string {
	s.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code},
		"redirect_uri": {mcpListener}, "code_verifier": {verifier}, "resource": {resource}}
	var tr tokenResponse
	s.postDPoP(endpoint, form, sg, http.StatusOK, &tr)
	if tr.TokenType != "DPoP" || tr.AccessToken == "" {
		s.t.Fatalf("token response %+v", tr)
	}
	return tr.AccessToken
}

// postDPoP posts a form with a DPoP proof, answering one use_dpop_nonce
// (RFC 9449 §8), and decodes the answer, which must have status want.
func (s *system) postDPoP(endpoint string, form url.Values, sg *dpop.Signer, want int, out any) {
	s.t.Helper()
	for range 2 {
		var opts []dpop.ProofOption
		if s.nonce != "" {
			opts = append(opts, dpop.WithNonce(s.nonce))
		}
		p, err := sg.Proof(http.MethodPost, endpoint, opts...)
		if err != nil {
			s.t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", p)
		resp, err := s.client.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			s.nonce = n
		}
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), oauth.UseDPoPNonce) {
			continue
		}
		if resp.StatusCode != want || json.Unmarshal(b, out) != nil {
			s.t.Fatalf("POST %s: %d %s", endpoint, resp.StatusCode, b)
		}
		return
	}
	s.t.Fatalf("POST %s: asked for a nonce twice", endpoint)
}

// seedUser creates the user who signs in.
func (s *system) seedUser() {
	s.t.Helper()
	ph, err := password.Hash(mcpPassword)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.st.CreateUser(context.Background(), &store.User{Subject: "u-alice", Username: mcpUser,
		PasswordHash: ph, CreatedAt: s.clk.Now()}); err != nil {
		s.t.Fatal(err)
	}
}
