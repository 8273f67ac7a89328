package secevent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// LoadSETKey reads the PKCS#8 PEM P-256 private key that signs a
// gateway's SETs (events.push.key_file).
func LoadSETKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s: want a PEM PRIVATE KEY block (PKCS#8)", ErrSET, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	ek, ok := k.(*ecdsa.PrivateKey)
	if err != nil || !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %s: want a PKCS#8 P-256 private key", ErrSET, path)
	}
	return ek, nil
}

// LoadSETPublicKeys reads a sender's P-256 public keys, one PEM PUBLIC
// KEY block each (events.receive.senders[].public_key_file): several
// while a key is rotated.
func LoadSETPublicKeys(path string) ([]*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []*ecdsa.PublicKey
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: %s: a %s block, want PUBLIC KEY", ErrSET, path, block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		ek, ok := k.(*ecdsa.PublicKey)
		if err != nil || !ok || ek.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: %s: want P-256 public keys", ErrSET, path)
		}
		keys = append(keys, ek)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no PEM PUBLIC KEY block", ErrSET, path)
	}
	return keys, nil
}
