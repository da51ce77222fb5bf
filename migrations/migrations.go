// Package migrations holds the PostgreSQL schema of the read models as
// ordered SQL files, embedded in the binary and applied at start.
package migrations

import "embed"

// Files holds every migration, named NNN_description.sql; they are applied in
// name order, each once.
//
//go:embed *.sql
var Files embed.FS
