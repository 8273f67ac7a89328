package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
	"github.com/wardauth/ward/store/storetest"
)

func openFile(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "ward.db"))
	})
}

func TestSQLiteReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "ward.db")
		return func() store.Store { return openFile(t, path) }
	})
}

// The in-memory database is served by one connection, so it passes the
// suite too.
func TestSQLiteMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
}
