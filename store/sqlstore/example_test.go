package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "ward")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ward.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	now := time.Now()
	h := func(v string) []byte { b := sha256.Sum256([]byte(v)); return b[:] }
	fam := &store.Family{ID: "fam1", ClientID: "app", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	first := &store.RefreshToken{Hash: h("refresh-1"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateFamily(ctx, fam, first); err != nil {
		panic(err)
	}

	// The client refreshes: refresh-1 is exchanged for refresh-2.
	next := &store.RefreshToken{Hash: h("refresh-2"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	_, err = s.RotateRefreshToken(ctx, h("refresh-1"), next, now)
	fmt.Println("rotate:", err)

	// Someone replays refresh-1: the whole family is revoked.
	_, err = s.RotateRefreshToken(ctx, h("refresh-1"), &store.RefreshToken{Hash: h("refresh-x")}, now)
	fmt.Println("replay is reuse:", errors.Is(err, store.ErrAlreadyUsed))
	_, err = s.RotateRefreshToken(ctx, h("refresh-2"), &store.RefreshToken{Hash: h("refresh-3")}, now)
	fmt.Println("successor revoked:", errors.Is(err, store.ErrRevoked))
	// Output:
	// rotate: <nil>
	// replay is reuse: true
	// successor revoked: true
}
