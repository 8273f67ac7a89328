package sqlstore

import (
	"path/filepath"
	"testing"
)

// TestDurablePragmas: the writer connection fsyncs every commit
// (synchronous=FULL, 2) in WAL mode, so a power loss cannot undo a rotation
// or a redemption; and foreign keys are enforced.
func TestDurablePragmas(t *testing.T) {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ pragma, want string }{
		{"synchronous", "2"}, {"journal_mode", "wal"}, {"foreign_keys", "1"},
	} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
}
