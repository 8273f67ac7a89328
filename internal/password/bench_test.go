package password

import (
	"testing"
	"time"

	"github.com/wardauth/ward/internal/yardstick"
)

// BenchmarkVerifyVsBare interleaves, in every iteration, one check of a
// password against a hash made with DefaultParams (Argon2id, 19 MiB, 2
// passes: the work of one login) with one bare P-256 verify, and reports
// the ratio of their summed times (x-bare) and the login's time, for
// docs/CAPACITY.md:
//
//	go test ./internal/password -run '^$' -bench VerifyVsBare -benchtime 20x
func BenchmarkVerifyVsBare(b *testing.B) {
	h, err := HashWith("correct horse battery staple", DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	bare := yardstick.NewP256()
	var full, base time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		ok, err := Verify("correct horse battery staple", h)
		t1 := time.Now()
		if !bare.Verify() {
			b.Fatal("verify")
		}
		t2 := time.Now()
		if err != nil || !ok {
			b.Fatalf("Verify: %v %v", ok, err)
		}
		full += t1.Sub(t0)
		base += t2.Sub(t1)
		n++
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
	b.ReportMetric(float64(full.Nanoseconds())/float64(n), "login-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(n), "bare-ns/op")
}
