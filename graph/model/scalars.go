// Package model holds the GraphQL models: generated ones and the few that
// wrap read-model views or implement the custom scalars.
package model

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/careerledger/careerledger/domain"
)

// MarshalDate writes a domain.Date as "YYYY-MM-DD".
func MarshalDate(d domain.Date) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(d.String())) //nolint:errcheck // the writer reports its own errors
	})
}

// invalid is the error of a malformed scalar: the input field (or argument)
// it came in is named by the error presenter, from the error's path.
func invalid(rule string) error { return domain.Invalid("", rule) }

// UnmarshalDate reads "YYYY-MM-DD".
func UnmarshalDate(v any) (domain.Date, error) {
	s, ok := v.(string)
	if !ok {
		return domain.Date{}, invalid("must be a date string YYYY-MM-DD")
	}
	d, err := domain.ParseDate(s)
	if err != nil {
		return domain.Date{}, invalid(fmt.Sprintf("must be a date YYYY-MM-DD that exists, not %q", s))
	}
	return d, nil
}

// MarshalDateTime writes an instant as RFC 3339 with nanoseconds.
func MarshalDateTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalDateTime reads an RFC 3339 instant, with its offset: a
// date-time without one ("2026-01-02 15:04:05") names no instant (it is
// hours apart from one time zone to the next), and an empty string none at
// all.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, invalid("must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z (a string)")
	}
	t, err := domain.ParseInstant(s)
	if err != nil {
		return time.Time{}, invalid("must be an RFC 3339 date-time with its offset, such as 2026-01-02T15:04:05Z or 2026-01-02T15:04:05+09:00")
	}
	return t, nil
}

// maxYen is the largest integer a JSON number carries exactly (2^53).
const maxYen = 1 << 53

// MarshalYen writes an amount of yen as a JSON integer.
func MarshalYen(v int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.FormatInt(v, 10)) //nolint:errcheck // the writer reports its own errors
	})
}

// UnmarshalYen reads a JSON integer between -2^53 and 2^53 (a number, never
// a string of digits).
func UnmarshalYen(v any) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, invalid("must be a whole number of yen")
		}
		n = i
	case float64:
		if x != float64(int64(x)) {
			return 0, invalid("must be a whole number of yen")
		}
		n = int64(x)
	case string:
		// The contract's Yen is a JSON integer: "1000" is not one.
		return 0, invalid("must be a whole number of yen as a JSON integer, not a string")
	default:
		return 0, invalid("must be a whole number of yen")
	}
	if n > maxYen || n < -maxYen {
		return 0, invalid("must be at most 2^53 (9007199254740992) in absolute value")
	}
	return n, nil
}

// IntRule is the rule of a malformed Int.
const IntRule = "must be an integer written without a fraction or an exponent (5, not 5.0 or 5e0), from -2147483648 to 2147483647 (GraphQL Int is a 32-bit signed integer)"

// MarshalInt writes a GraphQL Int.
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt reads a GraphQL Int: a whole number that fits in 32 signed
// bits (GraphQL's Int, whatever Go's int holds), given as a number (an
// integer literal, a JSON integer), never as a string of digits.
func UnmarshalInt(v any) (int, error) {
	var n int64
	switch x := v.(type) {
	case int64: // a literal in the document
		n = x
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case json.Number: // a variable
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, invalid(IntRule)
		}
		n = i
	case float64: // a variable decoded without json.Number
		if x != math.Trunc(x) || x < math.MinInt32 || x > math.MaxInt32 {
			return 0, invalid(IntRule)
		}
		n = int64(x)
	case string:
		return 0, invalid(IntRule + ", not a string")
	default:
		return 0, invalid(IntRule)
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, invalid(IntRule)
	}
	return int(n), nil
}

// Person is a person as the read model knows them; the fields with
// arguments are resolved from the read model on demand.
type Person struct {
	ID       string
	Name     string
	JoinedOn domain.Date
	// MembershipPeriods feeds the memberships and department fields.
	MembershipPeriods []domain.Membership
	// Page, when set, loads what the person's fields need for every person
	// of a page at once.
	Page PageLoader
	// KnownAt, when set, is the instant the person is known as (a node of
	// people(knownAt:)): the default knownAt of standing and history (its
	// memberships are as known then already, MembershipPeriods), and its
	// date the default asOf of department and standing.
	KnownAt *time.Time
}

// PageLoader fetches data for all the people of one page in one call.
type PageLoader interface {
	IsPageLoader()
}
