package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// The raw client: a lean HTTP/1.1 client for the measured phases, so that
// on a small machine the load generator takes as little CPU as it can from
// the processes it measures (net/http's client runs a reader and a writer
// goroutine per connection and hands every request and answer between
// them over channels).
//
// Requests are serialized before a phase (rawRequests); during the phase
// each connection is driven by one goroutine that writes a request and
// reads its answer, synchronously (rawConn.do). An answer is framed by its
// Content-Length or by chunked transfer coding; one with neither (a body
// delimited by the server closing the connection) is refused: it counts as
// a failure and the connection is closed, so no answer is ever mis-framed.
// There are no retries: a request that fails on a connection the server
// closed counts as a failure (net/http would retry such a GET once).

// rawUserAgent is the User-Agent the raw client sends.
const rawUserAgent = "ward-gatewayload"

// rawRequests holds serialized requests back to back in one buffer:
// request k is buf[offs[k]:offs[k+1]] and goes to addrs[k%len(addrs)].
type rawRequests struct {
	addrs []string // host:port to dial, one per target URL
	buf   []byte
	offs  []int
	reuse bool // request i is request i%n (else i must be < n)
}

// newRawRequests serializes GET requests for urls (request i goes to
// urls[i%len(urls)], as the net/http client sends them), each with the
// access token and proof proofs[i%len(proofs)]. Without reuse there is one
// request per proof; with reuse, len(proofs)×len(urls) requests, sent over
// and over.
func newRawRequests(urls []string, token string, proofs []string, reuse bool) (*rawRequests, error) {
	if len(urls) == 0 || len(proofs) == 0 {
		return nil, errors.New("no URLs or no proofs")
	}
	r := &rawRequests{reuse: reuse}
	var hosts, paths []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("%s: the raw client speaks plain http to host:port", s)
		}
		addr := u.Host
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		r.addrs = append(r.addrs, addr)
		hosts = append(hosts, u.Host)
		paths = append(paths, u.RequestURI())
	}
	n := len(proofs)
	if reuse {
		n *= len(urls) // a multiple of len(urls): request k still goes to target k%len(urls)
	}
	size := 0
	for k := range n {
		size += rawRequestLen(paths[k%len(urls)], hosts[k%len(urls)], token, proofs[k%len(proofs)])
	}
	r.buf = make([]byte, 0, size)
	r.offs = make([]int, 1, n+1)
	for k := range n {
		t := k % len(urls)
		r.buf = appendRawRequest(r.buf, paths[t], hosts[t], token, proofs[k%len(proofs)])
		r.offs = append(r.offs, len(r.buf))
	}
	return r, nil
}

// n is the number of distinct requests.
func (r *rawRequests) n() int { return len(r.offs) - 1 }

// get returns the i-th request to send and the index of its target.
func (r *rawRequests) get(i int) (req []byte, target int) {
	k := i
	if r.reuse {
		k %= r.n()
	}
	return r.buf[r.offs[k]:r.offs[k+1]], k % len(r.addrs)
}

func appendRawRequest(b []byte, path, host, token, proof string) []byte {
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: "+rawUserAgent+"\r\nAuthorization: DPoP "...)
	b = append(b, token...)
	b = append(b, "\r\nDPoP: "...)
	b = append(b, proof...)
	b = append(b, "\r\n\r\n"...)
	return b
}

func rawRequestLen(path, host, token, proof string) int {
	return len(appendRawRequest(nil, path, "", "", "")) + len(host) + len(token) + len(proof)
}

// rawConn is one keep-alive connection of the raw client, used by one
// goroutine at a time.
type rawConn struct {
	addr string
	// deadline bounds every read and write on the connection (set once
	// when dialing, so a server that stops answering cannot hang the
	// phase); zero for none.
	deadline time.Time
	c        net.Conn
	br       *bufio.Reader
}

// rawReadBuffer is the per-connection read buffer; it also bounds the
// length of one line of an answer's head.
const rawReadBuffer = 8 << 10

func (rc *rawConn) dial() error {
	c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second) // TCP_NODELAY is Go's default
	if err != nil {
		return err
	}
	if !rc.deadline.IsZero() {
		if err := c.SetDeadline(rc.deadline); err != nil {
			c.Close()
			return err
		}
	}
	rc.c = c
	if rc.br == nil {
		rc.br = bufio.NewReaderSize(c, rawReadBuffer)
	} else {
		rc.br.Reset(c)
	}
	return nil
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}

// statusError is a well-framed answer other than 200.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("status %d", int(e)) }

// do sends req and reads its answer; nil means a 200. The connection is
// dialed first if it is not open, and closed after a read or write error,
// a malformed or unframeable answer, or an answer with Connection: close
// (or an HTTP/1.0 one without keep-alive); the next do dials again.
func (rc *rawConn) do(req []byte) error {
	if rc.c == nil {
		if err := rc.dial(); err != nil {
			return err
		}
	}
	status, keep, err := rc.roundTrip(req)
	if err != nil || !keep {
		rc.close()
	}
	if err != nil {
		return err
	}
	if status != 200 {
		return statusError(status)
	}
	return nil
}

func (rc *rawConn) roundTrip(req []byte) (status int, keep bool, err error) {
	if n := rc.br.Buffered(); n > 0 {
		// Bytes nobody asked for: the previous answer was not what its
		// framing said, and what follows cannot be trusted.
		return 0, false, fmt.Errorf("%d unexpected bytes before the request", n)
	}
	if _, err := rc.c.Write(req); err != nil {
		return 0, false, err
	}
	for {
		status, keep, err = rc.readResponse()
		if err != nil || status >= 200 {
			return status, keep, err
		}
		// 1xx (informational): its head is read; the answer follows.
	}
}

// readResponse reads one answer's head and discards its body.
func (rc *rawConn) readResponse() (status int, keep bool, err error) {
	line, err := rc.line()
	if err != nil {
		return 0, false, err
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[7] != '0' && line[7] != '1' ||
		line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 || status == 101 {
		return status, false, fmt.Errorf("unexpected status %d", status)
	}
	http10 := line[7] == '0'
	keep = !http10
	contentLength, chunked := int64(-1), false
	for {
		line, err := rc.line()
		if err != nil {
			return status, false, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			// Also obsolete line folding (a line starting with white space).
			return status, false, fmt.Errorf("malformed header line %q", line)
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || contentLength >= 0 && n != contentLength {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
			contentLength = n
		case equalFold(name, "transfer-encoding"):
			if !equalFold(value, "chunked") || chunked {
				return status, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
			chunked = true
		case equalFold(name, "connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if equalFold(tok, "close") {
					keep = false
				} else if http10 && equalFold(tok, "keep-alive") {
					keep = true
				}
			}
		}
	}
	if status < 200 || status == 204 || status == 304 {
		return status, keep, nil // no body, whatever the head says
	}
	switch {
	case chunked && contentLength >= 0:
		return status, false, errors.New("both Transfer-Encoding and Content-Length")
	case chunked:
		err = rc.discardChunked()
	case contentLength >= 0:
		_, err = rc.br.Discard(int(contentLength))
	default:
		// Delimited by the end of the connection: refused rather than
		// trusted, so a cut-short answer is never counted as complete.
		return status, false, errors.New("answer without Content-Length or chunked encoding (refused)")
	}
	if err != nil {
		return status, false, err
	}
	return status, keep, nil
}

// discardChunked reads a chunked body and its trailer section.
func (rc *rawConn) discardChunked() error {
	for {
		line, err := rc.line()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		size, ok := parseHex(bytes.TrimRight(line, " \t"))
		if !ok {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			break
		}
		if _, err := rc.br.Discard(int(size)); err != nil {
			return err
		}
		if line, err := rc.line(); err != nil {
			return err
		} else if len(line) != 0 {
			return errors.New("chunk not followed by CRLF")
		}
	}
	for { // trailer section, up to an empty line
		line, err := rc.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// line returns the next line without its line ending (CRLF, or LF as
// net/http also accepts); it is valid until the next read.
func (rc *rawConn) line() ([]byte, error) {
	b, err := rc.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			err = errors.New("line of the answer's head too long")
		}
		return nil, err
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b, nil
}

// equalFold reports whether b equals lower (lower case ASCII), ignoring
// ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseDecimal parses 1 to 15 decimal digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseHex parses 1 to 15 hexadecimal digits.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}
