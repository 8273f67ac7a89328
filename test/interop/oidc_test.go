package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/wardtest"
)

// userBrowser is the user's browser on Ward's pages, keeping its cookies
// (the login session at Ward) from one visit to the next.
type userBrowser struct {
	hc     *http.Client
	issuer *url.URL
	final  *url.URL
}

func newUserBrowser(issuer string) *userBrowser {
	jar, _ := cookiejar.New(nil)
	b := &userBrowser{}
	b.issuer, _ = url.Parse(issuer)
	b.hc = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != b.issuer.Host {
			b.final = req.URL // the relying party's redirect URI: not followed
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// visit opens u, logs in as alice when asked (sawLogin) and allows on
// the consent page, and returns where Ward sent the browser back to the
// relying party.
func (b *userBrowser) visit(u string) (final *url.URL, sawLogin bool, err error) {
	b.final = nil
	get := func(resp *http.Response, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	body, err := get(b.hc.Get(u))
	base := b.issuer.Scheme + "://" + b.issuer.Host
	for range 3 {
		if err != nil || b.final != nil {
			break
		}
		f := wardtest.HiddenFields(body)
		switch {
		case bytes.Contains(body, []byte(`name="password"`)):
			sawLogin = true
			f.Set("username", testUser)
			f.Set("password", testPassword)
			body, err = get(b.hc.PostForm(base+authz.PathLogin, f))
		case bytes.Contains(body, []byte(`name="decision"`)):
			f.Set("decision", "allow")
			body, err = get(b.hc.PostForm(base+authz.PathConsent, f))
		default:
			err = fmt.Errorf("browser: unexpected page: %.300s", body)
		}
	}
	if err == nil && b.final == nil {
		err = fmt.Errorf("browser: no redirect back; last page %.300s", body)
	}
	return b.final, sawLogin, err
}

// rpResult is oidc-rp.mjs's answer to callback.
type rpResult struct {
	Error  *npmError `json:"error"`
	Result *struct {
		TokenType string         `json:"token_type"`
		IDToken   string         `json:"id_token"`
		Claims    map[string]any `json:"claims"`
		AtHashOK  bool           `json:"at_hash_ok"`
		SentNonce string         `json:"sent_nonce"`
	} `json:"result"`
}

type rp struct {
	t  *testing.T
	sc *script
}

func (r *rp) authorize(params map[string]any) (authURL, state string) {
	r.t.Helper()
	b, _ := json.Marshal(map[string]any{"cmd": "authorize", "params": params})
	r.sc.send(string(b))
	var out struct {
		Authorize, State string
		Error            *npmError
	}
	r.sc.next(&out)
	if out.Error != nil {
		r.t.Fatalf("authorize: %+v", *out.Error)
	}
	return out.Authorize, out.State
}

func (r *rp) callback(u *url.URL, maxAge *int) rpResult {
	r.t.Helper()
	m := map[string]any{"cmd": "callback", "url": u.String()}
	if maxAge != nil {
		m["max_age"] = *maxAge
	}
	b, _ := json.Marshal(m)
	r.sc.send(string(b))
	var res rpResult
	r.sc.next(&res)
	return res
}

// TestOpenIDClientOIDC: openid-client in OpenID Connect mode is the
// relying party: discovery, code + PKCE + DPoP with openid profile email,
// the ID token validated by the library (signature, iss, aud, azp, exp,
// iat, nonce; auth_time against max_age) and its at_hash by the script,
// UserInfo with DPoP, prompt=none with and without a session at Ward,
// max_age=0 forcing a new login, and RP-initiated logout ending the
// session at Ward. Ward runs as `ward serve` does (serveWard), with the
// client and the user declared in its configuration.
func TestOpenIDClientOIDC(t *testing.T) {
	node := needNode(t, "openid-client", "jose")
	w := serveWard(t)
	r := &rp{t: t, sc: startScript(t, node, "oidc-rp.mjs", w.issuer, rpClient, w.secret, rpCallback)}
	user := newUserBrowser(w.issuer)

	// 1. The login: a password, consent, an ID token.
	authURL, _ := r.authorize(nil)
	final, sawLogin, err := user.visit(authURL)
	if err != nil || !sawLogin {
		t.Fatalf("first login: %v (login page shown: %v)", err, sawLogin)
	}
	first := r.callback(final, nil)
	if first.Error != nil {
		t.Fatalf("openid-client refused the code response: %+v", *first.Error)
	}
	c := first.Result.Claims
	if c["sub"] != testSubject || c["aud"] != rpClient || c["azp"] != rpClient || c["iss"] != w.issuer ||
		c["nonce"] != first.Result.SentNonce || c["auth_time"] == nil || c["sid"] == nil || !strings.EqualFold(first.Result.TokenType, "DPoP") {
		t.Fatalf("ID token claims %v (token_type %s)", c, first.Result.TokenType)
	}
	if !first.Result.AtHashOK {
		t.Fatalf("at_hash %v does not match the access token", c["at_hash"])
	}
	hdr, _ := decodeJWT(t, first.Result.IDToken)
	if hdr["typ"] == "at+jwt" || hdr["alg"] != "ES256" {
		t.Fatalf("ID token header %v", hdr)
	}

	t.Run("userinfo with DPoP", func(t *testing.T) {
		r.sc.send(`{"cmd":"userinfo"}`)
		var out struct {
			UserInfo map[string]any `json:"userinfo"`
			Error    *npmError      `json:"error"`
		}
		r.sc.next(&out)
		if out.Error != nil || out.UserInfo["sub"] != testSubject || out.UserInfo["name"] != "Alice Martin" || out.UserInfo["email"] != "alice@example.com" {
			t.Fatalf("userinfo %v, error %+v", out.UserInfo, out.Error)
		}
	})

	t.Run("prompt=none with a session", func(t *testing.T) {
		authURL, _ := r.authorize(map[string]any{"prompt": "none"})
		final, sawLogin, err := user.visit(authURL)
		if err != nil || sawLogin {
			t.Fatalf("%v (login page shown: %v)", err, sawLogin)
		}
		res := r.callback(final, nil)
		if res.Error != nil || res.Result.Claims["sub"] != testSubject {
			t.Fatalf("%+v %+v", res.Error, res.Result)
		}
	})

	t.Run("prompt=none without a session", func(t *testing.T) {
		authURL, state := r.authorize(map[string]any{"prompt": "none"})
		final, sawLogin, err := newUserBrowser(w.issuer).visit(authURL)
		if err != nil || sawLogin {
			t.Fatalf("%v (login page shown: %v)", err, sawLogin)
		}
		if q := final.Query(); q.Get("error") != "login_required" || q.Get("iss") != w.issuer || q.Get("state") != state {
			t.Fatalf("redirect %s: want error=login_required with iss and state (OIDC Core §3.1.2.6)", final)
		}
		if res := r.callback(final, nil); res.Error == nil || res.Error.Error != "login_required" {
			t.Fatalf("openid-client: %+v", res)
		}
	})

	t.Run("max_age=0 forces a login", func(t *testing.T) {
		authURL, _ := r.authorize(map[string]any{"max_age": "0"})
		final, sawLogin, err := user.visit(authURL)
		if err != nil || !sawLogin {
			t.Fatalf("%v (login page shown: %v)", err, sawLogin)
		}
		zero := 0
		res := r.callback(final, &zero)
		if res.Error != nil {
			t.Fatalf("openid-client refused the response to max_age=0: %+v", *res.Error)
		}
		if at, _ := res.Result.Claims["auth_time"].(float64); int64(at) < int64(c["auth_time"].(float64)) {
			t.Fatalf("auth_time %v went back from %v", at, c["auth_time"])
		}
	})

	t.Run("RP-initiated logout", func(t *testing.T) {
		r.sc.send(`{"cmd":"logout","params":{"post_logout_redirect_uri":"` + rpLogout + `","state":"bye-1"}}`)
		var out struct {
			EndSession string `json:"end_session"`
		}
		r.sc.next(&out)
		es, _ := url.Parse(out.EndSession)
		if es.Scheme+"://"+es.Host != w.issuer || es.Query().Get("id_token_hint") == "" {
			t.Fatalf("end session URL %s", out.EndSession)
		}
		resp, err := user.hc.Get(out.EndSession)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if user.final == nil || user.final.String() != rpLogout+"?state=bye-1" {
			t.Fatalf("end_session answered %d, redirect %v; want %s?state=bye-1", resp.StatusCode, user.final, rpLogout)
		}
		// The session at Ward is gone: prompt=none cannot log in.
		authURL, _ := r.authorize(map[string]any{"prompt": "none"})
		final, _, err := user.visit(authURL)
		if err != nil || final.Query().Get("error") != "login_required" {
			t.Fatalf("after logout, prompt=none: %v %v", final, err)
		}
	})
}
