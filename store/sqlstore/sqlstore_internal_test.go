package sqlstore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

func TestPragmasAndSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ward.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, db := range []struct {
		name string
		q    func(string) string
	}{
		{"writer", func(p string) (v string) { _ = s.w.QueryRow("PRAGMA " + p).Scan(&v); return }},
		{"reader", func(p string) (v string) { _ = s.r.QueryRow("PRAGMA " + p).Scan(&v); return }},
	} {
		for p, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
			if got := db.q(p); got != want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", db.name, p, got, want)
			}
		}
	}
	var qo string
	if err := s.r.QueryRow("PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader pool: PRAGMA query_only = %q, %v; want 1", qo, err)
	}
	ms, err := loadMigrations(s.d.migrations)
	if err != nil {
		t.Fatal(err)
	}
	var v, n int
	if err := s.w.QueryRow(`SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != ms[len(ms)-1].version || n != len(ms) {
		t.Fatalf("schema_version: max %d count %d, want %d and %d", v, n, ms[len(ms)-1].version, len(ms))
	}
	s.Close()

	// Reopening applies nothing twice.
	s2, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if err := s2.w.QueryRow(`SELECT COUNT(*) FROM schema_version`).Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("after reopen: %d versions, %v", n, err)
	}
	// A database from a newer binary is refused.
	if _, err := s2.w.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := OpenSQLite(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open newer schema: %v, want refusal", err)
	}
}

// TestManyStoresOneFile runs the rotation race across several Stores on
// one file, as several processes would: each has its own writer
// connection, so they serialize on SQLite's lock (BEGIN IMMEDIATE and
// busy_timeout), not on database/sql's pool.
func TestManyStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ward.db")
	var stores []*Store
	for range 4 {
		s, err := OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	ctx := t.Context()
	now := time.Now()
	h := func(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }
	fam := &store.Family{ID: "f", ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := stores[0].CreateFamily(ctx, fam, &store.RefreshToken{Hash: h("rt"), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const racers = 40
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = stores[i%len(stores)].RotateRefreshToken(ctx, h("rt"),
				&store.RefreshToken{Hash: h(fmt.Sprint("next", i)), ExpiresAt: now.Add(time.Hour)}, now)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrAlreadyUsed):
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d rotations succeeded, want 1", ok)
	}
	f, err := stores[3].GetFamily(ctx, "f")
	if err != nil || !f.Revoked() {
		t.Fatalf("family after race: %+v, %v", f, err)
	}
}
