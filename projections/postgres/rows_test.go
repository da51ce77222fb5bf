package postgres

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/careerledger/careerledger/domain"
)

// The standing written without reflection is the one json.Marshal wrote,
// byte for byte, whatever the field names and dates.
func TestAppendStandingIsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []domain.Field{domain.SystemOperation, domain.NetworkOperation, domain.ServiceDesk, "", `a"b\c`,
		"<script>&", "caf\u00e9", "\u2028\u2029", "tab\there", "\x00\x1f", "bad\xffutf8", "日本語"}
	days := []domain.Date{{}, domain.MustDate("0000-01-01"), domain.MustDate("0999-12-31"), domain.MustDate("2024-02-29"),
		domain.MustDate("9999-12-31")}
	for n := range 2000 {
		var st domain.Standing
		if n > 0 { // the first has no field: "[]"
			for range 1 + r.IntN(4) {
				day := days[r.IntN(len(days))]
				if r.IntN(2) == 0 {
					day = domain.MustDate("1990-01-01").AddDays(r.IntN(20000))
				}
				st.Fields = append(st.Fields, domain.FieldStanding{Field: names[r.IntN(len(names))],
					Level: r.IntN(8) - 1, AttainedOn: day})
			}
		}
		want, err := json.Marshal(storedLevelsOf(st))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendStanding([]byte("x"), st); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("standing %+v:\n got %s\nwant %s", st, got, want)
		}
	}
}

// diff answers as the counting of a map does, repeated elements included,
// in the same order.
func TestDiffMatchesCounting(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		gen := func() []int {
			out := make([]int, r.IntN(12))
			for i := range out {
				out[i] = r.IntN(6)
			}
			return out
		}
		was, now := gen(), gen()
		removed, added := diff(was, now)
		wantRemoved, wantAdded := diffMap(was, now)
		if !slices.Equal(removed, wantRemoved) || !slices.Equal(added, wantAdded) {
			t.Fatalf("diff(%v, %v) = %v, %v; want %v, %v", was, now, removed, added, wantRemoved, wantAdded)
		}
	}
	long := make([]int, 100)
	for i := range long {
		long[i] = i
	}
	if removed, added := diff(long, long[1:]); !slices.Equal(removed, []int{0}) || len(added) != 0 {
		t.Fatalf("diff of long slices: %v, %v", removed, added)
	}
}

// The parameter values the rows are now built of encode as the values
// they replace did: a date, timestamptz or text as a time.Time or string,
// NULL as nil, and a column as a FlatArray[any] as it did as a []any.
func TestRowValuesEncodeAsBefore(t *testing.T) {
	m := pgtype.NewMap()
	day := domain.MustDate("2024-02-29")
	at := time.Date(2025, 3, 4, 5, 6, 7, 891000, time.UTC)
	for _, c := range []struct {
		oid      uint32
		now, was any
	}{
		{pgtype.DateOID, pgDate(day), day.Time()},
		{pgtype.DateOID, nullDate(day), day.Time()},
		{pgtype.DateOID, nullDate(domain.Date{}), nil},
		{pgtype.TimestamptzOID, timestamptz(at), at},
		{pgtype.TimestamptzOID, pgtype.Timestamptz{}, nil},
		{pgtype.TextOID, pgtype.Text{String: "twice", Valid: true}, "twice"},
		{pgtype.TextOID, pgtype.Text{}, nil},
		{pgtype.DateArrayOID, dateArray([]time.Time{day.Time(), day.AddDays(400).Time()}), []time.Time{day.Time(), day.AddDays(400).Time()}},
		{pgtype.TimestamptzArrayOID, pgtype.FlatArray[any]{timestamptz(at), nil}, []any{at, nil}},
		{pgtype.DateArrayOID, pgtype.FlatArray[any]{nullDate(domain.Date{}), pgDate(day)}, []any{nil, day.Time()}},
		{pgtype.TextArrayOID, pgtype.FlatArray[any]{"a", nil, newFieldNames([]domain.Field{"b"}).of("b")}, []any{"a", nil, "b"}},
		{pgtype.Int4ArrayOID, pgtype.FlatArray[any]{1, 2}, []any{1, 2}},
		{pgtype.JSONBArrayOID, pgtype.FlatArray[any]{[]byte(`[{"level":1}]`)}, []any{[]byte(`[{"level":1}]`)}},
	} {
		for _, format := range []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode} {
			got, err := m.Encode(c.oid, format, c.now, nil)
			if err != nil {
				t.Fatalf("%T: %v", c.now, err)
			}
			want, err := m.Encode(c.oid, format, c.was, nil)
			if err != nil {
				t.Fatalf("%T: %v", c.was, err)
			}
			if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Errorf("%T as %d (format %d): %x, want %x", c.now, c.oid, format, got, want)
			}
		}
	}
}
