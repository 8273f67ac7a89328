package client

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/wardauth/ward/dpop"
)

const pemType = "PRIVATE KEY"

// LoadOrCreateKey returns the DPoP key kept in the file at path (PKCS #8,
// PEM), creating it with a new P-256 key and mode 0600 when it does not
// exist. It refuses a file that group or others may read
// (ErrKeyFilePermissions), as ssh does.
func LoadOrCreateKey(path string) (crypto.Signer, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = dpop.GenerateKey(dpop.ES256)
	if err != nil {
		return nil, fmt.Errorf("client: generate key: %w", err)
	}
	if err := SaveKey(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use that one.
			return LoadKey(path)
		}
		return nil, err
	}
	return k, nil
}

// LoadKey reads a private key written by SaveKey (PKCS #8, PEM). The file
// must not be readable by group or others.
func LoadKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("client: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("client: key file: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKeyFilePermissions, path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("client: key file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != pemType {
		return nil, fmt.Errorf("client: key file %s: no %q PEM block", path, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("client: key file %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("client: key file %s: %T is not a signing key", path, k)
	}
	return s, nil
}

// SaveKey writes key to a new file at path with mode 0600 (PKCS #8, PEM).
// It never overwrites a file: an existing one is an error wrapping
// fs.ErrExist.
func SaveKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("client: save key: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("client: save key: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("client: save key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("client: save key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("client: save key: %w", err)
	}
	return f.Close()
}
