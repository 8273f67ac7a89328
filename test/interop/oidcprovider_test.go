package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
)

// oidcProvider starts interop/oidc-provider.mjs and returns its issuer and
// the secret of its confidential client svc.
func oidcProvider(t *testing.T) (issuer, secret string) {
	t.Helper()
	node := needNode(t, "oidc-provider")
	op := startScript(t, node, "oidc-provider.mjs")
	var start struct {
		Issuer    string `json:"issuer"`
		SvcSecret string `json:"svc_secret"`
		Version   string `json:"version"`
	}
	op.next(&start)
	t.Logf("oidc-provider %s at %s", start.Version, start.Issuer)
	return start.Issuer, start.SvcSecret
}

// TestSDKAgainstOIDCProviderClientCredentials: Ward's Go SDK discovers
// node-oidc-provider (which serves only OpenID Connect discovery), and
// obtains a DPoP-bound token by client credentials through the
// provider's use_dpop_nonce round; the provider's introspection shows the
// token bound to the SDK's key.
func TestSDKAgainstOIDCProviderClientCredentials(t *testing.T) {
	issuer, secret := oidcProvider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &recorder{}
	c, err := client.Discover(ctx, issuer, "svc",
		client.WithClientSecret(secret, client.AuthStyleBasic),
		client.WithScopes("read"),
		client.WithHTTPClient(&http.Client{Transport: rec, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	tokenURL := c.Endpoint().TokenURL
	tok, err := c.ClientCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(tok.TokenType, "DPoP") || tok.AccessToken == "" {
		t.Fatalf("token_type %q, want DPoP", tok.TokenType)
	}
	sent := rec.to(tokenURL)
	if len(sent) != 2 || sent[0].Header.Get("DPoP") == "" || sent[1].Header.Get("DPoP") == "" {
		t.Fatalf("%d token requests, want 2 with proofs (use_dpop_nonce, then the retry)", len(sent))
	}
	if c.Transport().Nonce(tokenURL) == "" {
		t.Error("the SDK kept no nonce for the provider")
	}
	// The provider's view of the token (RFC 7662, client svc introspects
	// its own token).
	in := introspect(t, issuer, tok.AccessToken, func(r *http.Request, f url.Values) { r.SetBasicAuth("svc", url.QueryEscape(secret)) })
	if !in.Active || in.ClientID != "svc" || in.CNF.JKT != c.Thumbprint() || in.Scope != "read" {
		t.Fatalf("introspection %+v: want active, client svc, scope read, cnf.jkt %s", in, c.Thumbprint())
	}
}

// TestSDKAgainstOIDCProviderAuthCode: the SDK's AuthorizeLoopback (PKCE,
// PAR with a DPoP proof, dpop_jkt, loopback redirect, state and iss
// checked) signs a user in at node-oidc-provider, whose development
// login and consent pages the test fills in as the browser, and redeems
// the code for a DPoP-bound token, through nonce rounds.
func TestSDKAgainstOIDCProviderAuthCode(t *testing.T) {
	issuer, _ := oidcProvider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &recorder{}
	browserErr := make(chan error, 1)
	c, err := client.Discover(ctx, issuer, "app",
		client.WithScopes("read"),
		client.WithHTTPClient(&http.Client{Transport: rec, Timeout: 10 * time.Second}),
		client.WithBrowser(func(u string) error {
			go func() { browserErr <- formBrowser(u) }()
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ep := c.Endpoint()
	if ep.PARURL == "" || !ep.ISSParameterSupported {
		t.Fatalf("discovered %+v: want a PAR endpoint and iss in responses", ep)
	}
	tok, err := c.AuthorizeLoopback(ctx)
	if err != nil {
		select {
		case berr := <-browserErr:
			t.Fatalf("%v (browser: %v)", err, berr)
		default:
			t.Fatal(err)
		}
	}
	if !strings.EqualFold(tok.TokenType, "DPoP") || tok.AccessToken == "" {
		t.Fatalf("token_type %q, want DPoP", tok.TokenType)
	}
	if par := rec.to(ep.PARURL); len(par) != 2 {
		t.Errorf("%d PAR requests, want 2 (use_dpop_nonce, then the retry)", len(par))
	}
	// The token endpoint is on the same origin: the nonce learnt at PAR
	// serves the code exchange, unless it rotated in between.
	t.Logf("PAR requests %d, token requests %d", len(rec.to(ep.PARURL)), len(rec.to(ep.TokenURL)))
	if n := len(rec.to(ep.TokenURL)); n < 1 || n > 2 {
		t.Errorf("%d token requests, want 1 or 2", n)
	}
	in := introspect(t, issuer, tok.AccessToken, func(_ *http.Request, f url.Values) { f.Set("client_id", "app") })
	if !in.Active || in.ClientID != "app" || in.Sub != testUser || in.CNF.JKT != c.Thumbprint() {
		t.Fatalf("introspection %+v: want active, client app, sub %s, cnf.jkt %s", in, testUser, c.Thumbprint())
	}
}

// introspection is the part of an RFC 7662 answer the tests check.
type introspection struct {
	Active    bool   `json:"active"`
	ClientID  string `json:"client_id"`
	Sub       string `json:"sub"`
	TokenType string `json:"token_type"`
	Scope     string `json:"scope"`
	CNF       struct {
		JKT string `json:"jkt"`
	} `json:"cnf"`
}

// introspect asks the provider about tok; auth authenticates the client.
func introspect(t *testing.T, issuer, tok string, auth func(*http.Request, url.Values)) introspection {
	t.Helper()
	md := struct {
		Introspection string `json:"introspection_endpoint"`
	}{}
	getJSON(t, issuer+"/.well-known/openid-configuration", &md)
	form := url.Values{"token": {tok}}
	req, _ := http.NewRequest(http.MethodPost, md.Introspection, nil)
	auth(req, form)
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var in introspection
	if err := json.Unmarshal(b, &in); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d %s", resp.StatusCode, b)
	}
	return in
}

var (
	formRE   = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*method="post"[^>]*>(.*?)</form>`)
	inputRE  = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
	loginRE  = regexp.MustCompile(`name="login"`)
	callbRE  = "/callback"
	maxPages = 6
)

// formBrowser is a user on node-oidc-provider's development pages: it
// submits the first form of each page (login with any name and password,
// then consent) until the provider redirects to the client's loopback
// /callback, and follows that redirect as a browser would.
func formBrowser(authURL string) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	var final *url.URL
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == callbRE {
			final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := hc.Get(authURL)
	for range maxPages {
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if final != nil {
			r, err := http.Get(final.String())
			if err != nil {
				return err
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			return nil
		}
		m := formRE.FindSubmatch(body)
		if m == nil {
			return fmt.Errorf("browser: %d page without a form at %s: %.400s", resp.StatusCode, resp.Request.URL, body)
		}
		action, perr := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
		if perr != nil {
			return perr
		}
		f := url.Values{}
		for _, in := range inputRE.FindAllSubmatch(m[2], -1) {
			f.Set(string(in[1]), html.UnescapeString(string(in[2])))
		}
		if loginRE.Match(m[2]) {
			f.Set("login", testUser)
			f.Set("password", testPassword)
		}
		resp, err = hc.PostForm(action.String(), f)
	}
	return fmt.Errorf("browser: no redirect to the client after %d pages", maxPages)
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
