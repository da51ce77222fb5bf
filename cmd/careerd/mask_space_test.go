package main

import (
	"strings"
	"testing"
)

// TestMaskURLHidesAPasswordAfterLeadingSpace: a URL with white space
// before it (a secret file's, a quoted environment value's) is still a URL:
// its password was hidden before "://" was looked for a key/value pair's,
// and shows now, in the start log and in "cannot reach PostgreSQL at".
func TestMaskURLHidesAPasswordAfterLeadingSpace(t *testing.T) {
	for _, in := range []string{
		" postgres://app:Pa55Secret@db/career?sslmode=disable",
		"\tpostgres://app:Pa55Secret@db/career?sslmode=disable",
		" nats://app:Pa55Secret@h1:4222?x=y",
	} {
		if got := maskURL(in); strings.Contains(got, "Pa55") {
			t.Errorf("maskURL(%q) = %q: the password shows", in, got)
		}
	}
}
