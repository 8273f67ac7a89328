package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Trace is an http.RoundTripper that writes what passes through it the
// way `curl -v` does (`ward curl -v`): "> " lines for each request sent,
// with its DPoP proof decoded (header and claims, never the signature),
// "< " lines for the status and the headers that drive DPoP and mTLS —
// DPoP-Nonce, WWW-Authenticate, the status of a use_dpop_nonce round
// trip — and "* " lines saying what they mean. Placed under a DPoP
// transport it sees every attempt, the nonce retries included. Tokens
// and secrets are never written: an Authorization header is shown as its
// scheme and length.
type Trace struct {
	Base http.RoundTripper // default http.DefaultTransport
	W    io.Writer

	mu sync.Mutex // one request's lines together
}

var _ http.RoundTripper = (*Trace)(nil)

// RoundTrip implements http.RoundTripper.
func (t *Trace) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var b bytes.Buffer
	writeRequest(&b, req)
	resp, err := base.RoundTrip(req)
	if err != nil {
		fmt.Fprintf(&b, "* %s %s failed: %v\n", req.Method, req.URL.Redacted(), err)
	} else {
		writeResponse(&b, resp)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = t.W.Write(b.Bytes())
	return resp, err
}

func writeRequest(w io.Writer, req *http.Request) {
	fmt.Fprintf(w, "> %s %s\n", req.Method, req.URL.Redacted())
	if a := req.Header.Get("Authorization"); a != "" {
		scheme, cred, _ := strings.Cut(a, " ")
		fmt.Fprintf(w, "> Authorization: %s [%d bytes, not shown]\n", scheme, len(cred))
	}
	proof := req.Header.Get("DPoP")
	if proof == "" {
		return
	}
	j, err := Parse(proof)
	if err != nil {
		fmt.Fprintf(w, "> DPoP: (not a compact JWS: %v)\n", err)
		return
	}
	fmt.Fprintf(w, "> DPoP: proof header %s\n", compact(j.rawHeader))
	fmt.Fprintf(w, ">       proof claims %s\n", compact(j.rawClaims))
	if n, ok := j.claims["nonce"].(string); ok {
		fmt.Fprintf(w, "* the proof carries the server's nonce %q\n", n)
	}
}

func writeResponse(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "< %s %s\n", resp.Proto, resp.Status)
	for _, h := range []string{"DPoP-Nonce", "WWW-Authenticate", "Date"} {
		for _, v := range resp.Header.Values(h) {
			fmt.Fprintf(w, "< %s: %s\n", h, v)
		}
	}
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		fmt.Fprintf(w, "* the server sent a DPoP nonce: the next proof to it carries %q (RFC 9449 §8)\n", n)
	}
	asked := false
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		asked = asked || strings.Contains(v, "use_dpop_nonce")
	}
	if code, desc, ok := jsonError(resp); ok {
		fmt.Fprintf(w, "< error=%s error_description=%q\n", code, desc)
		asked = asked || code == "use_dpop_nonce"
	}
	if asked {
		fmt.Fprintln(w, "* the server asked for a nonce (use_dpop_nonce): the request is sent again with it")
	}
	fmt.Fprintln(w, "<")
}

// jsonError reads the error and error_description of a 4xx JSON answer
// (RFC 6749 §5.2: a token endpoint's use_dpop_nonce comes this way) and
// puts the body back for the caller. Success bodies, which may hold
// tokens, are never read.
func jsonError(resp *http.Response) (code, desc string, ok bool) {
	if resp.StatusCode < 400 || resp.StatusCode > 499 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return "", "", false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	if err != nil {
		return "", "", false
	}
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return "", "", false
	}
	return e.Error, e.ErrorDescription, true
}

// compact is the JSON on one line, or the bytes as they are.
func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
