package golden

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
)

func TestResponse(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Add("X-B", "2")
	rec.Header().Add("X-A", "1")
	rec.Header().Add("X-B", "3")
	rec.WriteHeader(418)
	_, _ = rec.WriteString("body\n")
	want := "HTTP 418 I'm a teapot\nX-A: 1\nX-B: 2\nX-B: 3\n\nbody\n"
	if got := string(Response(rec)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCheckUpdatesThenCompares(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.golden")
	Check(t, path, []byte("one\n"), true)
	Check(t, path, []byte("one\n"), false)
	ft := &testing.T{}
	done := make(chan struct{})
	go func() { // Check calls Errorf on a mismatch; run it on a throwaway T.
		defer close(done)
		Check(ft, path, []byte("two\n"), false)
	}()
	<-done
	if !ft.Failed() {
		t.Fatal("a differing output passed")
	}
}
