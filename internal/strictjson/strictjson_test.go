package strictjson

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

type inner struct {
	Kty string          `json:"kty"`
	X   string          `json:"x"`
	D   json.RawMessage `json:"d"`
}

type target struct {
	Typ   *string         `json:"typ"`
	Alg   string          `json:"alg"`
	JWK   *inner          `json:"jwk"`
	Crit  json.RawMessage `json:"crit"`
	IAT   float64         `json:"iat"`
	N     int64           `json:"n"`
	U     uint16          `json:"u"`
	OK    bool            `json:"ok"`
	Aud   []string        `json:"aud"`
	Cnf   map[string]any  `json:"cnf"`
	Any   any             `json:"any"`
	Num   json.Number     `json:"num"`
	Plain string
	skip  string //lint:ignore U1000 an unexported field the decoder must pass over
	Dash  string `json:"-"`
}

func TestUnmarshal(t *testing.T) {
	var got target
	in := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","x":"a\u00e9\ud83d\ude00"},"crit":null,
		"iat":1.5,"n":-3,"u":7,"ok":true,"aud":["a","b"],"cnf":{"jkt":"t","n":[1,{"a":null}]},
		"any":{"k":[true,"s",2]},"num":12e3,"Plain":"p","other":{"x":[1,2]}} `
	if err := Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	var want target
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if *got.Typ != "dpop+jwt" || got.JWK.X != "a\u00e9\U0001F600" || string(got.Crit) != "null" {
		t.Fatalf("got %+v", got)
	}
}

// TestRefuses: each input is one that encoding/json would read, and read
// differently from another JSON parser (or from what the sender meant).
func TestRefuses(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     error
	}{
		{"uppercase_member_instead_of_lowercase", `{"TYP":"dpop+jwt"}`, ErrCaseVariant},
		{"uppercase_and_lowercase_member", `{"typ":"dpop+jwt","TYP":"x"}`, ErrCaseVariant},
		{"case_variant_in_nested_object", `{"jwk":{"KTY":"EC"}}`, ErrCaseVariant},
		{"long_s_folds_to_s", "{\"Plain\":\"a\",\"Pla\u0131n\":\"b\",\"alg\":\"x\",\"al\u0261\":1}", nil},
		{"kelvin_sign_folds_to_k", "{\"jw\u212a\":{}}", ErrCaseVariant},
		{"duplicate_typ", `{"typ":"a","typ":"b"}`, ErrDuplicateName},
		{"duplicate_via_escape", `{"typ":"a","t\u0079p":"b"}`, ErrDuplicateName},
		{"duplicate_in_nested_jwk", `{"jwk":{"kty":"EC","kty":"OKP"}}`, ErrDuplicateName},
		{"duplicate_in_map", `{"cnf":{"jkt":"a","jkt":"b"}}`, ErrDuplicateName},
		{"duplicate_in_raw_member", `{"crit":{"a":1,"a":2}}`, ErrDuplicateName},
		{"duplicate_in_unknown_member", `{"other":[{"a":1,"a":2}]}`, ErrDuplicateName},
		{"duplicate_jwk", `{"jwk":{"kty":"EC"},"jwk":{"kty":"OKP"}}`, ErrDuplicateName},
		{"duplicate_among_many", `{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"b0":0,"b1":1,"b2":2,"b3":3,"b4":4,"b5":5,"b6":6,"b7":7,"a3":3}`, ErrDuplicateName},
		{"trailing_data", `{"alg":"x"} {}`, ErrSyntax},
		{"trailing_garbage", `{"alg":"x"}x`, ErrSyntax},
		{"invalid_utf8", "{\"alg\":\"\xff\"}", ErrSyntax},
		{"unpaired_surrogate", `{"alg":"\ud800"}`, ErrSyntax},
		{"unterminated", `{"alg":"x"`, ErrSyntax},
		{"empty", ``, ErrSyntax},
		{"wrong_type", `{"alg":1}`, ErrType},
		{"number_into_int_with_fraction", `{"n":1.5}`, ErrType},
		{"leading_zero", `{"n":01}`, ErrSyntax},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v target
			err := Unmarshal([]byte(c.in), &v)
			if c.want == nil {
				// ı (dotless i) and ɡ do not fold to ASCII: plain unknown members.
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Unmarshal(%s) = %v, want %v", c.in, err, c.want)
			}
			if c.want == ErrDuplicateName || c.want == ErrSyntax {
				if err := Check([]byte(c.in)); !errors.Is(err, c.want) {
					t.Fatalf("Check(%s) = %v, want %v", c.in, err, c.want)
				}
			}
		})
	}
}

func TestDuplicateErrorNamesMember(t *testing.T) {
	err := Check([]byte(`{"x":{"htu":"a","htu":"b"}}`))
	var de *DuplicateError
	if !errors.As(err, &de) || de.Name != "htu" {
		t.Fatalf("err = %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	type emb struct{ A string }
	var v1 struct {
		emb
	}
	var v2 struct {
		N int `json:"n,string"`
	}
	for _, v := range []any{&v1, &v2, target{}, nil} {
		if err := Unmarshal([]byte(`{}`), v); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%T: err = %v", v, err)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	deep := make([]byte, 0, 2*maxDepth+2)
	for range maxDepth + 1 {
		deep = append(deep, '[')
	}
	for range maxDepth + 1 {
		deep = append(deep, ']')
	}
	if err := Check(deep); !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v", err)
	}
}

var seeds = []string{
	`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","x":"abc"}}`,
	`{"TYP":"dpop+jwt"}`, `{"typ":"a","typ":"b"}`, `{"jwk":{"kty":"EC","kty":"x"}}`,
	`{"cnf":{"jkt":"a","jkt":"b"}}`, `{"cnf":{"jkt":"a","JKT":"b"}}`, `{"alg":"a","ALG":"b"}`,
	`{"iat":1e3,"n":5,"u":1,"ok":false,"aud":"x","num":-0.5e-3}`, `[1,"a",{"b":null}]`,
	`{"any":{"x":"\u00e9\ud83d\ude00\n"}}`, `"s"`, `null`, `{"crit":[]} `, `{"Plain":"x","plain":"y"}`,
	`{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"n":1e400}`, `{"iat":1e400}`,
}

// FuzzUnmarshal: never panics; what it accepts Check accepts, and it
// refuses every document with a duplicate name.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v target
		err := Unmarshal(b, &v)
		cerr := Check(b)
		if err == nil && cerr != nil {
			t.Fatalf("Unmarshal accepted what Check refused: %v", cerr)
		}
		if errors.Is(cerr, ErrDuplicateName) && err == nil {
			t.Fatal("accepted a duplicate name")
		}
		var x any
		if gerr := Unmarshal(b, &x); (gerr == nil && cerr != nil) || (gerr != nil && cerr == nil && !errors.Is(gerr, ErrType)) {
			t.Fatalf("Unmarshal into any: %v; Check: %v", gerr, cerr)
		}
	})
}

// FuzzDifferential: whatever Unmarshal accepts, encoding/json accepts and
// decodes to the same values, into a struct and into an interface.
func FuzzDifferential(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s1, s2 target
		if Unmarshal(b, &s1) == nil {
			if err := json.Unmarshal(b, &s2); err != nil {
				t.Fatalf("strict accepted, encoding/json refused: %v", err)
			}
			if !reflect.DeepEqual(s1, s2) {
				t.Fatalf("strict %+v\nencoding/json %+v", s1, s2)
			}
		}
		var a1, a2 any
		if Unmarshal(b, &a1) == nil {
			if err := json.Unmarshal(b, &a2); err != nil {
				t.Fatalf("strict accepted, encoding/json refused: %v", err)
			}
			if !reflect.DeepEqual(a1, a2) {
				t.Fatalf("strict %#v\nencoding/json %#v", a1, a2)
			}
		}
	})
}

func TestCheckCompact(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		name, hdr, claims string
		want              error
	}{
		{"valid", `{"alg":"ES256","kid":"k"}`, `{"iss":"a","ext":{"X":1}}`, nil},
		{"uppercase_ALG", `{"ALG":"ES256"}`, `{}`, ErrCaseVariant},
		{"uppercase_AUD_and_aud", `{"alg":"ES256"}`, `{"aud":"a","AUD":"b"}`, ErrCaseVariant},
		{"duplicate_alg", `{"alg":"none","alg":"ES256"}`, `{}`, ErrDuplicateName},
		{"duplicate_jkt_in_cnf", `{"alg":"ES256"}`, `{"cnf":{"jkt":"a","jkt":"b"}}`, ErrDuplicateName},
		{"payload_not_an_object", `{"alg":"ES256"}`, `null`, ErrType},
		{"trailing_data", `{"alg":"ES256"}x`, `{}`, ErrSyntax},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckCompact(enc(c.hdr)+"."+enc(c.claims)+".sig", JOSENames)
			if (c.want == nil && err != nil) || !errors.Is(err, c.want) {
				t.Fatalf("CheckCompact = %v, want %v", err, c.want)
			}
		})
	}
	if err := CheckCompact("a.b", JOSENames); !errors.Is(err, ErrSyntax) {
		t.Fatalf("two parts: %v", err)
	}
}
