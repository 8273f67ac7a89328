package password

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// fast keeps the tests quick; DefaultParams are exercised once below.
var fast = Params{Memory: MinMemory, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	enc, err := HashWith("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("encoded = %q", enc)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct hors", false},
		{"Correct horse", false},
		{"", false},
	} {
		ok, err := Verify(tt.password, enc)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	enc2, _ := HashWith("correct horse", fast)
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestDefaultParams(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with 19 MiB")
	}
	enc, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoded = %q, want OWASP parameters", enc)
	}
	if ok, err := Verify("pw", enc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if NeedsRehash(enc) {
		t.Fatal("NeedsRehash(default) = true")
	}
	fastEnc, _ := HashWith("pw", fast)
	if !NeedsRehash(fastEnc) {
		t.Fatal("NeedsRehash(fast) = false")
	}
}

// TestEncodeParseRoundTrip checks that Parse reads back exactly what encode
// wrote. (The argon2id KDF itself is x/crypto's and tested there against
// RFC 9106; RFC 9106 §5.3's vector uses secret and associated-data inputs
// that x/crypto does not expose, so it cannot be repeated here.)
func TestEncodeParseRoundTrip(t *testing.T) {
	salt := []byte("somesaltsomesalt")
	p := Params{Memory: 8192, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	key := argon2.IDKey([]byte("password"), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	enc := encode(p, salt, key)
	const wantPrefix = "$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$"
	if !strings.HasPrefix(enc, wantPrefix) {
		t.Fatalf("encode = %q, want prefix %q", enc, wantPrefix)
	}
	gotP, gotSalt, gotKey, err := Parse(enc)
	if err != nil || gotP != p || string(gotSalt) != string(salt) || string(gotKey) != string(key) {
		t.Fatalf("Parse(encode) = %+v, %q, %x, %v", gotP, gotSalt, gotKey, err)
	}
	if ok, err := Verify("password", enc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestParseErrors(t *testing.T) {
	good, _ := HashWith("x", fast)
	_, rest, _ := strings.Cut(strings.TrimPrefix(good, prefix), "$") // salt$hash
	tests := []struct {
		name string
		enc  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"argon2i", "$argon2i$v=19$m=8192,t=1,p=1$" + rest, ErrMalformed},
		{"old version", "$argon2id$v=16$m=8192,t=1,p=1$" + rest, ErrMalformed},
		{"param order", "$argon2id$v=19$t=1,m=8192,p=1$" + rest, ErrMalformed},
		{"extra param", "$argon2id$v=19$m=8192,t=1,p=1,k=1$" + rest, ErrMalformed},
		{"leading zero", "$argon2id$v=19$m=08192,t=1,p=1$" + rest, ErrMalformed},
		{"sign", "$argon2id$v=19$m=+8192,t=1,p=1$" + rest, ErrMalformed},
		{"overflow", "$argon2id$v=19$m=99999999999,t=1,p=1$" + rest, ErrMalformed},
		{"huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + rest, ErrParams},
		{"tiny memory", "$argon2id$v=19$m=64,t=1,p=1$" + rest, ErrParams},
		{"huge time", "$argon2id$v=19$m=8192,t=1000,p=1$" + rest, ErrParams},
		{"zero time", "$argon2id$v=19$m=8192,t=0,p=1$" + rest, ErrParams},
		{"huge parallelism", "$argon2id$v=19$m=8192,t=1,p=255$" + rest, ErrParams},
		{"parallelism overflows uint8", "$argon2id$v=19$m=8192,t=1,p=257$" + rest, ErrParams},
		{"missing hash", "$argon2id$v=19$m=8192,t=1,p=1$" + strings.Split(rest, "$")[0], ErrMalformed},
		{"trailing part", good + "$x", ErrMalformed},
		{"padded salt", "$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ=$" + strings.Split(rest, "$")[1], ErrMalformed},
		{"short salt", "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$" + strings.Split(rest, "$")[1], ErrParams},
		{"long hash", "$argon2id$v=19$m=8192,t=1,p=1$" + strings.Split(rest, "$")[0] + "$" + strings.Repeat("A", 1000), ErrParams},
		{"url alphabet", "$argon2id$v=19$m=8192,t=1,p=1$____________________$" + strings.Split(rest, "$")[1], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify("x", tt.enc)
			if ok || !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v, %v; want %v", tt.enc, ok, err, tt.want)
			}
		})
	}
}

func TestHashWithBadParams(t *testing.T) {
	_, err := HashWith("x", Params{Memory: MaxMemory + 1, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})
	if !errors.Is(err, ErrParams) {
		t.Fatalf("HashWith = %v, want ErrParams", err)
	}
}

// TestDummyVerifyTiming checks that DummyVerify costs about as much as a
// real Verify with DefaultParams (within a generous factor: CI is noisy).
func TestDummyVerifyTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with 19 MiB")
	}
	enc, err := Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	DummyVerify("warm up") // the first call also computes the dummy hash
	const n = 3
	start := time.Now()
	for range n {
		if DummyVerify("secret") {
			t.Fatal("DummyVerify returned true")
		}
	}
	dummy := time.Since(start)
	start = time.Now()
	for range n {
		_, _ = Verify("wrong", enc)
	}
	real := time.Since(start)
	if dummy < real/3 || dummy > real*3 {
		t.Fatalf("DummyVerify took %v, Verify %v: not comparable", dummy, real)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := HashWith("x", fast)
	f.Add(good)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, enc string) {
		p, salt, key, err := Parse(enc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrParams) {
				t.Fatalf("Parse(%q) = %v: not a package sentinel", enc, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted out-of-bounds %+v", enc, p)
		}
		// Strict parsing: the accepted form is the canonical one.
		if got := encode(p, salt, key); got != enc {
			t.Fatalf("encode(Parse(%q)) = %q", enc, got)
		}
	})
}
