package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// An instance says which catalogue it judges with while it runs: it holds
// the shared advisory lock of its Presence on the session it listens for
// switches on (ListenSwitches), so the lock goes with the instance, a crash
// included. An instance whose catalogue is not the one that judged the read
// model (another id, or another version of its own: during a rolling
// upgrade of the catalogue, the instances not yet restarted) leaves
// projecting to an instance of the read model's catalogue whenever one
// runs: careerd looks (CataloguePresent) before and while it projects, and
// every batch of a serving store checks it again in its transaction
// (ErrStandBy), so that no batch commits by the other rules once the
// newer instance is there: the batch takes the newer catalogue's lock
// exclusively until it commits, so that instance, starting while the
// batch is in flight, is present only after it. If none runs (every instance rolled back), it
// projects, as before: serving and projecting go on, its answers mixing two
// rule books until the read model is rebuilt for its catalogue.

// Presence is what an instance of a deployment judges with.
type Presence struct {
	Name        string // the deployment: careerd's --schema
	CatalogueID string
	Version     int
	// Format is the read-model format the instance writes (Format); 0
	// holds no format presence. Same catalogue, another format: the
	// instance of the read model's format projects (FormatPresent).
	Format int
}

// The lock is the two-key advisory lock (hashtext of the deployment and
// the catalogue's id, the version), which SQL computes from the registry's
// row as well as Go does from an instance's catalogue: pg_locks shows it
// with classid the first key (its 32 bits unsigned), objid the second and
// objsubid 2; an instance holds it shared, a batch standing in for none
// exclusively (see activeCheckSQL), which is no presence.
const (
	presenceText = `'careerledger catalogue' || chr(31) || %s || chr(31) || %s`
	// presentSQL is true while a session holds the presence of the
	// deployment, catalogue id and version its three arguments compute
	// (SQL expressions, in that order).
	presentSQL = `EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.mode = 'ShareLock' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = (hashtext(` + presenceText + `)::bigint & 4294967295)::oid AND l.objid = (%[3]s)::bigint::oid)`
)

// The format presence is a second shared two-key lock, held beside the
// catalogue's: (hashtext of the deployment, the catalogue's id and version,
// the format). Releases of format 3 and before hold none, so an instance
// of a newer format never stands by for them.
const (
	formatPresenceText = `'careerledger format' || chr(31) || %s || chr(31) || %s || chr(31) || (%s)::text`
	// formatPresentSQL is true while a session holds the format presence
	// of the deployment, catalogue id, version and format its four
	// arguments compute (SQL expressions, in that order).
	formatPresentSQL = `EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.mode = 'ShareLock' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = (hashtext(` + formatPresenceText + `)::bigint & 4294967295)::oid AND l.objid = (%[4]s)::bigint::oid)`
)

// holdFormatPresenceSQL takes the shared lock of the format presence ($1
// the deployment, $2 the catalogue's id, $3 its version, $4 the format)
// for the rest of the session.
var holdFormatPresenceSQL = fmt.Sprintf(`SELECT pg_advisory_lock_shared(hashtext(`+formatPresenceText+`), $4)`, "$1::text", "$2::text", "$3::int")

// FormatPresent reports whether an instance of deployment name running
// with catalogue (id, version) and writing read-model format holds its
// format presence in this database.
func FormatPresent(ctx context.Context, pool *pgxpool.Pool, name, catalogueID string, version, format int) (bool, error) {
	var present bool
	err := pool.QueryRow(ctx, `SELECT `+fmt.Sprintf(formatPresentSQL, "$1::text", "$2::text", "$3::int", "$4::int"), name, catalogueID, version, format).Scan(&present)
	if err != nil {
		return false, fmt.Errorf("is an instance of read-model format %d present: %w", format, err)
	}
	return present, nil
}

// OlderReleasesPresent counts the sessions holding the presence of
// deployment name and catalogue (id, version) but no format presence of
// that catalogue: instances of a release of format 3 or before, which
// hold the one and not the other, and never stand by for a newer format.
func OlderReleasesPresent(ctx context.Context, pool *pgxpool.Pool, name, catalogueID string, version int) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(DISTINCT l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.mode = 'ShareLock' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = (hashtext(`+fmt.Sprintf(presenceText, "$1::text", "$2::text")+`)::bigint & 4294967295)::oid AND l.objid = ($3::int)::bigint::oid
		AND NOT EXISTS (SELECT FROM pg_locks f WHERE f.pid = l.pid AND f.locktype = 'advisory' AND f.mode = 'ShareLock' AND f.granted AND f.objsubid = 2
			AND f.database = l.database
			AND f.classid = (hashtext(`+fmt.Sprintf(formatPresenceText, "$1::text", "$2::text", "$3::int")+`)::bigint & 4294967295)::oid)`,
		name, catalogueID, version).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("are instances of an older release present: %w", err)
	}
	return n, nil
}

// holdPresenceSQL takes the shared lock of the presence ($1 the deployment,
// $2 the catalogue's id, $3 its version) for the rest of the session.
var holdPresenceSQL = fmt.Sprintf(`SELECT pg_advisory_lock_shared(hashtext(`+presenceText+`), $3)`, "$1::text", "$2::text")

// CataloguePresent reports whether an instance of deployment name running
// with catalogue (id, version) holds its presence in this database.
func CataloguePresent(ctx context.Context, pool *pgxpool.Pool, name, catalogueID string, version int) (bool, error) {
	var present bool
	err := pool.QueryRow(ctx, `SELECT `+fmt.Sprintf(presentSQL, "$1::text", "$2::text", "$3::int"), name, catalogueID, version).Scan(&present)
	if err != nil {
		return false, fmt.Errorf("is an instance of catalogue %s version %d present: %w", catalogueID, version, err)
	}
	return present, nil
}

// ErrStandBy is a batch's failure on a serving store whose catalogue is not
// the one that judged its read model while an instance of that catalogue
// runs, or whose format is not the read model's while an instance of the
// read model's catalogue and format runs: that instance projects, and this
// one stands by.
var ErrStandBy = errors.New("the read model is judged by another catalogue or built in another format, and an instance with it runs: it projects")
