package gateway

import (
	"bufio"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The direct path (this file) forwards the most common request — a
// bodiless GET, HEAD, OPTIONS or TRACE over HTTP/1.x — to a plain-HTTP
// upstream without httputil.ReverseProxy: the upstream request is written
// straight from the incoming one onto the upstream connection of
// upstreamTransport, and the answer, read by net/http's ReadResponse, is
// copied back. It does what ReverseProxy with the route's Rewrite does,
// header for header; FuzzDirectForward checks the two against each other
// on the bytes the upstream receives and the answer the client gets.
//
// ReverseProxy clones the request and its header map, removes hop-by-hop
// headers from the copy, rebuilds the URL, wraps the context for a client
// trace, and Request.Write sorts the header names; on the gateway's hot
// path that was about as much CPU as the rest of the handler apart from
// the proof's signature (docs/PERFORMANCE.md). Anything the direct path
// does not handle exactly as ReverseProxy does goes to ReverseProxy:
// requests with a body, Connection, Upgrade, Expect or TE, HTTP/2, a query
// ReverseProxy would re-encode, a route whose upstream is https or built
// in.

// directRequest reports whether r can take the direct path.
func directRequest(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	// RFC 9112 §6.3: a request with neither Content-Length nor
	// Transfer-Encoding has no body.
	return r.ProtoMajor == 1 && r.ContentLength == 0 && len(r.TransferEncoding) == 0 && !r.Close &&
		r.Header["Connection"] == nil && r.Header["Upgrade"] == nil && r.Header["Expect"] == nil &&
		r.Header["Te"] == nil && cleanQuery(r.URL.RawQuery)
}

// cleanQuery reports whether ReverseProxy (Rewrite mode) would forward the
// query as it is rather than re-encode it (its cleanQueryParams): no ';',
// no malformed escape, at most 10 000 parameters, and the GODEBUG setting
// that changes the limit not set.
func cleanQuery(q string) bool {
	if q == "" {
		return true
	}
	if strings.Count(q, "&")+1 > 10000 || godebugQueryParams {
		return false
	}
	for i := 0; i < len(q); {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 3
		default:
			i++
		}
	}
	return true
}

var godebugQueryParams = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams")

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// directExcluded are the request headers never copied as they are: the
// ones Request.Write writes itself or leaves out (Host, User-Agent,
// Content-Length, Transfer-Encoding, Trailer), the hop-by-hop ones
// ReverseProxy removes (RFC 9110 §7.6.1), and the forwarding headers it
// rebuilds.
var directExcluded = map[string]bool{
	"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true,
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Upgrade": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
}

// directUpstream is what a route needs for the direct path.
type directUpstream struct {
	t        *upstreamTransport
	host     string // the Host header, as Request.Write makes it from the URL
	basePath string // the upstream URL's path without its trailing slash
	query    string // the upstream URL's query
	strip    map[string]bool
}

// newDirect returns the direct path to a plain-HTTP upstream, or nil when
// Request.Write would refuse or rewrite its host.
func newDirect(t *upstreamTransport, target *url.URL, strip []string) *directUpstream {
	host, err := httpguts.PunycodeHostPort(target.Host)
	if err != nil || host != target.Host || !httpguts.ValidHostHeader(host) || strings.Contains(host, "%") {
		return nil
	}
	d := &directUpstream{t: t, host: host, basePath: strings.TrimSuffix(target.Path, "/"), query: target.RawQuery, strip: map[string]bool{}}
	for _, h := range strip {
		d.strip[h] = true
	}
	return d
}

// errCTLInURL is Request.Write's refusal of a control byte in the URL.
var errCTLInURL = errors.New("net/http: can't write control character in Request.URL")

// writeRequest writes the upstream request for r: the request line with
// the clean path, Host, User-Agent, the client's headers less the
// excluded and stripped ones, X-Forwarded-For/-Host/-Proto and the
// verified identity.
func (d *directUpstream) writeRequest(bw *bufio.Writer, r *http.Request, rt *route, rec *record) error {
	p := rec.path
	if rt.cfg.StripPrefix && rt.prefix != "" {
		p = strings.TrimPrefix(p, rt.prefix)
		if p == "" {
			p = "/"
		}
	}
	u := url.URL{Path: d.basePath + p, RawQuery: r.URL.RawQuery, ForceQuery: r.URL.ForceQuery}
	switch {
	case d.query == "":
	case u.RawQuery == "":
		u.RawQuery = d.query
	default:
		u.RawQuery = d.query + "&" + u.RawQuery
	}
	ruri := u.RequestURI()
	if strings.ContainsFunc(ruri, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return errCTLInURL
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(ruri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(d.host)
	bw.WriteString("\r\n")
	// ReverseProxy sends no User-Agent when the client sent none, and
	// Request.Write sends the first value only.
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		if v := headerValue(ua[0]); v != "" {
			writeField(bw, "User-Agent", v)
		}
	}
	for k, vs := range r.Header {
		if directExcluded[k] || d.strip[k] || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, headerValue(v))
		}
	}
	// ProxyRequest.SetXForwarded.
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		writeField(bw, "X-Forwarded-For", headerValue(ip))
	}
	writeField(bw, "X-Forwarded-Host", headerValue(r.Host))
	if r.TLS == nil {
		writeField(bw, "X-Forwarded-Proto", "http")
	} else {
		writeField(bw, "X-Forwarded-Proto", "https")
	}
	rt.identity(rec, func(name, v string) { writeField(bw, name, headerValue(v)) })
	_, err := bw.WriteString("\r\n")
	return err
}

func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// headerValue is what Header.Write makes of a value: CR and LF become
// spaces, surrounding blanks go.
func headerValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
	}
	return textproto.TrimString(v)
}

// forward serves r over the direct path: the answer, or a 502/504 from
// the route's error handler. The body is copied as ReverseProxy copies
// it; a body cut short by the upstream aborts the client's connection,
// so a truncated answer never looks complete.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt *route, rec *record) {
	d := rt.direct
	h := w.Header()
	resp, err := d.t.do(r.Context(), r, func(bw *bufio.Writer) error { return d.writeRequest(bw, r, rt, rec) },
		func(code int, hdr textproto.MIMEHeader) error {
			// An informational answer (103 Early Hints), as
			// ReverseProxy passes it on.
			copyHeader(h, http.Header(hdr))
			w.WriteHeader(code)
			clear(h)
			return nil
		})
	if err != nil {
		rt.failed(w, r, rec, err)
		return
	}
	removeHopByHop(resp.Header)
	rt.modify(resp.Header, r)
	copyHeader(h, resp.Header)
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	var flush func() error
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "text/event-stream" || resp.ContentLength == -1 {
		// A stream, or a body of unknown length: each piece goes out as
		// it comes (ReverseProxy's negative flush interval).
		flush = http.NewResponseController(w).Flush
		_ = flush()
	}
	buf := copyBuffers.Get()
	err = copyBody(w, resp.Body, buf, flush)
	copyBuffers.Put(buf)
	if err != nil {
		resp.Body.Close()
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close() // fills in resp.Trailer
	if len(resp.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush()
	}
	if len(resp.Trailer) == announced {
		copyHeader(h, resp.Trailer)
		return
	}
	for k, vs := range resp.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

func copyBody(w io.Writer, body io.Reader, buf []byte, flush func() error) error {
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			if werr != nil {
				return werr
			}
			if m != n {
				return io.ErrShortWrite
			}
			if flush != nil {
				_ = flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// hopHeaders are removed from answers (RFC 9110 §7.6.1), with the ones
// their Connection header names.
var hopHeaders = [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}
