package keys_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store/sqlstore"
)

// TestFirstKeyOnceAcrossInstances: instances starting together on an empty
// store create one first key between them, and all sign with it, so every
// instance publishes the key every other one signs with.
func TestFirstKeyOnceAcrossInstances(t *testing.T) {
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek := mustKEK(t, 7)
	const instances = 8
	ms := make([]*keys.Manager, instances)
	for i := range ms {
		if ms[i], err = keys.New(st, []keys.KEK{kek}, keys.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, instances)
	start := make(chan struct{})
	for i, m := range ms {
		wg.Go(func() {
			<-start
			errs[i] = m.EnsureKey(t.Context(), now)
		})
	}
	close(start)
	wg.Wait()
	rows, err := st.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d first keys created by %d instances starting together, want 1", len(rows), instances)
	}
	for i, m := range ms {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		k, err := m.Signer(now.Add(time.Second))
		if err != nil || k.KeyID != rows[0].ID {
			t.Fatalf("instance %d signs with %v (%v), want %s", i, k, err, rows[0].ID)
		}
	}
}
