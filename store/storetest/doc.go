// Package storetest is the conformance suite for [store.Store]
// implementations: one set of tests every implementation must pass, so that
// SQLite and PostgreSQL behave the same.
//
// An implementation's test calls [Run] with a function that opens a fresh,
// empty store, and, if its data outlives Close, [RunReopen]:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "ward.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// [RunUnavailable] takes the backing service away (a proxy cut, or a
// black hole) and checks that every call reports store.ErrUnavailable.
//
// The suite never sleeps: expiry is driven by the now arguments, and the
// race tests start many goroutines on one value and count the outcomes.
package storetest
