package events

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// localURL is the JetStream server the contract tests also run against when
// it is reachable.
const localURL = "nats://127.0.0.1:4222"

// backend is one JetStream server the contract tests run against.
type backend struct {
	name string
	open func(t *testing.T, cfg LogConfig) (*Log, *nats.Conn)
}

// backends returns the in-process embedded server and the local server.
func backends() []backend {
	return []backend{
		{name: "embedded", open: openEmbeddedLog},
		{name: "local", open: openLocalLog},
	}
}

// forEachBackend runs f as a parallel subtest on every backend.
func forEachBackend(t *testing.T, cfg LogConfig, f func(t *testing.T, l *Log, nc *nats.Conn)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			l, nc := b.open(t, cfg)
			f(t, l, nc)
		})
	}
}

// startEmbedded starts an in-process server in a temporary directory.
func startEmbedded(t testing.TB, sync time.Duration) *Embedded {
	t.Helper()
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), SyncInterval: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func connectEmbedded(t testing.TB, e *Embedded) *nats.Conn {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openEmbeddedLog(t *testing.T, cfg LogConfig) (*Log, *nats.Conn) {
	t.Helper()
	nc := connectEmbedded(t, startEmbedded(t, 0))
	l, err := OpenLog(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, nc
}

// openLocalLog opens a log on the local server in a stream and subject space
// of its own, deleted when the test ends; it skips when no server runs.
func openLocalLog(t *testing.T, cfg LogConfig) (*Log, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(localURL, nats.Timeout(time.Second), nats.MaxReconnects(0))
	if err != nil {
		t.Skipf("no local JetStream server at %s: %v", localURL, err)
	}
	t.Cleanup(nc.Close)
	suffix := strings.ToLower(rand.Text()[:10])
	cfg.Stream = "CAREER_T" + strings.ToUpper(suffix)
	cfg.SubjectPrefix = "t" + suffix + ".person"
	l, err := OpenLog(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete test stream %s: %v", cfg.Stream, err)
		}
	})
	return l, nc
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCatalogue is the validator the tests record with: the domain's real
// rule book.
var testCatalogue Validator = domain.DefaultCatalogue()

func i64(v int64) *int64 { return &v }

// sampleEngagement is a valid completed engagement.
func sampleEngagement(title string) domain.Accomplishment {
	return domain.Accomplishment{Engagement: &domain.Engagement{
		Field: domain.NetworkOperation, Title: title, Role: domain.Lead,
		StartedOn: domain.MustDate("2021-04-01"), CompletedOn: domain.MustDate("2022-03-31"),
		Outcome: domain.Successful, WithinBudget: true, PeakHeadcount: i64(12),
		AnnualContractValueYen: i64(120_000_000), InstallationSites: i64(140),
		Complexity: []domain.Criterion{domain.NetworkRequirements, domain.Organization},
	}}
}
