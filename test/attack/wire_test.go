package attack

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The gateway family over the wire: identity headers, path tricks,
// smuggling and oversized inputs, written byte for byte on TLS
// connections to the binary's gateway where a client library would
// normalise them. Routes of the running ward: /api/ (token required),
// /pub/ (open), /admin/ (a policy only a client that does not exist
// passes: closed).

const smuggledPath = "/pub/smuggled"

// rawResult is what came back on one raw connection.
type rawResult struct {
	statuses []int
	closed   bool // the server closed the connection after its last answer
}

// raw writes req on a new TLS connection to the gateway and reads every
// answer until the gateway closes the connection or stays silent for 2 s.
func raw(t *testing.T, req string) rawResult {
	t.Helper()
	tr := ward.client.Transport.(*http.Transport)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(ward.gwURL, "https://"),
		&tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Written concurrently: the gateway may answer (413, 431) and close
	// before it has read everything, and the answer is what is checked.
	go func() { _, _ = io.WriteString(c, req) }()
	var res rawResult
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := br.Peek(1); err != nil {
			var ne net.Error
			res.closed = !(errors.As(err, &ne) && ne.Timeout())
			return res
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res.statuses = append(res.statuses, resp.StatusCode)
	}
}

// TestGatewayForgedIdentityHeaders: identity headers a client sends are
// removed; the upstream sees one value of each, set by the gateway from
// the verified token (or none on the open route).
func TestGatewayForgedIdentityHeaders(t *testing.T) {
	forged := http.Header{
		"X-Ward-Subject":         {"admin"},
		"X-Ward-Client":          {"root"},
		"X-Ward-Scopes":          {"demo:admin"},
		"X-Ward-Jkt":             {"forged-thumbprint"},
		"X-Ward-Spiffe-Id":       {"spiffe://attack/admin"},
		"X-Ward-Cert-Thumbprint": {"forged-x5t"},
	}
	send := func(t *testing.T, p, authorization string, proofs ...string) *response {
		req, _ := http.NewRequest(http.MethodGet, ward.gwURL+p, nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		for _, pr := range proofs {
			req.Header.Add("DPoP", pr)
		}
		for k, v := range forged {
			req.Header[k] = v
		}
		return mustDo(t, req)
	}
	t.Run("with a valid token: replaced by the verified identity", func(t *testing.T) {
		tok, sg, _ := serviceToken(t, svcClient)
		n := upstreamCount()
		if r := send(t, apiPath, "DPoP "+tok, proof(t, sg, http.MethodGet, apiPath, tok)); r.status != http.StatusOK || len(upstreamSince(n)) != 1 {
			t.Fatalf("got %d, want 200 forwarded once", r.status)
		}
		h := lastUpstreamHeader()
		for k, want := range map[string]string{"X-Ward-Subject": svcClient, "X-Ward-Client": svcClient, "X-Ward-Scopes": "demo:read", "X-Ward-Jkt": sg.Thumbprint()} {
			if got := h.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("upstream %s = %q, want exactly [%q]", k, got, want)
			}
		}
		for _, k := range []string{"X-Ward-Spiffe-Id", "X-Ward-Cert-Thumbprint", "Authorization", "Dpop"} {
			if v := h.Values(k); len(v) != 0 {
				t.Errorf("upstream received %s %q", k, v)
			}
		}
	})
	t.Run("on the open route: removed", func(t *testing.T) {
		n := upstreamCount()
		if r := send(t, "/pub/x", ""); r.status != http.StatusOK || len(upstreamSince(n)) != 1 {
			t.Fatalf("got %d, want 200 forwarded once", r.status)
		}
		h := lastUpstreamHeader()
		for k := range forged {
			if v := h.Values(k); len(v) != 0 {
				t.Errorf("upstream received the forged %s %q", k, v)
			}
		}
	})
	t.Run("without a token: refused, not forwarded", func(t *testing.T) {
		before, n := rejections(t), upstreamCount()
		r := send(t, apiPath, "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", r.status)
		}
		if d := delta(before, rejections(t)); len(d) != 1 || d["/no_token"] != 1 {
			t.Errorf("rejections delta = %v, want exactly /no_token = 1", d)
		}
		if got := upstreamSince(n); len(got) != 0 {
			t.Errorf("forwarded: %v", got)
		}
	})
}

// TestGatewayPathTricks: request lines written by hand that try to reach
// the closed /admin/ route, mostly through the open /pub/ one. Each is
// refused with a 4xx, and the upstream never receives a path that a
// lenient upstream would decode into /admin.
func TestGatewayPathTricks(t *testing.T) {
	// Controls: the open route forwards, the closed route refuses a valid
	// token (so a trick that reached it would show).
	n := upstreamCount()
	if got := raw(t, "GET /pub/ok HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); len(got.statuses) != 1 || got.statuses[0] != 200 || len(upstreamSince(n)) != 1 {
		t.Fatalf("control /pub/ok: %v", got.statuses)
	}
	tok, sg, _ := serviceToken(t, svcClient)
	if r := call(t, http.MethodGet, "/admin/secret", "DPoP "+tok, proof(t, sg, http.MethodGet, "/admin/secret", tok)); r.status != http.StatusForbidden {
		t.Fatalf("control /admin/secret with a valid token: %d, want 403", r.status)
	}
	for _, target := range []string{
		"/pub/../admin/secret",
		"/pub/./../admin/secret",
		"/pub/..%2fadmin/secret",
		"/pub/..%2Fadmin%2Fsecret",
		"/pub%2f..%2fadmin/secret",
		"/pub/%2e%2e/admin/secret",
		"/pub/%2E%2E%2Fadmin/secret",
		"/pub/%252e%252e%252fadmin/secret",
		"/pub/%252e%252e/admin/secret",
		"/pub/..\\admin/secret",
		"/pub/..%5cadmin/secret",
		"/pub/..;/admin/secret",
		"/pub//../admin/secret",
		"/pub/../ADMIN/secret",
		"/pub/../Admin/secret",
		"/pub/.../admin/secret",
		"/pub/admin./../../admin/secret",
		"/pub/%00/../admin/secret",
		"/admin%2fsecret",
		"/%61dmin/secret",
		"/ADMIN/secret",
		"/admin./secret",
		"/admin../secret",
		"//admin/secret",
		"http://x/pub/../admin/secret",
	} {
		t.Run(target, func(t *testing.T) {
			n := upstreamCount()
			got := raw(t, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
			if len(got.statuses) != 1 {
				t.Fatalf("answers %v, want one", got.statuses)
			}
			for _, p := range upstreamSince(n) {
				if reachesAdmin(p) {
					t.Fatalf("the upstream received %q (answer %d): the closed route was reached", p, got.statuses[0])
				}
			}
			if st := got.statuses[0]; st < 400 || st >= 500 {
				t.Errorf("answer %d, want a 4xx refusal", st)
			}
		})
	}
}

// reachesAdmin reports whether an upstream path, decoded and cleaned the
// way a lenient upstream might, lands under /admin.
func reachesAdmin(p string) bool {
	for range 3 {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
	}
	p = strings.NewReplacer("\\", "/", ";", "", "\x00", "").Replace(p)
	p = strings.ToLower(path.Clean("/" + p))
	return p == "/admin" || strings.HasPrefix(p, "/admin/") || strings.HasPrefix(p, "/admin.")
}

// TestGatewaySmuggling: requests with ambiguous framing (RFC 9112 §6.1,
// §6.3, §11.2) hiding a second request. Each is refused with 400 (501
// for an unknown transfer coding) and nothing forwarded, or read as
// exactly one request; the hidden request never reaches the upstream,
// and the connection is closed after the answer.
func TestGatewaySmuggling(t *testing.T) {
	hidden := "GET " + smuggledPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	chunkedHiding := "0\r\n\r\n" + hidden
	cl := strconv.Itoa(len(chunkedHiding))
	// Control: two well-framed pipelined requests both reach the upstream.
	n := upstreamCount()
	ok := raw(t, "GET /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET "+smuggledPath+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	if p := upstreamSince(n); len(ok.statuses) != 2 || len(p) != 2 || p[1] != smuggledPath {
		t.Fatalf("control: answers %v, upstream %v", ok.statuses, p)
	}
	for _, c := range []struct{ name, req string }{
		{"CL.TE: Content-Length and chunked, hidden request after the last chunk",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + cl + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedHiding},
		{"TE.CL: chunked then Content-Length, hidden request inside the chunk",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
				strconv.FormatInt(int64(len(hidden)), 16) + "\r\n" + hidden + "\r\n0\r\n\r\n"},
		{"two different Content-Length headers",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"Content-Length with two values",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0, " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"Transfer-Encoding: chunked, identity",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + cl + "\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + chunkedHiding},
		{"two Transfer-Encoding headers",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + chunkedHiding},
		{"Transfer-Encoding: xchunked",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + cl + "\r\nTransfer-Encoding: xchunked\r\n\r\n" + chunkedHiding},
		{"space before the colon",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + cl + "\r\nTransfer-Encoding : chunked\r\n\r\n" + chunkedHiding},
		{"obsolete line folding of Transfer-Encoding",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + cl + "\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + chunkedHiding},
		{"negative Content-Length",
			"POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n" + hidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := upstreamCount()
			got := raw(t, c.req)
			if problem := smugglingProblem(got, upstreamSince(n)); problem != "" {
				t.Fatal(problem)
			}
		})
	}
}

// smugglingProblem says what is wrong with the gateway's handling of an
// ambiguous request, or "" when it is safe (test/e2e.TestHeaderSmuggling
// has the same rule).
func smugglingProblem(got rawResult, upstream []string) string {
	for _, p := range upstream {
		if p == smuggledPath {
			return fmt.Sprintf("the hidden request reached the upstream (answers %v)", got.statuses)
		}
	}
	if len(got.statuses) != 1 {
		return fmt.Sprintf("answers %v (closed %v), want exactly one", got.statuses, got.closed)
	}
	st, hits := got.statuses[0], len(upstream)
	switch {
	case hits > 1:
		return fmt.Sprintf("%d requests reached the upstream, want at most 1 (answer %d)", hits, st)
	case hits == 0 && st != http.StatusBadRequest && st != http.StatusNotImplemented:
		return fmt.Sprintf("answer %d with nothing forwarded, want 400 or 501", st)
	case !got.closed:
		return fmt.Sprintf("the connection stayed open after the answer %d (upstream hits %d)", st, hits)
	}
	return ""
}

// TestGatewayOversizedInputs: limits of the running gateway (headers
// 16 KiB, bodies 64 KiB) hold before anything is forwarded.
func TestGatewayOversizedInputs(t *testing.T) {
	for _, c := range []struct {
		name   string
		req    string
		status int
	}{
		{"header block over max_header_bytes", "GET /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("a", 40<<10) + "\r\nConnection: close\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"request line over max_header_bytes", "GET /pub/" + strings.Repeat("a", 40<<10) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"many small headers over max_header_bytes", "GET /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\n" + strings.Repeat("X-A: b\r\n", 4000) + "Connection: close\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"body over max_body_bytes (Content-Length)", "POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + strconv.Itoa(65<<10) + "\r\nConnection: close\r\n\r\n" + strings.Repeat("a", 65<<10), http.StatusRequestEntityTooLarge},
		{"huge declared Content-Length, no body", "POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n", http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := upstreamCount()
			got := raw(t, c.req)
			if len(got.statuses) != 1 || got.statuses[0] != c.status {
				t.Errorf("answers %v, want [%d]", got.statuses, c.status)
			}
			if p := upstreamSince(n); len(p) != 0 {
				t.Errorf("forwarded: %v", p)
			}
		})
	}
}

// A chunked body has no length to refuse up front: the gateway streams
// it and stops at max_body_bytes. The client gets 413 and the connection
// closes; the upstream may have been called, but it never receives a
// whole request — the body ends without its last chunk.
func TestGatewayOversizedChunkedBody(t *testing.T) {
	var b strings.Builder
	b.WriteString("POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	chunk := strings.Repeat("a", 8<<10)
	for range 9 { // 72 KiB, over the 64 KiB limit
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	b.WriteString("0\r\n\r\n")
	n := upstreamCount()
	got := raw(t, b.String())
	if len(got.statuses) != 1 || got.statuses[0] != http.StatusRequestEntityTooLarge {
		t.Errorf("answers %v, want [413]", got.statuses)
	}
	if p := completeSince(n); len(p) != 0 {
		t.Errorf("the upstream received the whole oversized body: %v", p)
	}
	// Control: a chunked body under the limit arrives whole.
	n = upstreamCount()
	got = raw(t, "POST /pub/a HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	if len(got.statuses) != 1 || got.statuses[0] != http.StatusOK || len(completeSince(n)) != 1 {
		t.Fatalf("control: answers %v, whole bodies %v", got.statuses, completeSince(n))
	}
}
