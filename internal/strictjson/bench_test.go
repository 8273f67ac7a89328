package strictjson

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkVsEncodingJSON decodes a DPoP proof's claims (the per-proof
// decode of dpop.Verify) with Unmarshal and with encoding/json in turns,
// and reports the ratio of their summed times (x-json), which a noisy,
// shared machine moves far less than two separate benchmarks.
func BenchmarkVsEncodingJSON(b *testing.B) {
	type payload struct {
		JTI   *string         `json:"jti"`
		HTM   *string         `json:"htm"`
		HTU   *string         `json:"htu"`
		IAT   json.RawMessage `json:"iat"`
		ATH   *string         `json:"ath"`
		Nonce *string         `json:"nonce"`
	}
	in := []byte(`{"jti":"e1j3V_bKic8-LAEB","htm":"POST","htu":"https://api.example.com/v1/things","iat":1764000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`)
	var strict, std time.Duration
	b.ReportAllocs()
	for b.Loop() {
		var p1, p2 payload
		t0 := time.Now()
		if err := Unmarshal(in, &p1); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := json.Unmarshal(in, &p2); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		strict += t1.Sub(t0)
		std += t2.Sub(t1)
	}
	b.ReportMetric(float64(strict)/float64(std), "x-json")
}

// BenchmarkUnmarshal is the strict decode alone, for its allocations.
func BenchmarkUnmarshal(b *testing.B) {
	type payload struct {
		JTI *string         `json:"jti"`
		HTM *string         `json:"htm"`
		HTU *string         `json:"htu"`
		IAT json.RawMessage `json:"iat"`
		ATH *string         `json:"ath"`
	}
	in := []byte(`{"jti":"e1j3V_bKic8-LAEB","htm":"POST","htu":"https://api.example.com/v1/things","iat":1764000000,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`)
	b.ReportAllocs()
	for b.Loop() {
		var p payload
		if err := Unmarshal(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}
