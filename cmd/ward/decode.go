package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wardauth/ward/internal/inspect"
)

func init() {
	register(command{name: "decode", summary: "show a token or DPoP proof and what a verifier would refuse", run: runDecode})
}

// errRefused makes decode exit 1 after printing its findings.
var errRefused = errors.New("a verifier would refuse it")

func runDecode(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("decode", "decode [--method M --url U] TOKEN_OR_PROOF [PROOF]   (- reads stdin)", stderr)
	c := inspect.Checker{Now: time.Now()}
	fs.StringVar(&c.Method, "method", "", "for a proof: the request method it must match (htm)")
	fs.StringVar(&c.URL, "url", "", "for a proof: the request URL it must match (htu)")
	fs.DurationVar(&c.MaxAge, "max-age", 60*time.Second, "for a proof: how old iat may be (Ward's dpop.iat_max_age)")
	fs.DurationVar(&c.Leeway, "leeway", 5*time.Second, "clock leeway for iat in the future, exp and nbf")
	at := fs.Int64("now", 0, "judge times as of this Unix time (default: now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return errUsage
	}
	if *at != 0 {
		c.Now = time.Unix(*at, 0)
	}
	in, err := readDecodeArgs(fs.Args())
	if err != nil {
		return err
	}
	tokens := make([]*inspect.JWS, len(in))
	for i, s := range in {
		if tokens[i], err = inspect.Parse(s); err != nil {
			fmt.Fprintf(stderr, "ward decode: %v\n", err)
			return errUsage
		}
	}
	if !printFindings(stdout, &c, in, tokens) {
		return errRefused
	}
	return nil
}

// readDecodeArgs returns the arguments, "-" read from stdin, without a
// "DPoP " prefix.
func readDecodeArgs(args []string) ([]string, error) {
	in := make([]string, len(args))
	for i, a := range args {
		if a == "-" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return nil, err
			}
			a = line
		}
		in[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a), "DPoP "))
	}
	return in, nil
}

// printFindings prints each token and its checks, and says whether every
// check passed. A token and its proof, in either order: the proof's ath
// and key must match the token.
func printFindings(stdout io.Writer, c *inspect.Checker, in []string, tokens []*inspect.JWS) bool {
	var access, jkt string
	if len(tokens) == 2 {
		if !tokens[1].IsProof() && tokens[0].IsProof() {
			tokens[0], tokens[1] = tokens[1], tokens[0]
			in[0], in[1] = in[1], in[0]
		}
		access, jkt = in[0], tokens[0].BoundKey()
	}
	passed := true
	for i, j := range tokens {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		var fs []inspect.Finding
		if j.IsProof() {
			fmt.Fprint(stdout, "DPoP proof (RFC 9449)")
			if j.Typ() != "dpop+jwt" {
				fmt.Fprint(stdout, ", recognised by its shape (jwk in the header, htm/htu claims) although its typ is wrong")
			}
			fmt.Fprintln(stdout)
			fs = c.Proof(j, in[i], access, jkt)
		} else {
			fmt.Fprintln(stdout, "Access token (RFC 9068 JWT)")
			fs = c.Token(j)
		}
		fs = append(j.StrictFindings(), fs...)
		j.Print(stdout, c.Now)
		fmt.Fprintln(stdout, "checks:")
		for _, f := range fs {
			mark := "ok     "
			if !f.OK {
				mark, passed = "REFUSED", false
			}
			fmt.Fprintf(stdout, "  %s %s\n", mark, f.Text)
		}
	}
	return passed
}
