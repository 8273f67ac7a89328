package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/dpop"
)

// recorder is the base transport under the SDK's DPoP Transport: it keeps
// every request as it leaves, proof included.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) to(prefix string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, q := range r.reqs {
		if strings.HasPrefix(q.URL.String(), prefix) {
			out = append(out, q)
		}
	}
	return out
}

// rsAnswer is the node resource server's JSON body.
type rsAnswer struct {
	Sub      string `json:"sub"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	JKT      string `json:"jkt"`
	Error    string `json:"error"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Cause    string `json:"cause"`
}

// send makes one raw request to the resource server.
func send(t *testing.T, method, u, authorization, proof string) (int, rsAnswer) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a rsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, a
}

// TestOAuth4WebAPIValidatesWardTokens: a resource server built on
// oauth4webapi's validateJwtAccessToken (requireDPoP) accepts a request
// made by Ward's Go SDK with a token from Ward's authorization server —
// after a use_dpop_nonce round that the SDK's Transport handles — and
// refuses the same request replayed and every tampered variant, each for
// the reason RFC 9068 / RFC 9449 give.
func TestOAuth4WebAPIValidatesWardTokens(t *testing.T) {
	node := needNode(t, "oauth4webapi", "jose")
	w := newWard(t)
	rs := startScript(t, node, "resource-server.mjs", w.issuer, rsAudience)
	var start struct {
		URL   string `json:"url"`
		Nonce string `json:"nonce"`
	}
	rs.next(&start)
	api := start.URL + "/api/hello"

	rec := &recorder{}
	ctx := context.Background()
	c, err := client.Discover(ctx, w.issuer, svcClient,
		client.WithClientSecret(w.secrets[svcClient], client.AuthStyleBasic),
		client.WithScopes("read"),
		client.WithHTTPClient(&http.Client{Transport: rec, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ts := c.ClientCredentialsTokenSource()
	resp, err := c.HTTPClient(ts).Get(api)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("oauth4webapi refused the SDK's request: %d %s", resp.StatusCode, b)
	}
	var ok rsAnswer
	if err := json.Unmarshal(b, &ok); err != nil {
		t.Fatal(err)
	}
	if ok.ClientID != svcClient || ok.Sub != svcClient || ok.JKT != c.Thumbprint() || ok.Scope != "read" {
		t.Fatalf("validated claims %+v: want client %s, jkt %s, scope read", ok, svcClient, c.Thumbprint())
	}
	sent := rec.to(start.URL)
	if len(sent) != 2 || sent[0].Header.Get("DPoP") == sent[1].Header.Get("DPoP") {
		t.Fatalf("%d requests to the resource server, want 2 with different proofs (use_dpop_nonce, then the retry)", len(sent))
	}
	if got := c.Transport().Nonce(api); got != start.Nonce {
		t.Errorf("the SDK remembers nonce %q for the resource server, want %q", got, start.Nonce)
	}

	good := sent[1]
	authorization, proof := good.Header.Get("Authorization"), good.Header.Get("DPoP")
	tok, _ := strings.CutPrefix(authorization, "DPoP ")

	// Proofs made here with the SDK's key (or another one), for tampering.
	signer := func(key *ecdsa.PrivateKey, skew time.Duration) *dpop.Signer {
		var k = c.Key()
		if key != nil {
			k = key
		}
		sg, err := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return time.Now().Add(skew) }))
		if err != nil {
			t.Fatal(err)
		}
		return sg
	}
	mint := func(sg *dpop.Signer, method, u, boundTo string) string {
		p, err := sg.Proof(method, u, dpop.WithNonce(start.Nonce), dpop.WithAccessToken(boundTo))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// tamperPayload re-encodes a JWS payload with one claim changed and
	// keeps the signature.
	tamperPayload := func(jws, claim string, v any) string {
		parts := strings.Split(jws, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var m map[string]any
		json.Unmarshal(raw, &m)
		m[claim] = v
		raw, _ = json.Marshal(m)
		parts[1] = base64.RawURLEncoding.EncodeToString(raw)
		return strings.Join(parts, ".")
	}

	for _, tc := range []struct {
		name          string
		authorization string
		proof         func() string
		status        int
		want          string // substring of message, cause or error
	}{
		{"control: fresh proof", "DPoP " + tok, func() string { return mint(signer(nil, 0), "GET", api, tok) }, 200, ""},
		{"replayed request", authorization, func() string { return proof }, 401, "replayed proof"},
		{"proof payload changed, signature kept", "DPoP " + tok, func() string {
			return tamperPayload(mint(signer(nil, 0), "GET", api, tok), "jti", "forged")
		}, 401, "signature"},
		{"proof for another URL", "DPoP " + tok, func() string { return mint(signer(nil, 0), "GET", start.URL+"/api/other", tok) }, 401, "htu mismatch"},
		{"proof for another method", "DPoP " + tok, func() string { return mint(signer(nil, 0), "POST", api, tok) }, 401, "htm mismatch"},
		{"proof bound to another token", "DPoP " + tok, func() string { return mint(signer(nil, 0), "GET", api, tok+"x") }, 401, "ath mismatch"},
		{"proof by another key (stolen token)", "DPoP " + tok, func() string { return mint(signer(other, 0), "GET", api, tok) }, 401, "confirmation mismatch"},
		{"proof ten minutes old", "DPoP " + tok, func() string { return mint(signer(nil, -10*time.Minute), "GET", api, tok) }, 401, "iat is not recent enough"},
		{"token payload changed (scope widened)", "DPoP " + tamperPayload(tok, "scope", "read write"), func() string {
			return mint(signer(nil, 0), "GET", api, tamperPayload(tok, "scope", "read write"))
		}, 401, "signature"},
		{"DPoP token sent as Bearer", "Bearer " + tok, func() string { return mint(signer(nil, 0), "GET", api, tok) }, 401, "scheme is not DPoP"},
		{"no proof", "DPoP " + tok, func() string { return "" }, 401, "no DPoP HTTP Header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a := send(t, http.MethodGet, api, tc.authorization, tc.proof())
			if status != tc.status {
				t.Fatalf("status %d (%+v), want %d", status, a, tc.status)
			}
			if tc.want != "" && !strings.Contains(a.Message+" | "+a.Cause+" | "+a.Error, tc.want) {
				t.Fatalf("refused with %+v, want %q", a, tc.want)
			}
		})
	}
}
