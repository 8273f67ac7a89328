package yardstick

import "testing"

func TestP256(t *testing.T) {
	p := NewP256()
	if !p.Verify() {
		t.Fatal("the yardstick's signature does not verify")
	}
	if err := p.Sign(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkECDSAVerifyASN1(b *testing.B) { BenchmarkVerify(b) }
