package keys_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/keys"
)

func mustKEK(t testing.TB, b byte) keys.KEK {
	t.Helper()
	var k keys.KEK
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k1, k2 := mustKEK(t, 1), mustKEK(t, 100)
	pt := []byte("private key bytes")
	ct, err := keys.Seal(k1, "kid-a", pt)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		keks    []keys.KEK
		kid     string
		ct      []byte
		wantErr string
	}{
		{"round trip", []keys.KEK{k1}, "kid-a", ct, ""},
		{"old KEK still accepted after rotation", []keys.KEK{k2, k1}, "kid-a", ct, ""},
		{"wrong KEK", []keys.KEK{k2}, "kid-a", ct, `keys: cannot decrypt private key "kid-a": wrong key-encryption key or tampered ciphertext`},
		{"tampered", []keys.KEK{k1}, "kid-a", tampered, `keys: cannot decrypt private key "kid-a": wrong key-encryption key or tampered ciphertext`},
		{"swapped kid (AAD)", []keys.KEK{k1}, "kid-b", ct, `keys: cannot decrypt private key "kid-b": wrong key-encryption key or tampered ciphertext`},
		{"truncated", []keys.KEK{k1}, "kid-a", ct[:5], `keys: cannot decrypt private key "kid-a": malformed ciphertext`},
		{"no KEK", nil, "kid-a", ct, `keys: cannot decrypt private key "kid-a": keys: no key-encryption key configured`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.Open(tt.keks, tt.kid, tt.ct)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Open = %q, %v", got, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %s", err, tt.wantErr)
			}
			if !errors.Is(err, keys.ErrDecrypt) {
				t.Fatalf("err %v does not wrap ErrDecrypt", err)
			}
		})
	}
}

func TestLoadKEK(t *testing.T) {
	k := mustKEK(t, 7)
	dir := t.TempDir()
	good := filepath.Join(dir, "kek")
	if err := os.WriteFile(good, []byte(k.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("c2hvcnQ="), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, file string
		want            error
	}{
		{"env", k.String(), "", nil},
		{"env wins over file", k.String(), bad, nil},
		{"file", "", good, nil},
		{"env short", "c2hvcnQ=", "", keys.ErrInvalidKEK},
		{"env not base64", "!!!", "", keys.ErrInvalidKEK},
		{"file short", "", bad, keys.ErrInvalidKEK},
		{"none", "", "", keys.ErrNoKEK},
		{"missing file", "", filepath.Join(dir, "nope"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.LoadKEK(tt.env, tt.file)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && got != k {
				t.Fatal("wrong KEK")
			}
		})
	}
}

func TestEnsureKEKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kek")
	k1, err := keys.EnsureKEKFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, err := keys.EnsureKEKFile(path)
	if err != nil || k1 != k2 {
		t.Fatalf("second call = %v, %v; want the same KEK", k2, err)
	}
	if k1 == (keys.KEK{}) {
		t.Fatal("zero KEK")
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != k1.String() {
		t.Fatal("file content is not the base64 KEK")
	}
}

func FuzzOpen(f *testing.F) {
	k := mustKEK(f, 3)
	ct, _ := keys.Seal(k, "kid", []byte("x"))
	f.Add(ct)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = keys.Open([]keys.KEK{k}, "kid", b)
	})
}
