package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

// checkLines runs config.Check and returns its problems, one string each.
func checkLines(t *testing.T, yaml string, lookup func(string) (string, bool)) []string {
	t.Helper()
	_, err := config.Check("ward.yaml", []byte(yaml), lookup)
	var out []string
	for _, p := range config.Problems(err) {
		out = append(out, p.Error())
	}
	return out
}

// TestCheckReportsEveryPhase: a typo, a YAML syntax error and the
// environment do not hide the problems after them; each is reported once,
// in line order.
func TestCheckReportsEveryPhase(t *testing.T) {
	yaml := `issuer: http://as.example
tls: {cert_file: c.pem, key_file: k.pem}
listen: [
tokens:
  acces_token_ttl: 5m
  code_ttl: 2h
clients:
  - id: a
    auth_method: client_secret_basic
    secret_env: UNSET_SECRET
    grant_types: [client_credentials]
`
	got := checkLines(t, yaml, noEnv)
	want := []string{
		`ward.yaml:1: issuer: "http://as.example" must use https (http is allowed only in dev mode)`,
		`ward.yaml:3: did not find expected ',' or ']'; the rest of the file was checked without this line`,
		`ward.yaml:5: unknown key "acces_token_ttl" in tokens (did you mean "access_token_ttl"?)`,
		`ward.yaml:6: tokens.code_ttl: 2h0m0s exceeds the maximum of 1m0s`,
		`ward.yaml:10: clients[0].secret_env: environment variable UNSET_SECRET is not set`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckTypoDoesNotHideSemantics: Load stops at the unknown key; Check
// goes on to validation.
func TestCheckTypoDoesNotHideSemantics(t *testing.T) {
	yaml := base + "tokenz: {}\ntokens: {access_token_ttl: 2h}\n"
	if _, err := load("ward.yaml", yaml, noEnv); err == nil || strings.Contains(err.Error(), "access_token_ttl") {
		t.Fatalf("premise: Decode alone reports only the typo, got %v", err)
	}
	got := strings.Join(checkLines(t, yaml, noEnv), "\n")
	for _, w := range []string{`ward.yaml:4: unknown key "tokenz" (did you mean "tokens"?)`, `ward.yaml:5: tokens.access_token_ttl: 2h0m0s exceeds the maximum of 1h0m0s`} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
}

func TestCheckTabHint(t *testing.T) {
	got := checkLines(t, base+"tokens:\n\taccess_token_ttl: 5m\n", noEnv)
	if len(got) != 1 || !strings.Contains(got[0], "ward.yaml:5: ") || !strings.Contains(got[0], "line 5 is indented with a tab: YAML allows only spaces for indentation") {
		t.Fatalf("got %q", got)
	}
	// Load gives the same hint.
	c := config.Default()
	if err := c.Decode("ward.yaml", []byte(base+"tokens:\n\taccess_token_ttl: 5m\n")); err == nil || !strings.Contains(err.Error(), "indented with a tab") {
		t.Fatalf("Decode: %v", err)
	}
	// A tab inside a value is not indentation.
	if got := checkLines(t, base+"par: {ttl: 30s}\t# comment\n", noEnv); len(got) != 0 {
		t.Fatalf("tab after a value: %q", got)
	}
}

// TestCheckSyntaxErrorsKeepMissingQuiet: after a syntax error, a
// "required" error without a line could come from the skipped line, so it
// is left out; located errors are still reported.
func TestCheckSyntaxErrorsKeepMissingQuiet(t *testing.T) {
	got := checkLines(t, "issuer: [https://as.example\nkeys: {kek_file: /k}\ntokens: {code_ttl: 2h}\n", noEnv)
	joined := strings.Join(got, "\n")
	if strings.Contains(joined, "issuer: required") {
		t.Errorf("reported a consequence of the skipped line:\n%s", joined)
	}
	if !strings.Contains(joined, "tokens.code_ttl") || !errors.Is(mustCheck(t, "issuer: [x\n"), config.ErrSyntax) {
		t.Errorf("got\n%s", joined)
	}
}

func mustCheck(t *testing.T, yaml string) error {
	t.Helper()
	_, err := config.Check("ward.yaml", []byte(yaml), noEnv)
	return err
}

// TestCheckAgreesWithLoad: a file Load accepts, Check accepts, with the
// same values; the repository's example files are among them.
func TestCheckAgreesWithLoad(t *testing.T) {
	env := func(k string) (string, bool) {
		return "set", strings.HasPrefix(k, "WARD_CLIENT_") || strings.HasPrefix(k, "WARD_USER_")
	}
	for _, f := range []string{"ward.example.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Check(f, b, env)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Issuer != "https://auth.example.com" || len(c.Clients) != 4 {
			t.Errorf("%s: decoded %q, %d clients", f, c.Issuer, len(c.Clients))
		}
	}
	if err := mustCheck(t, ""); err == nil || !strings.Contains(err.Error(), "issuer: required") {
		t.Errorf("empty file: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("a: [\nb: c: d\n\tx: 1\n"))
	f.Add([]byte("issuer: \"x\ntokens:\n  - a\n  b: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := config.Check("f.yaml", b, noEnv)
		for _, p := range config.Problems(err) {
			var e *config.Error
			if !errors.As(p, &e) {
				t.Fatalf("problem %v is not a *config.Error", p)
			}
		}
	})
}
