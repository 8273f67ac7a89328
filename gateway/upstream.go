package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// upstreamTransport carries the reverse proxy's requests without a body
// and with a replayable method (GET, HEAD, OPTIONS, TRACE) to a plain-HTTP
// upstream over HTTP/1.1 on the calling goroutine: write the request,
// read the answer, hand the connection back when its body is read to the
// end. Everything else goes to fallback (an *http.Transport).
//
// http.Transport runs two goroutines per connection (one writes requests,
// one reads answers) and hands every request and answer between them and
// the caller over channels; on a loaded 2-core machine these wake-ups cost
// about as much CPU as the rest of the proxying (docs/PERFORMANCE.md).
// Requests and answers are still written and parsed by net/http
// (Request.Write, ReadResponse); this type only owns the connections.
// FuzzUpstreamTransport checks it against http.Transport.
//
// What http.Transport's background reader does for an idle connection is
// done when the connection is taken again: a connection with bytes waiting
// (an answer nobody asked for) or closed by the upstream is dropped, so one
// request never receives the answer meant for another. A reused connection
// that fails before an answer arrives is retried once on a new one, which
// is why only replayable methods take this path.
type upstreamTransport struct {
	host     string // the upstream's URL host, as in the requests
	addr     string // host:port to dial
	fallback http.RoundTripper
	// headerTimeout bounds writing the request and reading the answer's
	// headers (ResponseHeaderTimeout); 0 for none.
	headerTimeout time.Duration
	maxIdle       int
	idleTimeout   time.Duration
	dialer        net.Dialer

	mu   sync.Mutex
	idle []*upstreamConn // most recently used last
}

// maxResponseHeaderBytes is http.Transport's default limit on an
// answer's headers (MaxResponseHeaderBytes).
const maxResponseHeaderBytes = 10 << 20

func newUpstreamTransport(host string, fallback *http.Transport) *upstreamTransport {
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80")
	}
	return &upstreamTransport{
		host: host, addr: addr, fallback: fallback, headerTimeout: fallback.ResponseHeaderTimeout,
		maxIdle: fallback.MaxIdleConnsPerHost, idleTimeout: fallback.IdleConnTimeout,
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
	}
}

var _ http.RoundTripper = (*upstreamTransport)(nil)

type upstreamConn struct {
	conn      net.Conn
	lr        limitedReader
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// limitedReader bounds how much of the connection may be read (the
// answer's headers); n is reset to unlimited for the body.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("gateway: upstream answer headers larger than %d bytes", maxResponseHeaderBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// fast reports whether r takes the synchronous path.
func (t *upstreamTransport) fast(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return r.URL.Scheme == "http" && r.URL.Host == t.host && (r.Body == nil || r.Body == http.NoBody) &&
		r.ContentLength == 0 && !r.Close && len(r.TransferEncoding) == 0 && len(r.Trailer) == 0 &&
		r.Header["Upgrade"] == nil && r.Header["Connection"] == nil && r.Header["Expect"] == nil
}

func (t *upstreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.fast(r) {
		return t.fallback.RoundTrip(r)
	}
	var got1xx func(int, textproto.MIMEHeader) error
	if trace := httptrace.ContextClientTrace(r.Context()); trace != nil {
		got1xx = trace.Got1xxResponse
	}
	return t.do(r.Context(), r, func(bw *bufio.Writer) error { return r.Write(bw) }, got1xx)
}

// do sends a request written by write (r gives its method, for framing
// the answer) and returns the answer, whose body hands the connection
// back. got1xx, when not nil, receives informational answers; without it
// they are skipped.
func (t *upstreamTransport) do(ctx context.Context, r *http.Request, write func(*bufio.Writer) error, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := t.roundTrip(ctx, c, r, write, got1xx)
		if err == nil {
			return resp, nil
		}
		_ = c.conn.Close()
		var stale staleError
		if reused && attempt == 0 && errors.As(err, &stale) && ctx.Err() == nil {
			continue // the upstream closed an idle connection: once more on a new one
		}
		if errors.As(err, &stale) {
			err = stale.err
		}
		return nil, err
	}
}

// staleError is a failure before any byte of an answer arrived.
type staleError struct{ err error }

func (e staleError) Error() string { return e.err.Error() }
func (e staleError) Unwrap() error { return e.err }

func (t *upstreamTransport) roundTrip(ctx context.Context, c *upstreamConn, r *http.Request, write func(*bufio.Writer) error, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// A cancelled request (the client went away) unblocks the
	// connection; the connection is then closed, never reused.
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	if t.headerTimeout > 0 {
		_ = c.conn.SetDeadline(time.Now().Add(t.headerTimeout))
	}
	if err := write(c.bw); err != nil {
		stop()
		return nil, staleError{err}
	}
	if err := c.bw.Flush(); err != nil {
		stop()
		return nil, staleError{err}
	}
	c.lr.n = maxResponseHeaderBytes
	if _, err := c.br.Peek(1); err != nil {
		stop()
		return nil, staleError{ctxErr(ctx, err)}
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(c.br, r)
		if err != nil {
			stop()
			return nil, ctxErr(ctx, err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// Only requests without Upgrade come here.
			stop()
			return nil, errors.New("gateway: upstream switched protocols without being asked to")
		}
		// An informational answer (103 Early Hints): passed on as
		// http.Transport does (ReverseProxy forwards it), then the next.
		if got1xx != nil {
			if err := got1xx(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				stop()
				return nil, err
			}
			c.lr.n = maxResponseHeaderBytes
		}
	}
	c.lr.n = math.MaxInt64
	_ = c.conn.SetDeadline(time.Time{})
	resp.Body = &upstreamBody{rc: resp.Body, t: t, c: c, stop: stop, reuse: !resp.Close}
	return resp, nil
}

func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// upstreamBody hands the connection back when the body has been read to
// its end, and closes it otherwise.
type upstreamBody struct {
	rc    io.ReadCloser
	t     *upstreamTransport
	c     *upstreamConn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *upstreamBody) finish(eof bool) {
	b.done = true
	// stop is false when the request was cancelled: the deadline may be
	// set, and the connection is not reused. Bytes already buffered past
	// the answer are an answer nobody asked for.
	if b.stop() && eof && b.reuse && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
		return
	}
	_ = b.c.conn.Close()
}

// get returns an idle connection that is still open and has nothing
// waiting to be read, or a new one.
func (t *upstreamTransport) get(ctx context.Context) (*upstreamConn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		c := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if (t.idleTimeout <= 0 || now.Sub(c.idleSince) < t.idleTimeout) && quiet(c.conn) {
			return c, true, nil
		}
		_ = c.conn.Close()
	}
	conn, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	c := &upstreamConn{conn: conn}
	c.lr = limitedReader{r: conn, n: math.MaxInt64}
	c.br = bufio.NewReader(&c.lr)
	c.bw = bufio.NewWriter(conn)
	return c, false, nil
}

func (t *upstreamTransport) put(c *upstreamConn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if len(t.idle) < t.maxIdle {
		t.idle = append(t.idle, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		_ = c.conn.Close()
	}
}
