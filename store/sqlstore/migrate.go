package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must start with a positive number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the dialect's pending migrations in one transaction, so
// that a failed migration leaves the schema as it was, and several
// processes opening the same database at once apply each migration once.
// It runs under ctx alone, not the per-call deadline: a long migration is
// bounded by the caller (ward serve's store.startup_timeout).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.migrations)
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return s.runTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if s.d.unboundMigrations != "" {
			if _, err := tx.ExecContext(ctx, s.d.unboundMigrations); err != nil {
				return fmt.Errorf("sqlstore: lift statement_timeout for migrations: %w", err)
			}
		}
		if s.d.lockMigrations != "" {
			if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
				return fmt.Errorf("sqlstore: lock for migrations: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.versionTable); err != nil {
			return fmt.Errorf("sqlstore: create schema_version: %w", err)
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("sqlstore: read schema_version: %w", err)
		}
		if n := len(ms); n > 0 && cur > ms[n-1].version {
			return fmt.Errorf("sqlstore: database schema version %d is newer than this binary's %d", cur, ms[n-1].version)
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
				m.version, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("sqlstore: record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
