package events

import (
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

// benchEngagement is an engagement as the benchmarks record one.
func benchEngagement() EngagementRecorded {
	return EngagementRecorded{
		AccomplishmentID: "P01234.01JABCDEFGHJKMNPQRSTVW", Field: "SYSTEM_OPERATION",
		Title: "Datacentre consolidation phase 3", Role: "MEMBER",
		StartedOn: domain.MustDate("2021-04-01"), CompletedOn: domain.MustDate("2022-03-31"),
		Outcome: "SUCCESSFUL", WithinBudget: true,
		PeakHeadcount: i64(12), InstallationSites: i64(3),
		Complexity: []string{"NETWORK_REQUIREMENTS"},
	}
}

// BenchmarkRecordOf is the projector's cost of turning one followed
// message into a Recorded (Follow): headers, the recorded-at time and the body.
func BenchmarkRecordOf(b *testing.B) {
	l := &Log{cfg: LogConfig{SubjectPrefix: "career.person"}}
	at := time.Date(2025, 6, 1, 9, 30, 15, 123456000, time.UTC)
	m, err := buildMessage("career.person.P01234", 41, "P01234:k1", benchEngagement(), at, "k1", "alice")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.recordOf(m.Subject, 42, m.Header, m.Data, at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodec is Encode and Decode of each golden example, one sub-benchmark per type.
func BenchmarkCodec(b *testing.B) {
	for _, e := range examples() {
		typ, ver, body, err := Encode(e)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Encode/"+typ, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := Encode(e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Decode/"+typ, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(typ, ver, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
