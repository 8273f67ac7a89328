package main

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
)

// subcommands are the second words of the commands that take one.
var subcommands = map[string][]string{
	"client": {"create", "list", "show", "delete"},
	"user":   {"create", "set-password", "delete", "list"},
	"keys":   {"list", "rotate"},
	"certs":  {"ca", "server", "client"},
}

// flagLineRE is a flag's first help line as flag.PrintDefaults writes it:
// two spaces, the name and at most one word naming its value. A usage
// with backquotes (flag.UnquoteUsage) turns the quoted words into that
// "value name" and leaves a line such as "-dev ward serve --dev".
var flagLineRE = regexp.MustCompile(`^  -[A-Za-z][\w-]*( [A-Za-z]+)?$`)

// checkCLIOutput fails on output a person should never see: Go's
// formatting errors (%!v(MISSING), %!(EXTRA …)) anywhere, and flag help
// lines broken by backquotes in a usage string.
func checkCLIOutput(t *testing.T, args []string, out string) {
	t.Helper()
	if i := strings.Index(out, "%!"); i >= 0 {
		t.Errorf("ward %s: formatting error in the output at %q:\n%s", strings.Join(args, " "), out[i:min(len(out), i+60)], out)
	}
	for _, line := range strings.Split(out, "\n") {
		head, _, _ := strings.Cut(line, "\t")
		if strings.HasPrefix(head, "  -") && (!flagLineRE.MatchString(head) || strings.HasSuffix(head, " value")) {
			t.Errorf("ward %s: broken flag help line %q (a Var flag needs a `name` in its usage)", strings.Join(args, " "), line)
		}
	}
}

// TestCLIOutputClean runs every command path that needs no server —
// help for each command and subcommand, usage errors, decode of each
// kind of token and proof, version — and checks each output with
// checkCLIOutput (runCLI checks the other tests' runs the same way).
func TestCLIOutputClean(t *testing.T) {
	var runs [][]string
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		runs = append(runs, []string{n, "-h"}, []string{"help", n}, []string{n, "--no-such-flag"})
		for _, sub := range subcommands[n] {
			runs = append(runs, []string{n, sub, "-h"}, []string{n, sub, "--no-such-flag"})
		}
	}
	runs = append(runs, nil, []string{"nope"}, []string{"version"}, []string{"decode"}, []string{"decode", "a.b"})
	for _, tok := range decodeSamples(t) {
		runs = append(runs, []string{"decode", "--now", strconv.FormatInt(tok.now, 10), tok.s}, []string{"decode", "--method", "GET", "--url", "https://other.example/", tok.s})
	}
	for _, args := range runs {
		if len(args) > 0 && (args[0] == "serve" || args[0] == "bff") && len(args) == 1 {
			continue // would start a server
		}
		code, out, errs := runCLI(t, args...)
		if code < 0 || code > 2 {
			t.Errorf("ward %v: exit %d", args, code)
		}
		checkCLIOutput(t, args, out+errs)
	}
}

type decodeSample struct {
	s   string
	now int64
}

// decodeSamples are one of each thing decode judges: a proof, a proof
// with a wrong typ, a DPoP-bound token, a certificate-bound token, an
// expired bearer token, and a proof naming its token.
func decodeSamples(t *testing.T) []decodeSample {
	now := time.Now()
	s, _ := dpop.NewSigner(mustKey(t), dpop.WithClock(func() time.Time { return now }))
	proof, _ := s.Proof("POST", "https://as.example/token")
	parts := strings.Split(proof, ".")
	hdr := map[string]any{"typ": "JWT", "alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}}
	badTyp := b64json(hdr) + "." + parts[1] + "." + parts[2]
	claims := map[string]any{"iss": "https://as.example", "aud": "https://api.example", "sub": "u", "client_id": "c", "jti": "j", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "cnf": map[string]any{"jkt": s.Thumbprint()}}
	dpopTok := b64json(map[string]any{"typ": "at+jwt", "alg": "ES256", "kid": "k1"}) + "." + b64json(claims) + ".c2ln"
	claims["cnf"] = map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}
	certTok := b64json(map[string]any{"typ": "at+jwt", "alg": "ES256", "kid": "k1"}) + "." + b64json(claims) + ".c2ln"
	delete(claims, "cnf")
	claims["exp"] = now.Add(-time.Hour).Unix()
	bearer := b64json(map[string]any{"typ": "JWT", "alg": "HS256"}) + "." + b64json(claims) + ".c2ln"
	withATH, _ := s.Proof("GET", "https://api.example/x", dpop.WithAccessToken(dpopTok))
	var out []decodeSample
	for _, x := range []string{proof, badTyp, dpopTok, certTok, bearer, withATH} {
		out = append(out, decodeSample{x, now.Unix()})
	}
	return out
}
