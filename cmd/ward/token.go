package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/internal/inspect"
	"github.com/wardauth/ward/oauth"
)

// openBrowser opens the authorization URL; tests replace it.
var openBrowser = client.OpenBrowser

// tokenFlags are the flags of every command that obtains a token.
type tokenFlags struct {
	issuer    string
	clientID  string
	secret    string
	authCode  bool
	scope     string
	resources multiFlag
	keyFile   string
	dev       bool
	data      string
	noBrowser bool
	jarm      bool
	timeout   time.Duration
	// RFC 8705: a client certificate (certificate-bound tokens) and the
	// CA to trust for https.
	cert, certKey, cacert string
	verbose               bool
}

// certBound says whether the token is to be bound to the client
// certificate of --cert instead of a DPoP key.
func (f *tokenFlags) certBound() bool { return f.cert != "" }

// httpClient is the HTTP client of every request: TLS with --cert and
// --cacert, traced on stderr with -v.
func (f *tokenFlags) httpClient(stderr io.Writer) (*http.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if f.cert != "" || f.certKey != "" || f.cacert != "" {
		tc, err := client.TLSConfig(f.cert, f.certKey, f.cacert)
		if err != nil {
			return nil, err
		}
		base.TLSClientConfig = tc
	}
	var rt http.RoundTripper = base
	if f.verbose {
		rt = &inspect.Trace{Base: base, W: stderr}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: rt}, nil
}

func (f *tokenFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.issuer, "issuer", "", "authorization server issuer URL (default http://127.0.0.1:9000, or the dev server's)")
	fs.StringVar(&f.clientID, "client-id", "", "client ID")
	fs.StringVar(&f.secret, "client-secret", "", "client secret for client credentials (default $WARD_CLIENT_SECRET; prefer the variable: flags show in ps)")
	fs.BoolVar(&f.authCode, "authorization-code", false, "sign in through the browser (authorization code + PKCE + PAR, loopback redirect) as a public client")
	fs.StringVar(&f.scope, "scope", "", "space-separated scopes to request")
	fs.Var(&f.resources, "resource", "resource indicator (RFC 8707) `URI` to request; repeatable")
	fs.StringVar(&f.keyFile, "key-file", "", "keep the DPoP key in this file (created 0600 if absent); default: a new key in memory")
	fs.BoolVar(&f.dev, "dev", false, "use the clients of the dev server (ward serve --dev), read from <data>/dev-credentials.json")
	fs.StringVar(&f.data, "data", "./ward-data", "data folder of the dev server, for --dev")
	fs.BoolVar(&f.noBrowser, "no-browser", false, "with --authorization-code: print the URL instead of opening a browser")
	fs.BoolVar(&f.jarm, "jarm", false, "with --authorization-code: ask for a signed authorization response (JARM, response_mode=jwt) and verify it before using the code")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up after this long (the browser sign-in included)")
	fs.StringVar(&f.cert, "cert", "", "client certificate (PEM) presented over TLS: the token is bound to it (RFC 8705, cnf.x5t#S256) instead of a DPoP key, and it authenticates a tls_client_auth client")
	fs.StringVar(&f.certKey, "key", "", "private key (PEM) of --cert")
	fs.StringVar(&f.cacert, "cacert", "", "CA certificates (PEM) to trust for https instead of the system's (for example pki/ca/ca.pem of ward certs)")
	fs.BoolVar(&f.verbose, "v", false, "show each request on stderr: its DPoP proof decoded, the nonce round trips, the server's challenge")
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// applyDev fills the unset flags from the dev server's credentials.
func (f *tokenFlags) applyDev() error {
	if !f.dev {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(f.data, "dev-credentials.json"))
	if err != nil {
		return fmt.Errorf("--dev: %w (start `ward serve --dev` first, or give --data)", err)
	}
	var c devCredentials
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("--dev: %w", err)
	}
	if f.issuer == "" {
		f.issuer = c.Issuer
	}
	if f.clientID == "" {
		if f.authCode {
			f.clientID = c.Public.ClientID
			if f.scope == "" {
				f.scope = c.Public.Scope
			}
		} else {
			f.clientID = c.Service.ClientID
			if f.secret == "" {
				f.secret = c.Service.ClientSecret
			}
			if f.scope == "" {
				f.scope = c.Service.Scope
			}
		}
	}
	return nil
}

// obtain returns a DPoP-bound token and the client holding its key.
func (f *tokenFlags) obtain(ctx context.Context, stderr io.Writer) (*client.Client, *oauth2.Token, error) {
	if err := f.complete(stderr); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	opts, err := f.clientOptions(stderr)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.Discover(ctx, f.issuer, f.clientID, opts...)
	if err != nil {
		return nil, nil, err
	}
	var tok *oauth2.Token
	if f.authCode {
		tok, err = c.AuthorizeLoopback(ctx)
	} else {
		tok, err = c.ClientCredentials(ctx)
	}
	if err != nil {
		return nil, nil, f.explainTimeout(ctx, explain(err))
	}
	return c, tok, nil
}

// errTimeout is --timeout running out while obtaining a token.
var errTimeout = errors.New("--timeout ran out")

// explainTimeout turns the deadline of --timeout into what ran out and
// what to do; a cancelled parent (Ctrl-C) or another error stays as is.
func (f *tokenFlags) explainTimeout(ctx context.Context, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	if f.authCode {
		return fmt.Errorf("%w (%s) before the browser sign-in finished: sign in and consent at the URL printed above within that time, or give a longer --timeout (for example --timeout 10m)", errTimeout, f.timeout)
	}
	return fmt.Errorf("%w (%s) waiting for the authorization server at %s: check that it is running and reachable, or give a longer --timeout", errTimeout, f.timeout, f.issuer)
}

// complete fills the defaults (--dev, the issuer, WARD_CLIENT_SECRET) and
// refuses a client without an id, or without a secret for client
// credentials.
func (f *tokenFlags) complete(stderr io.Writer) error {
	if err := f.applyDev(); err != nil {
		return err
	}
	if f.issuer == "" {
		f.issuer = "http://127.0.0.1:9000"
	}
	if f.clientID == "" {
		fmt.Fprintln(stderr, "ward: give --client-id (or --dev for the dev server's clients)")
		return errUsage
	}
	if f.secret == "" && !f.authCode {
		f.secret = os.Getenv("WARD_CLIENT_SECRET")
	}
	if f.secret == "" && !f.authCode && !f.certBound() {
		fmt.Fprintln(stderr, "ward: client credentials need a secret: set WARD_CLIENT_SECRET or --client-secret, --cert for a tls_client_auth client, or --authorization-code for a public client")
		return errUsage
	}
	if (f.cert == "") != (f.certKey == "") {
		fmt.Fprintln(stderr, "ward: --cert and --key go together")
		return errUsage
	}
	return nil
}

// clientOptions are the SDK's options for the flags: scopes, resources,
// the DPoP key, and the secret or the browser sign-in.
func (f *tokenFlags) clientOptions(stderr io.Writer) ([]client.Option, error) {
	hc, err := f.httpClient(stderr)
	if err != nil {
		return nil, err
	}
	opts := []client.Option{client.WithHTTPClient(hc)}
	if f.certBound() {
		opts = append(opts, client.WithCertificateBinding())
	}
	if f.scope != "" {
		opts = append(opts, client.WithScopes(strings.Fields(f.scope)...))
	}
	if len(f.resources) > 0 {
		opts = append(opts, client.WithResource(f.resources...))
	}
	if f.keyFile != "" {
		k, err := client.LoadOrCreateKey(f.keyFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithKey(k))
	}
	if !f.authCode {
		if f.secret == "" { // --cert: the certificate authenticates
			return opts, nil
		}
		return append(opts, client.WithClientSecret(f.secret, client.AuthStyleBasic)), nil
	}
	if f.jarm {
		opts = append(opts, client.WithJARM())
	}
	return append(opts, client.WithBrowser(func(u string) error {
		fmt.Fprintf(stderr, "ward: sign in at\n\n  %s\n\n", u)
		if f.noBrowser {
			return nil
		}
		if err := openBrowser(u); err != nil {
			fmt.Fprintf(stderr, "ward: cannot open a browser (%v); open the URL above\n", err)
		}
		return nil
	})), nil
}

// explain adds a hint to the errors people meet most.
func explain(err error) error {
	var re *client.RetrieveError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		case oauth.InvalidClient:
			return fmt.Errorf("%w\nhint: check --client-id and the secret (WARD_CLIENT_SECRET)", err)
		case oauth.InvalidDPoPProof:
			return fmt.Errorf("%w\nhint: the server refused the DPoP proof; `ward decode` on a proof shows what a verifier checks; is this machine's clock right?", err)
		case oauth.UnauthorizedClient:
			return fmt.Errorf("%w\nhint: this client may not use this grant; public clients use --authorization-code", err)
		}
	}
	return err
}

func init() {
	register(command{name: "token", summary: "obtain an access token bound to a DPoP key (or a client certificate) and print it", run: runToken})
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "token [--dev | --issuer URL --client-id ID] [--authorization-code] [--scope S] [--key-file F | --cert F --key F] [--cacert F] [-v] [--show-key]", stderr)
	var f tokenFlags
	f.register(fs)
	showKey := fs.Bool("show-key", false, "also print the thumbprint (cnf.jkt) of the key the token is bound to, on stderr")
	showJSON := fs.Bool("json", false, "print the whole token response as JSON instead of the access token")
	oidc := registerOpenID(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if err := oidc.prepare(&f, stderr); err != nil {
		return err
	}
	c, tok, err := f.obtain(ctx, stderr)
	if err != nil {
		return err
	}
	if oidc.on {
		return oidc.print(ctx, c, tok, stdout)
	}
	if *showJSON {
		out := map[string]any{
			"access_token": tok.AccessToken, "token_type": tok.TokenType, "expires_in": tok.ExpiresIn,
		}
		if !f.certBound() {
			out["jkt"] = c.Thumbprint()
		}
		if tok.RefreshToken != "" {
			out["refresh_token"] = tok.RefreshToken
		}
		if s, ok := tok.Extra("scope").(string); ok {
			out["scope"] = s
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintln(stdout, tok.AccessToken)
	if f.certBound() {
		if *showKey {
			fmt.Fprintf(stderr, "ward: token bound to the certificate of %s (send it as Bearer over TLS with that certificate: ward curl --cert)\n", f.cert)
		}
		return nil
	}
	if *showKey {
		fmt.Fprintf(stderr, "ward: token bound to key jkt=%s\n", c.Thumbprint())
	}
	if f.keyFile == "" {
		fmt.Fprintln(stderr, "ward: the DPoP key lived in memory only, so this token is useless for requests; use --key-file to keep the key, or `ward curl`")
	}
	return nil
}
