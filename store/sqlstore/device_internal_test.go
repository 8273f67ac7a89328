package sqlstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// TestPollDeviceGrantLostRace: a poll whose conditional UPDATE matches
// nothing because a concurrent first poll bound the grant to another
// key in between (played by a trigger that binds the winner's key and
// drops the loser's update) is ErrKeyMismatch, not the grant as read
// before: the loser must not see an approved, unbound grant.
func TestPollDeviceGrantLostRace(t *testing.T) {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, now := t.Context(), time.Now().UTC().Truncate(time.Second)
	g := &store.DeviceGrant{Hash: []byte("device-hash"), UserCodeHash: []byte("user-hash"), ClientID: "tv", Scope: "read",
		Interval: 5 * time.Second, Status: store.DevicePending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.PutDeviceGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.DecideDeviceGrant(ctx, g.UserCodeHash, true, "u-alice", now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER race BEFORE UPDATE OF jkt ON device_grants WHEN NEW.jkt = 'thief'
		BEGIN UPDATE device_grants SET jkt = 'device', last_poll_at = 1 WHERE hash = OLD.hash; SELECT RAISE(IGNORE); END`); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.PollDeviceGrant(ctx, g.Hash, "tv", "thief", "", now, 5*time.Second)
	if !errors.Is(err, store.ErrKeyMismatch) {
		t.Fatalf("the poll that lost the binding: %+v, %v; want ErrKeyMismatch", got, err)
	}
}
