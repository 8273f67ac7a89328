package secevent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/jws"
)

const (
	testGW  = "https://gw-a.ward.test"
	testAS  = "https://as.ward.test"
	testFam = "hVb2n1Kx0c9R_eT3uQw-3A"
)

var testNow = time.Unix(1_800_000_000, 0)

func testKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testReceiver(keys ...*ecdsa.PrivateKey) *SETReceiver {
	r := &SETReceiver{Audience: testAS, Senders: map[string][]*ecdsa.PublicKey{},
		Now: func() time.Time { return testNow }}
	for _, k := range keys {
		r.Senders[testGW] = append(r.Senders[testGW], &k.PublicKey)
	}
	return r
}

func leakEvent() Event {
	return Event{Time: testNow.Add(-time.Second), Type: TokenLeaked, Severity: Critical, Instance: "gw-a",
		ClientID: "web", Subject: "alice", FamilyID: testFam, ClientAddr: "192.0.2.1",
		Route: "api", Reason: "dpop_token_as_bearer"}
}

func signedSET(t testing.TB, key *ecdsa.PrivateKey, aud string, ev Event) string {
	t.Helper()
	s, err := NewSETSigner(key, testGW, aud)
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.Sign(ev, testAS, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// forge signs header and claims (JSON text) ES256 with key, so a test can
// put in a SET what SETSigner never would.
func forge(t testing.TB, key *ecdsa.PrivateKey, header, claims string) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(header))
	set, err := jws.Sign(key, "ES256", h, []byte(claims))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const goodHeader = `{"alg":"ES256","typ":"secevent+jwt"}`

func claimsAt(iat int64, extra string) string {
	return `{"iss":"` + testGW + `","aud":"` + testAS + `","iat":` + formatInt(iat) + `,"jti":"j1"` + extra +
		`,"events":{"urn:wardauth:secevent:token_leaked":{"family_id":"` + testFam + `","token_iss":"` + testAS + `"}}}`
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

// A SET made by SETSigner verifies, and the event comes through whole.
func TestSETRoundTrip(t *testing.T) {
	key := testKey(t)
	got, err := testReceiver(key).Verify([]byte(signedSET(t, key, testAS, leakEvent())))
	if err != nil {
		t.Fatal(err)
	}
	want := leakEvent()
	if got.Event != want || got.Issuer != testGW || got.TokenIssuer != testAS || got.ID == "" {
		t.Errorf("got %+v\nwant event %+v", got, want)
	}
	if !got.Expires.After(testNow) {
		t.Errorf("jti kept until %v, before now", got.Expires)
	}
}

// Every forged or malformed SET is refused with its RFC 8935 §2.4 code.
func TestSETForgedRefused(t *testing.T) {
	key, other := testKey(t), testKey(t)
	now := testNow.Unix()
	hs256 := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"secevent+jwt"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(claimsAt(now, "")))
		m := hmac.New(sha256.New, []byte("a shared secret"))
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"secevent+jwt"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(claimsAt(now, ""))) + "."
	login := leakEvent()
	login.Type = LoginFailed
	for name, c := range map[string]struct{ set, code string }{
		"wrong key":       {signedSET(t, other, testAS, leakEvent()), ErrAuthentication},
		"alg none":        {none, ErrInvalidKey},
		"HS256":           {hs256(), ErrInvalidKey},
		"other aud":       {signedSET(t, key, "https://other.ward.test", leakEvent()), ErrInvalidAudience},
		"aud array":       {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"aud":"`+testAS+`"`, `"aud":["`+testAS+`"]`, 1)), ErrInvalidAudience},
		"iat too old":     {forge(t, key, goodHeader, claimsAt(now-int64(DefaultSETMaxAge/time.Second)-1, "")), ErrInvalidRequest},
		"iat future":      {forge(t, key, goodHeader, claimsAt(now+120, "")), ErrInvalidRequest},
		"no iat":          {forge(t, key, goodHeader, claimsAt(0, "")), ErrInvalidRequest},
		"expired":         {forge(t, key, goodHeader, claimsAt(now, `,"exp":`+formatInt(now-1))), ErrInvalidRequest},
		"case ISS":        {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"iss"`, `"ISS"`, 1)), ErrInvalidRequest},
		"case Events":     {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"events"`, `"Events"`, 1)), ErrInvalidRequest},
		"case payload":    {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"family_id"`, `"Family_ID"`, 1)), ErrInvalidRequest},
		"case Alg":        {forge(t, key, `{"alg":"ES256","Alg":"none","typ":"secevent+jwt"}`, claimsAt(now, "")), ErrInvalidRequest},
		"duplicate jti":   {forge(t, key, goodHeader, claimsAt(now, `,"jti":"j2"`)), ErrInvalidRequest},
		"no typ":          {forge(t, key, `{"alg":"ES256"}`, claimsAt(now, "")), ErrInvalidRequest},
		"typ JWT":         {forge(t, key, `{"alg":"ES256","typ":"JWT"}`, claimsAt(now, "")), ErrInvalidRequest},
		"unknown iss":     {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), testGW, "https://evil.test", 1)), ErrInvalidIssuer},
		"login type":      {signedSET(t, key, testAS, login), ErrAccessDenied},
		"unknown type":    {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), "token_leaked", "token_leakedx", 1)), ErrInvalidRequest},
		"two events":      {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"events":{`, `"events":{"urn:wardauth:secevent:nonce_failure":{},`, 1)), ErrInvalidRequest},
		"no events":       {forge(t, key, goodHeader, `{"iss":"`+testGW+`","aud":"`+testAS+`","iat":`+formatInt(now)+`,"jti":"j"}`), ErrInvalidRequest},
		"no jti":          {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"jti":"j1",`, ``, 1)), ErrInvalidRequest},
		"iat string":      {forge(t, key, goodHeader, strings.Replace(claimsAt(now, ""), `"iat":`+formatInt(now), `"iat":"`+formatInt(now)+`"`, 1)), ErrInvalidRequest},
		"oversized":       {forge(t, key, goodHeader, claimsAt(now, `,"txn":"`+strings.Repeat("a", MaxSETBytes)+`"`)), ErrInvalidRequest},
		"not a JWS":       {"hello", ErrInvalidRequest},
		"JSON":            {`{"iss":"x"}`, ErrInvalidRequest},
		"tampered":        {tamper(signedSET(t, key, testAS, leakEvent())), ErrAuthentication},
		"embedded jwk":    {forge(t, key, `{"alg":"ES256","typ":"secevent+jwt","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}`, claimsAt(now, "")), ErrInvalidKey},
		"empty":           {"", ErrInvalidRequest},
		"trailing signat": {signedSET(t, key, testAS, leakEvent()) + ".x", ErrInvalidRequest},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := testReceiver(key).Verify([]byte(c.set))
			var se *SETError
			if !errors.As(err, &se) || !errors.Is(err, ErrSET) {
				t.Fatalf("Verify = %v, want a SETError", err)
			}
			if se.Code != c.code {
				t.Errorf("code %s (%s), want %s", se.Code, se.Description, c.code)
			}
		})
	}
}

// tamper changes one character of the payload, so the signature no
// longer covers it but it still decodes.
func tamper(set string) string {
	parts := strings.Split(set, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	s := strings.Replace(string(b), `"alice"`, `"mallory"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(s))
	return strings.Join(parts, ".")
}

// A receiver with two keys for a sender (a rotation) accepts either.
func TestSETKeyRotation(t *testing.T) {
	old, cur := testKey(t), testKey(t)
	r := testReceiver(old, cur)
	for _, k := range []*ecdsa.PrivateKey{old, cur} {
		if _, err := r.Verify([]byte(signedSET(t, k, testAS, leakEvent()))); err != nil {
			t.Error(err)
		}
	}
}

func TestSETMediaType(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/secevent+jwt":             true,
		"Application/SecEvent+JWT":             true,
		"application/secevent+jwt; charset=x":  true,
		"application/jwt":                      false,
		"application/json":                     false,
		"":                                     false,
		"application/secevent+jwt, text/plain": false,
	} {
		if err := CheckSETMediaType(ct); (err == nil) != ok {
			t.Errorf("%q: %v", ct, err)
		}
	}
}

func TestNewSETSignerNeedsP256(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSETSigner(k, testGW, testAS); !errors.Is(err, ErrSET) {
		t.Errorf("a P-384 key: %v", err)
	}
}

func FuzzSETVerify(f *testing.F) {
	key := testKey(f)
	f.Add([]byte(signedSET(f, key, testAS, leakEvent())))
	f.Add([]byte(forge(f, key, goodHeader, claimsAt(testNow.Unix(), ""))))
	f.Add([]byte(forge(f, key, goodHeader, `{"iss":"`+testGW+`","events":{"a":1}}`)))
	f.Add([]byte("eyJhbGciOiJub25lIn0.eyJ9."))
	r := testReceiver(key)
	f.Fuzz(func(t *testing.T, set []byte) {
		got, err := r.Verify(set)
		if err != nil {
			var se *SETError
			if !errors.As(err, &se) || se.Code == "" {
				t.Fatalf("not a SETError: %v", err)
			}
			return
		}
		if got.Issuer != testGW || !containsType(GatewayTypes, got.Event.Type) {
			t.Fatalf("accepted %+v", got)
		}
	})
}

func containsType(ts []Type, t Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
