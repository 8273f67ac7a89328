// Package httpsafe holds HTTP framing rules that Ward's listeners apply
// before any handler runs.
package httpsafe

import "net/http"

// CloseAfterChunked makes the server close the connection after answering
// a request with a Transfer-Encoding. RFC 9112 §6.1: a server that
// receives both Content-Length and Transfer-Encoding MUST close the
// connection after responding. net/http frames such a request by the
// chunked encoding (§6.3) but keeps the connection open, and by the time a
// handler runs it has dropped Content-Length, so the two cannot be told
// apart: every chunked request is answered with Connection: close. A proxy
// in front that framed the request by Content-Length therefore cannot get
// a second, hidden request read from the same connection.
func CloseAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
