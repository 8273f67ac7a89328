package capacity

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// counter is what a proxy counted: client bytes up, server bytes down,
// and requests by kind (a Redis command's name, a PostgreSQL statement's
// class and text).
type counter struct {
	up, down atomic.Int64
	mu       sync.Mutex
	kinds    map[string]int64
}

func (c *counter) add(kind string) {
	c.mu.Lock()
	c.kinds[kind]++
	c.mu.Unlock()
}

// snapshot is a copy of a counter at one moment.
type snapshot struct {
	up, down int64
	kinds    map[string]int64
}

func (c *counter) snap() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := make(map[string]int64, len(c.kinds))
	for n, v := range c.kinds {
		k[n] = v
	}
	return snapshot{up: c.up.Load(), down: c.down.Load(), kinds: k}
}

// minus is s − o.
func (s snapshot) minus(o snapshot) snapshot {
	d := snapshot{up: s.up - o.up, down: s.down - o.down, kinds: map[string]int64{}}
	for k, v := range s.kinds {
		if v -= o.kinds[k]; v != 0 {
			d.kinds[k] = v
		}
	}
	return d
}

// sum is the total of the kinds for which keep is true.
func (s snapshot) sum(keep func(string) bool) int64 {
	var n int64
	for k, v := range s.kinds {
		if keep(k) {
			n += v
		}
	}
	return n
}

// countingProxy forwards loopback connections to target, counting bytes
// both ways and feeding the client's bytes to parse (one goroutine per
// connection), which calls count for each request it finds.
type countingProxy struct {
	addr string
	c    *counter
}

func newCountingProxy(t *testing.T, target string, parse func(r *bufio.Reader, count func(string)) error) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: ln.Addr().String(), c: &counter{kinds: map[string]int64{}}}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			// The parser reads a copy through a buffered channel, so that
			// it never holds up the traffic it counts.
			ch := make(chan []byte, 4096)
			pw := chanWriter(ch)
			go func() {
				_ = parse(bufio.NewReader(&chanReader{ch: ch}), p.c.add)
				for range ch {
				}
			}()
			go func() {
				_, _ = io.Copy(countWriter{out, &p.c.up}, io.TeeReader(in, pw))
				close(ch)
				out.Close()
			}()
			go func() {
				_, _ = io.Copy(countWriter{in, &p.c.down}, out)
				in.Close()
			}()
		}
	}()
	return p
}

// chanWriter sends a copy of each write on its channel.
type chanWriter chan []byte

func (c chanWriter) Write(b []byte) (int, error) {
	c <- append([]byte(nil), b...)
	return len(b), nil
}

// chanReader reads what a chanWriter sent, until the channel is closed.
type chanReader struct {
	ch  chan []byte
	buf []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		b, ok := <-r.ch
		if !ok {
			return 0, io.EOF
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// parseRESP returns a parser of the commands a Redis client sends: arrays
// of bulk strings. It counts each by its name and, for a script
// (EVALSHA, EVAL), the shape of its first key: prefix removed and every
// segment from the first long (hashed, random) one on replaced by "…".
func parseRESP(prefix string) func(r *bufio.Reader, count func(string)) error {
	return func(r *bufio.Reader, count func(string)) error { return readRESP(r, prefix, count) }
}

func keyShape(key, prefix string) string {
	segs := strings.Split(strings.TrimPrefix(key, prefix), ":")
	for i, s := range segs {
		if len(s) >= 16 {
			return strings.Join(append(segs[:i:i], "…"), ":")
		}
	}
	return strings.Join(segs, ":")
}

func readRESP(r *bufio.Reader, prefix string, count func(string)) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "*") {
			return errors.New("RESP: not an array: " + line)
		}
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return err
		}
		var name, key string
		for i := range n {
			hdr, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			size, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
			if err != nil {
				return err
			}
			b := make([]byte, size+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			switch {
			case i == 0:
				name = strings.ToUpper(string(b[:size]))
			case i == 3 && (name == "EVALSHA" || name == "EVAL"):
				key = " " + keyShape(string(b[:size]), prefix)
			}
		}
		count(name + key)
	}
}

// parsePG reads the messages a PostgreSQL client sends after the start-up
// message and counts each statement executed (Execute of a bound portal,
// or a simple Query) as "class: text", the class being read, write, tx or
// other. Prepared statements are remembered by name per connection.
func parsePG(r *bufio.Reader, count func(string)) error {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if _, err := r.Discard(int(binary.BigEndian.Uint32(hdr[:4])) - 8); err != nil {
		return err
	}
	stmts := map[string]string{} // statement name → text
	portal := ""                 // the text of the last bound portal
	for {
		typ, err := r.ReadByte()
		if err != nil {
			return err
		}
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return err
		}
		body := make([]byte, int(binary.BigEndian.Uint32(l[:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		switch typ {
		case 'P': // Parse: name, query
			f := strings.SplitN(string(body), "\x00", 3)
			stmts[f[0]] = f[1]
		case 'B': // Bind: portal, statement
			f := strings.SplitN(string(body), "\x00", 3)
			portal = stmts[f[1]]
		case 'E': // Execute
			count(classify(portal))
		case 'Q': // simple Query
			count(classify(strings.TrimRight(string(body), "\x00")))
		}
	}
}

// classify names a statement by its class and its first 60 characters.
func classify(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	class := "other"
	switch w := strings.ToLower(strings.SplitN(q+" ", " ", 2)[0]); w {
	case "select":
		class = "read"
		if strings.Contains(strings.ToLower(q), " for update") {
			class = "read-lock"
		}
	case "insert", "update", "delete":
		class = "write"
	case "begin", "commit", "rollback":
		class = "tx"
	}
	if len(q) > 60 {
		q = q[:60]
	}
	return class + ": " + q
}

func isClass(class string) func(string) bool {
	return func(k string) bool { return strings.HasPrefix(k, class+": ") }
}
