package keys_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/wardauth/ward/store"
)

// memStore is an in-memory store.SigningKeys for tests.
type memStore struct {
	mu   sync.Mutex
	rows map[string]store.SigningKey
}

var _ store.SigningKeys = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{rows: map[string]store.SigningKey{}} }

func (s *memStore) PutSigningKey(_ context.Context, k *store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[k.ID]; ok {
		return fmt.Errorf("key %q: %w", k.ID, store.ErrAlreadyExists)
	}
	s.rows[k.ID] = *k
	return nil
}

func (s *memStore) UpdateSigningKey(_ context.Context, k *store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[k.ID]; !ok {
		return fmt.Errorf("key %q: %w", k.ID, store.ErrNotFound)
	}
	s.rows[k.ID] = *k
	return nil
}

func (s *memStore) ListSigningKeys(context.Context) ([]*store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*store.SigningKey, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, &r)
	}
	return out, nil
}

func (s *memStore) DeleteSigningKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rows, id)
	return nil
}

// set replaces a row directly (to simulate tampering).
func (s *memStore) set(k store.SigningKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[k.ID] = k
}
