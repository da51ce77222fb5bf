package graph_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// cuttingCommands cuts the proxy before a command once cutNext is set:
// the mutation read what it needed before sending its command, which the
// log records, and the read model is gone when its answer is read.
type cuttingCommands struct {
	graph.Commands
	proxy   func() *pgtest.Proxy
	cutNext *atomic.Bool
}

func (c cuttingCommands) RecordAccomplishment(ctx context.Context, cmd events.RecordAccomplishment) (events.Result, error) {
	if c.cutNext.Load() {
		c.proxy().Cut()
	}
	return c.Commands.RecordAccomplishment(ctx, cmd)
}

// TestAReadModelThatCannotBeReachedIsUnavailable: while PostgreSQL cannot
// be reached (its connections lost, a new one refused), a query is
// UNAVAILABLE, "the read model is unreachable; try again once it is back";
// a mutation that could not read what it needed first, over GraphQL or in
// an import, is UNAVAILABLE saying nothing was recorded, and records
// nothing; one recorded whose answer cannot be read is UNAVAILABLE saying
// it was recorded. Each is logged at warn with the request id, not at
// error as a bug.
func TestAReadModelThatCannotBeReachedIsUnavailable(t *testing.T) {
	var proxy *pgtest.Proxy
	var cutNext atomic.Bool
	b := backend{"postgres", func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		pool := pgtest.NewPool(t, postgres.DefaultSchema)
		proxy = pgtest.StartProxy(t, pool)
		via, err := pgxpool.New(context.Background(), proxy.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(via.Close)
		return postgres.New(via, cat, postgres.DefaultSchema)
	}}
	e := newEnv(t, b, options{commands: func(c graph.Commands) graph.Commands {
		return cuttingCommands{Commands: c, proxy: func() *pgtest.Proxy { return proxy }, cutNext: &cutNext}
	}})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "E1", "name": "Aiko Sato", "department": "Operations", "joinedOn": "2019-04-01"}, "")
	// The projector would fail with the read model gone (careerd runs it
	// again); here it is stopped, and the recorded command stays unapplied.
	e.StopProjector()

	book := func(title string) map[string]any {
		return map[string]any{"in": map[string]any{"personId": "E1", "kind": "BOOK", "title": title, "occurredOn": "2021-01-05", "fields": []string{"SERVICE_DESK"}}}
	}
	one := func(what string, r response) gqlError {
		t.Helper()
		if r.Status != 200 || len(r.Errors) != 1 {
			t.Fatalf("%s: %d %s %+v, want one error", what, r.Status, r.Data, r.Errors)
		}
		if r.Errors[0].code() != "UNAVAILABLE" || r.Errors[0].Extensions["requestId"] == nil {
			t.Errorf("%s: %q %v, want UNAVAILABLE with the request id", what, r.Errors[0].Message, r.Errors[0].Extensions)
		}
		return r.Errors[0]
	}

	// Recorded, then the read model gone before the answer was read.
	head := e.head(t)
	cutNext.Store(true)
	got := one("a mutation whose answer cannot be read", e.gql(t, adm, mSuccession, book("recorded")))
	if !strings.HasPrefix(got.Message, "the write was recorded, but the read model is unreachable") || strings.Contains(got.Message, "nothing was recorded") {
		t.Errorf("a mutation whose answer cannot be read: %q, want it told that the write was recorded", got.Message)
	}
	if h := e.head(t); h != head+1 {
		t.Fatalf("the log's head %d, want %d: the command is recorded", h, head+1)
	}
	cutNext.Store(false)

	head = e.head(t)
	got = one("a query", e.gql(t, adm, `query { person(id: "E1") { id name } }`, nil))
	if got.Message != "the read model is unreachable; try again once it is back" {
		t.Errorf("a query: %q", got.Message)
	}
	got = one("a mutation", e.gql(t, adm, mSuccession, book("refused")))
	if got.Message != "the read model is unreachable: nothing was recorded; send the request again once it is back" {
		t.Errorf("a mutation: %q", got.Message)
	}
	got = one("a registration", e.gql(t, adm, mRegister, map[string]any{"in": map[string]any{"id": "E2", "name": "Ken Ito", "department": "Operations", "joinedOn": "2019-04-01"}}))
	if !strings.Contains(got.Message, "nothing was recorded") {
		t.Errorf("a registration: %q", got.Message)
	}
	// A manager's line reads the person's department first (an admin's
	// reads nothing: recorded, its import answers 202, not yet visible).
	status, lines := e.importLines(t, e.token(t, managerA),
		`{"op":"recordTechnologySuccession","input":{"personId":"E1","kind":"BOOK","title":"imported","occurredOn":"2021-01-05","fields":["SERVICE_DESK"]}}`)
	if status != 200 || len(lines) != 1 || lines[0].Code != "UNAVAILABLE" ||
		lines[0].Message != "the read model is unreachable: nothing was recorded; send the request again once it is back" {
		t.Errorf("an import: %d %+v, want its line UNAVAILABLE saying nothing was recorded", status, lines)
	}
	if h := e.head(t); h != head {
		t.Errorf("the log's head moved from %d to %d: a command refused for want of the read model was recorded", head, h)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `level=WARN msg="request failed: the read model is unreachable"`); n != 4 || !strings.Contains(logs, "code=UNAVAILABLE") ||
		!strings.Contains(logs, `level=WARN msg="import lines not recorded: the read model is unreachable"`) {
		t.Errorf("%d warnings that the read model is unreachable, want 4 and the import's:\n%s", n, logs)
	}
}
