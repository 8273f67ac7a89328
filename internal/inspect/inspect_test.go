package inspect

import (
	"io"
	"testing"
	"time"
)

// FuzzInspect: decoding and judging any input never panics, whatever
// the header and claims hold (wrong types, nested objects, huge numbers).
func FuzzInspect(f *testing.F) {
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIn19.eyJpYXQiOjEsImh0bSI6IkdFVCIsImh0dSI6Imh0dHA6Ly94In0.c2ln")
	f.Add("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJub25lIn0.eyJjbmYiOnsiamt0IjoiYSJ9LCJleHAiOjF9.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			return
		}
		c := Checker{Now: time.Unix(1, 0), MaxAge: time.Minute, Leeway: time.Second, Method: "GET", URL: "https://x/"}
		_ = j.StrictFindings()
		_ = c.Proof(j, s, "token", j.BoundKey())
		_ = c.Token(j)
		j.Print(io.Discard, c.Now)
		_ = j.IsProof()
	})
}
