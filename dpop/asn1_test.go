package dpop

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// asn1Reference is the general encoding asn1Signature replaces.
func asn1Reference(r, s []byte) ([]byte, bool) {
	ri, si := new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)
	if ri.Sign() == 0 || si.Sign() == 0 {
		return nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(ri)
		b.AddASN1BigInt(si)
	})
	der, err := b.Bytes()
	return der, err == nil
}

// TestASN1SignatureMatchesReference compares the hand-written DER with
// cryptobyte's for every curve size, high bits, leading zeros and zeros.
func TestASN1SignatureMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{32, 48, 66} {
		for i := range 3000 {
			r, s := make([]byte, size), make([]byte, size)
			for j := range r {
				r[j], s[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			// Leading zero bytes, high bits and all-zero values.
			switch i % 6 {
			case 1:
				clear(r[:rng.IntN(size)])
			case 2:
				r[0] |= 0x80
				s[0] &= 0x7f
			case 3:
				clear(s)
			case 4:
				clear(r[:size-1])
				r[size-1] = byte(rng.IntN(2)) << 7
			}
			got, gok := asn1Signature(r, s)
			want, wok := asn1Reference(r, s)
			if gok != wok || !bytes.Equal(got, want) {
				t.Fatalf("size %d r=%x s=%x: got %x %v, want %x %v", size, r, s, got, gok, want, wok)
			}
		}
	}
}
