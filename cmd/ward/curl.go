package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/oauth"
)

func init() {
	register(command{name: "curl", summary: "call an API with a DPoP-bound token and a fresh proof (or a certificate-bound one over mTLS)", run: runCurl})
}

func runCurl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseCurl(args, stderr)
	if err != nil {
		return err
	}
	cr, err := f.credentials(ctx, stderr)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, f.token.timeout)
	defer cancel()
	req, err := f.request(rctx, cr, stderr)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: cr.rt, Timeout: f.token.timeout}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if f.include {
		printHead(stdout, resp)
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		explainRefusal(stderr, resp, cr.dpop, f.target)
	}
	if f.fail && resp.StatusCode >= 400 {
		return fmt.Errorf("%s %s: %s", f.method, f.target, resp.Status)
	}
	return nil
}

// curlFlags are the flags and argument of `ward curl`.
type curlFlags struct {
	token         tokenFlags
	method        string
	headers       multiFlag
	body          []byte
	hasBody       bool
	include, fail bool
	accessToken   string // --token
	target        string
}

func parseCurl(args []string, stderr io.Writer) (*curlFlags, error) {
	var f curlFlags
	fs := newFlagSet("curl", "curl [-X METHOD] [-H 'Name: value']... [-d DATA] [-i] [-f] [-v] [--token T (--key-file F | --cert F --key F) | token flags] URL", stderr)
	f.token.register(fs)
	fs.StringVar(&f.method, "X", "", "request method (default GET, or POST with -d)")
	fs.Var(&f.headers, "H", "request `header` 'Name: value'; repeatable")
	data := fs.String("d", "", "request body; @FILE reads a file, @- stdin (Content-Type defaults to application/x-www-form-urlencoded)")
	fs.BoolVar(&f.include, "i", false, "print the status line and response headers")
	fs.BoolVar(&f.fail, "f", false, "exit 1 on an HTTP status of 400 or more")
	fs.StringVar(&f.accessToken, "token", "", "use this access token (with --key-file holding the key it is bound to, or --cert and --key for a certificate-bound one) instead of obtaining one")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, errUsage
	}
	f.target = fs.Arg(0)
	if f.hasBody = isSet(fs, "d"); f.hasBody {
		var err error
		if f.body, err = readData(*data); err != nil {
			return nil, err
		}
	}
	if f.method == "" {
		f.method = http.MethodGet
		if f.hasBody {
			f.method = http.MethodPost
		}
	}
	return &f, nil
}

// readData reads -d's value: @- stdin, @FILE a file, else the value.
func readData(data string) ([]byte, error) {
	switch {
	case data == "@-":
		return io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
	case strings.HasPrefix(data, "@"):
		return os.ReadFile(data[1:])
	default:
		return []byte(data), nil
	}
}

// curlCredentials are what a request is sent with: the round tripper
// (the DPoP transport, or for a certificate-bound token the TLS one that
// presents the certificate), the Authorization scheme and the token.
type curlCredentials struct {
	rt     http.RoundTripper
	dpop   *client.Transport // nil for a certificate-bound token
	scheme string
	token  string
}

// credentials returns the credentials: --token with the key of
// --key-file (or the certificate of --cert), or a token obtained with the
// token flags.
func (f *curlFlags) credentials(ctx context.Context, stderr io.Writer) (*curlCredentials, error) {
	cr := &curlCredentials{scheme: oauth.TokenTypeDPoP, token: f.accessToken}
	if f.accessToken == "" {
		c, tok, err := f.token.obtain(ctx, stderr)
		if err != nil {
			return nil, err
		}
		cr.dpop, cr.token = c.Transport(), tok.AccessToken
	}
	if f.token.certBound() {
		// RFC 8705 §3: Bearer, over a connection presenting the certificate.
		hc, err := f.token.httpClient(stderr)
		if err != nil {
			return nil, err
		}
		cr.rt, cr.dpop, cr.scheme = hc.Transport, nil, oauth.TokenTypeBearer
		return cr, nil
	}
	if cr.dpop == nil {
		if f.token.keyFile == "" {
			fmt.Fprintln(stderr, "ward curl: --token needs --key-file with the key the token is bound to (or --cert and --key for a certificate-bound token)")
			return nil, errUsage
		}
		var err error
		if cr.dpop, err = f.dpopTransport(stderr); err != nil {
			return nil, err
		}
	}
	cr.rt = cr.dpop
	return cr, nil
}

// dpopTransport is a DPoP transport with the key of --key-file, over the
// HTTP client of the token flags (--cacert, -v).
func (f *curlFlags) dpopTransport(stderr io.Writer) (*client.Transport, error) {
	k, err := client.LoadKey(f.token.keyFile)
	if err != nil {
		return nil, err
	}
	hc, err := f.token.httpClient(stderr)
	if err != nil {
		return nil, err
	}
	return client.NewTransport(client.WithKey(k), client.WithHTTPClient(hc))
}

// request builds the request with its headers and the token.
func (f *curlFlags) request(ctx context.Context, cr *curlCredentials, stderr io.Writer) (*http.Request, error) {
	var rd io.Reader
	if f.hasBody {
		rd = strings.NewReader(string(f.body)) // replayable: GetBody is set
	}
	req, err := http.NewRequestWithContext(ctx, f.method, f.target, rd)
	if err != nil {
		return nil, err
	}
	if f.hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			fmt.Fprintf(stderr, "ward curl: -H %q: want 'Name: value'\n", h)
			return nil, errUsage
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	req.Header.Set("Authorization", cr.scheme+" "+cr.token)
	return req, nil
}

// printHead prints the status line and the headers, sorted (-i).
func printHead(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%s %s\n", resp.Proto, resp.Status)
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w)
}

// explainRefusal prints the challenges' errors of a 401 or 403 and the
// clock skew the transport corrected.
func explainRefusal(stderr io.Writer, resp *http.Response, tr *client.Transport, target string) {
	for _, c := range client.ParseChallenges(resp.Header.Values("WWW-Authenticate")) {
		if e := c.Params["error"]; e != "" {
			fmt.Fprintf(stderr, "ward: %s refused the request: %s %s: %s\n", c.Scheme, resp.Status, e, c.Params["error_description"])
		}
	}
	if tr == nil {
		return
	}
	if skew := tr.ClockSkew(target); skew != 0 {
		fmt.Fprintf(stderr, "ward: the server's clock differs from ours by %s (proofs were corrected)\n", skew.Round(time.Second))
	}
}

func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}
