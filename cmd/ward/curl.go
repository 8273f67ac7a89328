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
)

func init() {
	register(command{name: "curl", summary: "call an API with a DPoP-bound token and a fresh proof", run: runCurl})
}

func runCurl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("curl", "curl [-X METHOD] [-H 'Name: value']... [-d DATA] [-i] [-f] [--token T --key-file F | token flags] URL", stderr)
	var f tokenFlags
	f.register(fs)
	method := fs.String("X", "", "request method (default GET, or POST with -d)")
	var headers multiFlag
	fs.Var(&headers, "H", "request header 'Name: value'; repeatable")
	data := fs.String("d", "", "request body; @FILE reads a file, @- stdin (Content-Type defaults to application/x-www-form-urlencoded)")
	include := fs.Bool("i", false, "print the status line and response headers")
	failFlag := fs.Bool("f", false, "exit 1 on an HTTP status of 400 or more")
	token := fs.String("token", "", "use this access token (with --key-file holding the key it is bound to) instead of obtaining one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	target := fs.Arg(0)

	var body []byte
	hasBody := isSet(fs, "d")
	if hasBody {
		var err error
		switch {
		case *data == "@-":
			body, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
		case strings.HasPrefix(*data, "@"):
			body, err = os.ReadFile((*data)[1:])
		default:
			body = []byte(*data)
		}
		if err != nil {
			return err
		}
	}
	m := *method
	if m == "" {
		m = http.MethodGet
		if hasBody {
			m = http.MethodPost
		}
	}

	var tr *client.Transport
	var access string
	if *token != "" {
		if f.keyFile == "" {
			fmt.Fprintln(stderr, "ward curl: --token needs --key-file with the key the token is bound to")
			return errUsage
		}
		k, err := client.LoadKey(f.keyFile)
		if err != nil {
			return err
		}
		if tr, err = client.NewTransport(client.WithKey(k)); err != nil {
			return err
		}
		access = *token
	} else {
		c, tok, err := f.obtain(ctx, stderr)
		if err != nil {
			return err
		}
		tr, access = c.Transport(), tok.AccessToken
	}

	rctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var rd io.Reader
	if hasBody {
		rd = strings.NewReader(string(body)) // replayable: GetBody is set
	}
	req, err := http.NewRequestWithContext(rctx, m, target, rd)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			fmt.Fprintf(stderr, "ward curl: -H %q: want 'Name: value'\n", h)
			return errUsage
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	req.Header.Set("Authorization", "DPoP "+access)
	hc := &http.Client{Transport: tr, Timeout: f.timeout}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if *include {
		fmt.Fprintf(stdout, "%s %s\n", resp.Proto, resp.Status)
		names := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(stdout, "%s: %s\n", k, v)
			}
		}
		fmt.Fprintln(stdout)
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		for _, c := range client.ParseChallenges(resp.Header.Values("WWW-Authenticate")) {
			if e := c.Params["error"]; e != "" {
				fmt.Fprintf(stderr, "ward: %s refused the request: %s %s: %s\n", c.Scheme, resp.Status, e, c.Params["error_description"])
			}
		}
		if skew := tr.ClockSkew(target); skew != 0 {
			fmt.Fprintf(stderr, "ward: the server's clock differs from ours by %s (proofs were corrected)\n", skew.Round(time.Second))
		}
	}
	if *failFlag && resp.StatusCode >= 400 {
		return fmt.Errorf("%s %s: %s", m, target, resp.Status)
	}
	return nil
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
