package client

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wardauth/ward/dpop"
)

// TestKeyFile: LoadOrCreateKey creates a 0600 file once and reads the same
// key back; a file group or others may read is refused; SaveKey never
// overwrites.
func TestKeyFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	path := filepath.Join(t.TempDir(), "sub", "dpop.pem")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := dpop.Thumbprint(k1.Public())
	t2, _ := dpop.Thumbprint(k2.Public())
	if t1 != t2 {
		t.Fatal("the key read back is another key")
	}
	if err := SaveKey(path, k1); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveKey over an existing file: %v, want fs.ErrExist", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKeyFilePermissions) {
			t.Fatalf("mode %04o: %v, want ErrKeyFilePermissions", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); err == nil {
		t.Fatal("garbage accepted as a key")
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
}
