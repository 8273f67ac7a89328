package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/wardauth/ward/client"
)

// A service obtains DPoP-bound tokens with client credentials and calls an
// API; proofs, nonces and renewal are the SDK's work.
func ExampleClient_ClientCredentialsTokenSource() {
	ctx := context.Background()
	c, err := client.Discover(ctx, "http://127.0.0.1:9000", "demo-service",
		client.WithClientSecret(os.Getenv("WARD_CLIENT_SECRET"), client.AuthStyleBasic),
		client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
	)
	if err != nil {
		log.Fatal(err)
	}
	api := c.HTTPClient(c.ClientCredentialsTokenSource())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:9001/demo/whoami", nil)
	resp, err := api.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
}

// A command-line tool signs the user in through the browser (RFC 8252) with
// a key kept in a file, then uses and refreshes the token.
func ExampleClient_AuthorizeLoopback() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	key, err := client.LoadOrCreateKey(os.ExpandEnv("$HOME/.config/mytool/dpop.pem"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.Discover(ctx, "http://127.0.0.1:9000", "demo-cli", client.WithKey(key), client.WithScopes("read"))
	if err != nil {
		log.Fatal(err)
	}
	tok, err := c.AuthorizeLoopback(ctx)
	if err != nil {
		log.Fatal(err)
	}
	ts := c.TokenSource(tok) // refreshes with rotation before expiry
	_ = c.HTTPClient(ts)
}

// The Transport alone adds a proof to each request.
func ExampleNewTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "DPoP header present: %v\n", r.Header.Get("DPoP") != "")
	}))
	defer api.Close()
	tr, err := client.NewTransport()
	if err != nil {
		log.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	// Output: DPoP header present: true
}

func ExampleParseChallenges() {
	h := http.Header{}
	h.Add("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
	for _, c := range client.ParseChallenges(h.Values("WWW-Authenticate")) {
		fmt.Println(c.Scheme, c.Params["error"])
	}
	// Output: DPoP use_dpop_nonce
}

// A relying party verifies an ID token it received by another way than
// ExchangeRedirect (which verifies it already), with the nonce it sent
// and the access token that came with it.
func ExampleIDTokenVerifier() {
	ctx := context.Background()
	keys := client.NewRemoteKeySet("https://ward.example/jwks", &http.Client{Timeout: 10 * time.Second})
	v := client.NewIDTokenVerifier("https://ward.example", "my-app", keys)
	idt, err := v.Verify(ctx, os.Getenv("ID_TOKEN"), client.Expect{Nonce: os.Getenv("NONCE"), AccessToken: os.Getenv("ACCESS_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(idt.Subject, idt.Name, idt.AuthTime)
}

// A web app that receives its redirects on its own handler verifies a
// JWT-secured authorization response (JARM) before using its code: the
// response parameter's JWT, then state as for a plain response.
func ExampleJARMVerifier() {
	ctx := context.Background()
	keys := client.NewRemoteKeySet("https://ward.example/jwks", &http.Client{Timeout: 10 * time.Second})
	v := client.NewJARMVerifier("https://ward.example", "my-app", keys, client.WithIDTokenAlgs("ES256"))
	q, err := v.Verify(ctx, os.Getenv("RESPONSE"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(q.Get("code") != "", q.Get("state"), q.Get("error"))
}
