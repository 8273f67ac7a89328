package bff

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store errors.
var (
	// ErrNotFound: no live entry under that key (never stored, expired,
	// deleted or already taken).
	ErrNotFound = errors.New("bff: not found")
	// ErrFull: the memory store holds its maximum number of live entries;
	// no new login is accepted until some expire.
	ErrFull = errors.New("bff: session store is full")
	// ErrUnavailable: the store cannot be reached (Redis down). Requests
	// that need it are refused with 503; nothing is served unchecked.
	ErrUnavailable = errors.New("bff: session store unavailable")
	// ErrLocked: a session's lock could not be taken in time.
	ErrLocked = errors.New("bff: session is busy")
)

// Store keeps the BFF's server-side state: sessions and logins in
// progress. Keys are hashes of the random ids in the browser's cookies
// and values are sealed (AES-GCM) by the Site, so a store's content alone
// gives neither a cookie nor a token. Implementations must be safe for
// concurrent use.
type Store interface {
	// Put stores value under key until ttl passes, replacing any value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the live value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take returns and deletes the value under key in one step, so that
	// of two concurrent calls at most one gets it (single use).
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Lock serialises updates of one session (token refresh, last-seen):
	// it waits until key's lock is free or ctx ends and returns the
	// function that releases it. A lock is held at most ttl.
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// MemoryStore is a Store in the process's memory: the default, for one
// instance. It holds at most its maximum number of live entries and
// forgets expired ones.
type MemoryStore struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	entries map[string]memEntry
	locks   map[string]*memLock
	puts    int
}

type memEntry struct {
	value []byte
	exp   time.Time
}

type memLock struct {
	ch   chan struct{} // holds one token while free
	refs int
}

// NewMemoryStore returns a store of at most max live entries (default
// 100,000 when max <= 0); now is the clock (default time.Now).
func NewMemoryStore(max int, now func() time.Time) *MemoryStore {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, max: max, entries: map[string]memEntry{}, locks: map[string]*memLock{}}
}

// Put implements Store.
func (m *MemoryStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.puts++
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.max || m.puts%4096 == 0 {
		m.sweep(now)
	}
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.max {
		return ErrFull
	}
	m.entries[key] = memEntry{value: append([]byte(nil), value...), exp: now.Add(ttl)}
	return nil
}

func (m *MemoryStore) sweep(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.exp) {
			delete(m.entries, k)
		}
	}
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !m.now().Before(e.exp) {
		delete(m.entries, key)
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

// Take implements Store.
func (m *MemoryStore) Take(ctx context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	delete(m.entries, key)
	if !ok || !m.now().Before(e.exp) {
		return nil, ErrNotFound
	}
	return e.value, nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// Len returns the number of entries held, expired ones included until
// they are swept.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Lock implements Store. In one process a lock is released only by its
// unlock function (ttl is not needed: a crashed holder takes the process
// with it).
func (m *MemoryStore) Lock(ctx context.Context, key string, _ time.Duration) (func(), error) {
	m.mu.Lock()
	l := m.locks[key]
	if l == nil {
		l = &memLock{ch: make(chan struct{}, 1)}
		l.ch <- struct{}{}
		m.locks[key] = l
	}
	l.refs++
	m.mu.Unlock()
	release := func() {
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
	select {
	case <-l.ch:
		var once sync.Once
		return func() { once.Do(func() { l.ch <- struct{}{}; release() }) }, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("%w: %v", ErrLocked, ctx.Err())
	}
}

// RedisStore is a Store on Redis, shared by every gateway instance of a
// deployment. Each operation is one atomic Redis command; Take is GETDEL.
type RedisStore struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// RedisTimeout is the default bound of each call a RedisStore makes to
// Redis, waiting for a connection and retries included (the budget of
// package redisstore's default client: one dial and one read timeout), so
// that a dead or silent Redis fails a request quickly however many wait.
// Lock bounds each of its attempts by it; its wait for a busy lock is the
// caller's.
const RedisTimeout = 200 * time.Millisecond

// WithTimeout sets the bound of each call (RedisTimeout by default;
// redisstore.Budget of the client's settings is the right value) and
// returns s.
func (s *RedisStore) WithTimeout(d time.Duration) *RedisStore {
	if d > 0 {
		s.timeout = d
	}
	return s
}

// bounded returns ctx with the store's timeout at most left.
func (s *RedisStore) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// NewRedisStore returns a store on c whose keys start with prefix (for
// example "ward:bff:app:").
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: prefix, timeout: RedisTimeout}
}

func (s *RedisStore) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}

// taken starts the value of a key that Take took: the marker, the taking
// call's token, NUL, the value. It is kept for takenTTL so that a retry
// of that Take (go-redis resends a command whose answer timed out) gets
// the value back; every other call sees the key as absent.
const (
	taken    = "\x00ward-bff-taken\x00"
	takenTTL = 10 * time.Second
)

// errTakenPrefix refuses a value that would read as taken.
var errTakenPrefix = errors.New("bff: a value must not start with the taken marker")

// Put implements Store.
func (s *RedisStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if bytes.HasPrefix(value, []byte(taken)) {
		return errTakenPrefix
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	return s.wrap("put", s.c.Set(ctx, s.prefix+key, value, ttl).Err())
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if err == nil && bytes.HasPrefix(b, []byte(taken)) {
		return nil, ErrNotFound
	}
	return b, s.wrap("get", err)
}

// takeScript returns KEYS[1]'s value and leaves in its place the taken
// marker with this call's token ARGV[1] and the value, for ARGV[2] ms.
// Called again with the same token (a retry), it returns the value again;
// with another, nothing.
var takeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local m = '\0ward-bff-taken\0'
if string.sub(v, 1, #m) ~= m then
  redis.call('SET', KEYS[1], m .. ARGV[1] .. '\0' .. v, 'PX', ARGV[2])
  return v
end
local rest = string.sub(v, #m + 1)
local i = string.find(rest, '\0', 1, true)
if i and string.sub(rest, 1, i - 1) == ARGV[1] then return string.sub(rest, i + 1) end
return false
`)

// Take implements Store. It is single use even when go-redis retries it:
// the retry of the call that took the value gets it again (takeScript),
// any other call gets ErrNotFound.
func (s *RedisStore) Take(ctx context.Context, key string) ([]byte, error) {
	tok, err := token()
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	v, err := takeScript.Run(ctx, s.c, []string{s.prefix + key}, tok, takenTTL.Milliseconds()).Text()
	return []byte(v), s.wrap("take", err)
}

// token is a random value unique to one call.
func token() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	return s.wrap("delete", s.c.Del(ctx, s.prefix+key).Err())
}

// unlockScript deletes the lock only if it still holds this holder's
// token, so a holder whose lock expired cannot release another's.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// lockScript takes KEYS[1] for the holder token ARGV[1] for ARGV[2] ms
// (SET NX PX) and reports whether the holder has it: 1 also when the key
// holds this holder's token already, which is a retry of a SET whose
// answer was lost, not a busy lock.
var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// Lock implements Store with SET NX PX and a random holder token
// (lockScript); it polls every 20 ms until the lock is free or ctx ends.
func (s *RedisStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	tok, err := token()
	if err != nil {
		return nil, err
	}
	k := s.prefix + "lock:" + key
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		attempt, cancel := s.bounded(ctx)
		n, err := lockScript.Run(attempt, s.c, []string{k}, tok, max(ttl.Milliseconds(), 1)).Int()
		cancel()
		ok := n == 1
		if err != nil {
			if ctx.Err() != nil { // our wait ended, Redis did not fail
				return nil, fmt.Errorf("%w: %v", ErrLocked, ctx.Err())
			}
			return nil, s.wrap("lock", err)
		}
		if ok {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				defer cancel()
				_ = unlockScript.Run(ctx, s.c, []string{k}, tok).Err()
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrLocked, ctx.Err())
		case <-t.C:
		}
	}
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Store = (*RedisStore)(nil)
)
