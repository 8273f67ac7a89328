package secevent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// StoreSink stores each event with its retention; the sweep removes it
// once the retention has passed, not before.
func TestStoreSinkRetention(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Unix(1700000000, 0)
	sink := StoreSink{Store: st, Retention: time.Hour}
	if err := sink.Write(t.Context(), []Event{{Time: at, Type: TokenLeaked, Severity: Critical, ClientID: "app"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		want int
	}{{at.Add(59 * time.Minute), 1}, {at.Add(time.Hour), 0}} {
		if _, err := st.DeleteExpired(t.Context(), c.now, 100); err != nil {
			t.Fatal(err)
		}
		got, err := st.ListEvents(t.Context(), store.EventFilter{Types: []string{string(TokenLeaked)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("after a sweep at +%s: %d events, want %d", c.now.Sub(at), len(got), c.want)
		}
	}
}
