package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
)

// An instance says which catalogue it judges with while it runs: it holds
// the shared advisory lock PresenceKey(name, its catalogue) on the session
// it listens for switches on (ListenSwitches), so the lock goes with the
// instance, a crash included. Before and while it projects into a read
// model judged by another catalogue (another id, or another version of its
// own: during a rolling upgrade of the catalogue, the instances not yet
// restarted), an instance asks CataloguePresent whether an instance of the
// read model's catalogue runs; if one does, that one projects, and this
// one stands by: the stored levels follow one rule book. If none does
// (every instance rolled back to an older catalogue), it projects, as
// before: serving and projecting go on, its answers mixing two rule books
// until the read model is rebuilt for its catalogue.

// PresenceKey is the key of the shared advisory lock an instance of read
// model name holds while it runs with catalogue (id, version): a 64-bit
// FNV-1a hash of a prefix, the name, the id and the version.
func PresenceKey(name, catalogueID string, version int) int64 {
	h := fnv.New64a()
	h.Write([]byte("careerledger catalogue\x00" + name + "\x00" + catalogueID + "\x00" + strconv.Itoa(version))) //nolint:errcheck // a hash.Hash never fails
	return int64(h.Sum64())
}

// CataloguePresent reports whether an instance of read model name running
// with catalogue (id, version) holds its presence lock in this database.
func CataloguePresent(ctx context.Context, pool *pgxpool.Pool, name, catalogueID string, version int) (bool, error) {
	key := uint64(PresenceKey(name, catalogueID, version))
	// pg_locks shows a bigint key's high 32 bits as classid, its low 32
	// bits as objid, and objsubid 1.
	var present bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1::bigint::oid AND objid = $2::bigint::oid)`, int64(key>>32), int64(key&0xffffffff)).Scan(&present)
	if err != nil {
		return false, fmt.Errorf("is an instance of catalogue %s version %d present: %w", catalogueID, version, err)
	}
	return present, nil
}
