package attack

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/pkce"
)

// publicToken posts form for a public client with a proof of sg.
func publicToken(t *testing.T, form url.Values, sg *dpop.Signer) *response {
	t.Helper()
	r, err := tokenRequest("", form, sg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codeForm(client, code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "client_id": {client}, "code_verifier": {verifier}}
}

func refreshForm(rt string, scope ...string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {webClient}}
	if len(scope) > 0 {
		f.Set("scope", strings.Join(scope, " "))
	}
	return f
}

// grant logs alice in for the web client and exchanges the code: the
// DPoP key and the refresh token.
func grant(t *testing.T) (*dpop.Signer, string) {
	t.Helper()
	v, _ := pkce.NewVerifier()
	code := login(t, authorizeQuery(v))
	sg, err := newSigner(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := publicToken(t, codeForm(webClient, code, v), sg)
	if r.status != http.StatusOK || r.str("refresh_token") == "" {
		t.Fatalf("code exchange: %d %q", r.status, r.str("error"))
	}
	return sg, r.str("refresh_token")
}

// TestGrantAttacks: a code redeemed by another client, a refresh token
// replayed after rotation, scope widened on refresh.
func TestGrantAttacks(t *testing.T) {
	t.Run("code injected into another client", func(t *testing.T) {
		v, _ := pkce.NewVerifier()
		code := login(t, authorizeQuery(v))
		sg, _ := newSigner(time.Now())
		// The attacker's client, with the right verifier and redirect URI.
		wantTokenError(t, publicToken(t, codeForm(web2Client, code, v), sg), http.StatusBadRequest, "invalid_grant")
	})
	// rotate spends rt with sg's key and returns its successor.
	rotate := func(t *testing.T, rt string, sg *dpop.Signer) string {
		t.Helper()
		r := publicToken(t, refreshForm(rt), sg)
		next := r.str("refresh_token")
		if r.status != http.StatusOK || next == "" || next == rt {
			t.Fatalf("rotation: %d %q", r.status, r.str("error"))
		}
		return next
	}
	t.Run("refresh token replayed after rotation revokes the family", func(t *testing.T) {
		// Replayed once its successor was used: no lost answer explains
		// it (tokens.refresh_token_reuse_grace does not apply).
		sg, rt1 := grant(t)
		rt3 := rotate(t, rotate(t, rt1, sg), sg)
		wantTokenError(t, publicToken(t, refreshForm(rt1), sg), http.StatusBadRequest, "invalid_grant")
		// The replay revoked the family: the newest token is dead too.
		wantTokenError(t, publicToken(t, refreshForm(rt3), sg), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("rotated refresh token replayed by a thief with another key revokes the family", func(t *testing.T) {
		sg, rt1 := grant(t)
		rt2 := rotate(t, rt1, sg)
		thief, err := newSigner(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, publicToken(t, refreshForm(rt1), thief), http.StatusBadRequest, "invalid_grant")
		wantTokenError(t, publicToken(t, refreshForm(rt2), sg), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("refresh retried with the key within the grace window gets a new pair", func(t *testing.T) {
		sg, rt1 := grant(t)
		lost := rotate(t, rt1, sg)
		rt3 := rotate(t, rt1, sg) // the answer above was lost: the client retries
		rotate(t, rt3, sg)
		// The successor whose answer was lost died with the re-issue.
		wantTokenError(t, publicToken(t, refreshForm(lost), sg), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("scope widened on refresh", func(t *testing.T) {
		sg, rt := grant(t) // granted demo:read; the client may have demo:write
		wantTokenError(t, publicToken(t, refreshForm(rt, "demo:read", "demo:write"), sg), http.StatusBadRequest, "invalid_scope")
		// Control: the refused request did not spend the token.
		if r := publicToken(t, refreshForm(rt, "demo:read"), sg); r.status != http.StatusOK || r.str("scope") != "demo:read" {
			t.Errorf("refresh with the granted scope: %d %q scope %q", r.status, r.str("error"), r.str("scope"))
		}
	})
}

// TestMixUp: every authorization response names the issuer (RFC 9207),
// so a client talking to several servers can tell them apart.
func TestMixUp(t *testing.T) {
	t.Run("iss on the success response", func(t *testing.T) {
		v, _ := pkce.NewVerifier()
		u := loginRedirect(t, authorizeQuery(v))
		if got := u.Query(); got.Get("iss") != ward.asURL || got.Get("state") != "st" || got.Get("code") == "" {
			t.Errorf("redirect carries iss %q state %q, want iss %q, state st and a code", got.Get("iss"), got.Get("state"), ward.asURL)
		}
	})
	t.Run("iss on an error response", func(t *testing.T) {
		v, _ := pkce.NewVerifier()
		q := authorizeQuery(v)
		q.Set("scope", "demo:admin")
		jar, _ := cookiejar.New(nil)
		r := browserGet(t, ward.asURL+authz.PathAuthorize+"?"+q.Encode(), jar)
		u, err := url.Parse(r.header.Get("Location"))
		if r.status/100 != 3 || err != nil || !strings.HasPrefix(u.String(), webRedirect+"?") {
			t.Fatalf("got %d, want a redirect to the client", r.status)
		}
		if got := u.Query(); got.Get("error") != "invalid_scope" || got.Get("iss") != ward.asURL || got.Get("code") != "" {
			t.Errorf("redirect %s: want error=invalid_scope, iss=%s, no code", u, ward.asURL)
		}
	})
}

// assertion is a private_key_jwt client assertion (RFC 7523 §3) for
// client, signed by k.
func assertion(client string, k *ecdsa.PrivateKey) string {
	now := time.Now()
	in := signingInput(map[string]any{"alg": "ES256", "kid": "pkj-1", "typ": "JWT"}, map[string]any{
		"iss": client, "sub": client, "aud": ward.asURL + "/token", "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	return in + "." + es256(k, in)
}

// TestClientImpersonation: a client authenticating as another one.
func TestClientImpersonation(t *testing.T) {
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}
	post := func(t *testing.T, form url.Values, user, pass string) *response {
		t.Helper()
		sg, _ := newSigner(time.Now())
		pr, err := sg.Proof(http.MethodPost, ward.asURL+"/token")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, ward.asURL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", pr)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		return mustDo(t, req)
	}
	withAssertion := func(client, a string) url.Values {
		f := url.Values{"client_id": {client}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
		for k, v := range cc {
			f[k] = v
		}
		return f
	}
	t.Run("wrong secret", func(t *testing.T) {
		wantTokenError(t, post(t, cc, svcClient, svcSecret+"x"), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("unknown client", func(t *testing.T) {
		wantTokenError(t, post(t, cc, "nobody", svcSecret), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("control: the client's own assertion", func(t *testing.T) {
		if r := post(t, withAssertion(pkjClient, assertion(pkjClient, ward.pkjKey)), "", ""); r.status != http.StatusOK {
			t.Fatalf("got %d %q, want 200", r.status, r.str("error"))
		}
	})
	t.Run("another client's assertion", func(t *testing.T) {
		wantTokenError(t, post(t, withAssertion(svcClient, assertion(pkjClient, ward.pkjKey)), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("assertion naming another client, signed with this client's key", func(t *testing.T) {
		wantTokenError(t, post(t, withAssertion(svcClient, assertion(svcClient, ward.pkjKey)), "", ""), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("assertion signed by the attacker's key", func(t *testing.T) {
		rogue, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		wantTokenError(t, post(t, withAssertion(pkjClient, assertion(pkjClient, rogue)), "", ""), http.StatusUnauthorized, "invalid_client")
	})
}

// TestCSRF: the login and consent forms are refused without their CSRF
// token or with another browser's (403, no session, no code).
func TestCSRF(t *testing.T) {
	// loginPage opens the web-2 client's login page in a new browser.
	loginPage := func(t *testing.T) (http.CookieJar, url.Values) {
		t.Helper()
		v, _ := pkce.NewVerifier()
		q := authorizeQuery(v)
		q.Set("client_id", web2Client)
		jar, _ := cookiejar.New(nil)
		r := browserGet(t, ward.asURL+authz.PathAuthorize+"?"+q.Encode(), jar)
		f := wardtest.HiddenFields(r.body)
		if r.status != http.StatusOK || f.Get("csrf") == "" || f.Get("flow") == "" {
			t.Fatalf("login page: %d, hidden fields %v", r.status, f)
		}
		f.Set("username", userName)
		f.Set("password", userPass)
		return jar, f
	}
	// consentPage logs alice in in a new browser and returns the consent
	// form (web-2 never gets consent in this package).
	consentPage := func(t *testing.T) (http.CookieJar, url.Values) {
		t.Helper()
		jar, f := loginPage(t)
		r := browserPost(t, ward.asURL+authz.PathLogin, f, jar)
		c := wardtest.HiddenFields(r.body)
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="decision"`)) || c.Get("csrf") == "" {
			t.Fatalf("consent page: %d", r.status)
		}
		c.Set("decision", "allow")
		return jar, c
	}
	refused := func(t *testing.T, r *response) {
		t.Helper()
		if r.status != http.StatusForbidden {
			t.Errorf("got %d, want 403", r.status)
		}
		if loc := r.header.Get("Location"); loc != "" || bytes.Contains(r.body, []byte(`name="decision"`)) {
			t.Errorf("the form was accepted (Location %q)", loc)
		}
	}
	t.Run("control: login with its CSRF token", func(t *testing.T) {
		jar, f := loginPage(t)
		if r := browserPost(t, ward.asURL+authz.PathLogin, f, jar); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="decision"`)) {
			t.Fatalf("got %d, want the consent page", r.status)
		}
	})
	t.Run("login without the CSRF token", func(t *testing.T) {
		jar, f := loginPage(t)
		f.Del("csrf")
		refused(t, browserPost(t, ward.asURL+authz.PathLogin, f, jar))
	})
	t.Run("login with another browser's CSRF token", func(t *testing.T) {
		jar, f := loginPage(t)
		_, other := loginPage(t)
		f.Set("csrf", other.Get("csrf"))
		refused(t, browserPost(t, ward.asURL+authz.PathLogin, f, jar))
	})
	t.Run("control: consent with its CSRF token (deny)", func(t *testing.T) {
		jar, c := consentPage(t)
		c.Set("decision", "deny")
		r := browserPost(t, ward.asURL+authz.PathConsent, c, jar)
		if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.Contains(loc, "error=access_denied") {
			t.Fatalf("got %d %q, want a redirect with access_denied", r.status, loc)
		}
	})
	t.Run("consent without the CSRF token", func(t *testing.T) {
		jar, c := consentPage(t)
		c.Del("csrf")
		refused(t, browserPost(t, ward.asURL+authz.PathConsent, c, jar))
	})
	t.Run("consent with another browser's CSRF token", func(t *testing.T) {
		jar, c := consentPage(t)
		_, other := consentPage(t)
		c.Set("csrf", other.Get("csrf"))
		refused(t, browserPost(t, ward.asURL+authz.PathConsent, c, jar))
	})
}
