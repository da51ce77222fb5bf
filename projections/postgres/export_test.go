package postgres

import (
	"time"

	"github.com/careerledger/careerledger/projections"
)

// DropIfAbandoned lets tests drive one step of DropAbandoned with a list
// they read before other sessions moved on.
var DropIfAbandoned = dropIfAbandoned

// LockActive lets tests hold a deployment's registry row as a sweep does.
var LockActive = lockActive

// SetLockPingTimeout sets how long the projector lock's session may take to
// answer a ping, until the test ends.
func SetLockPingTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	was := lockPingTimeout
	lockPingTimeout = d
	t.Cleanup(func() { lockPingTimeout = was })
}

// SetLockIdleTimeout sets the projector lock session's idle_session_timeout,
// until the test ends.
func SetLockIdleTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	was := lockIdleTimeout
	lockIdleTimeout = d
	t.Cleanup(func() { lockIdleTimeout = was })
}

// HoldPresenceSQL lets tests take an instance's presence on a session.
var HoldPresenceSQL = holdPresenceSQL

// HoldFormatPresenceSQL lets tests take an instance's format presence on a
// session.
var HoldFormatPresenceSQL = holdFormatPresenceSQL

// PeopleStatements lets tests explain the statements People runs.
func (s *Store) PeopleStatements(f projections.PeopleFilter) (count, page string, countArgs, pageArgs []any) {
	return s.peopleStatements(f)
}

// SetFailureLogEvery sets how often RunExclusive says again that trying
// for the lock still fails, until the test ends.
func SetFailureLogEvery(t interface{ Cleanup(func()) }, d time.Duration) {
	was := failureLogEvery
	failureLogEvery = d
	t.Cleanup(func() { failureLogEvery = was })
}
