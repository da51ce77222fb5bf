// Package model holds the GraphQL models: generated ones and the few that
// wrap read-model views or implement the custom scalars.
package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/careerledger/careerledger/domain"
)

// MarshalDate writes a domain.Date as "YYYY-MM-DD".
func MarshalDate(d domain.Date) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(d.String())) //nolint:errcheck // the writer reports its own errors
	})
}

// UnmarshalDate reads "YYYY-MM-DD".
func UnmarshalDate(v any) (domain.Date, error) {
	s, ok := v.(string)
	if !ok {
		return domain.Date{}, fmt.Errorf("a Date must be a string YYYY-MM-DD")
	}
	return domain.ParseDate(s)
}

// maxYen is the largest integer a JSON number carries exactly (2^53).
const maxYen = 1 << 53

// MarshalYen writes an amount of yen as a JSON integer.
func MarshalYen(v int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.FormatInt(v, 10)) //nolint:errcheck // the writer reports its own errors
	})
}

// UnmarshalYen reads a JSON integer between -2^53 and 2^53.
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
			return 0, fmt.Errorf("a Yen amount must be a whole number")
		}
		n = i
	case float64:
		if x != float64(int64(x)) {
			return 0, fmt.Errorf("a Yen amount must be a whole number")
		}
		n = int64(x)
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("a Yen amount must be a whole number")
		}
		n = i
	default:
		return 0, fmt.Errorf("a Yen amount must be a whole number")
	}
	if n > maxYen || n < -maxYen {
		return 0, fmt.Errorf("a Yen amount must be at most 2^53")
	}
	return n, nil
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
}

// PageLoader fetches data for all the people of one page in one call.
type PageLoader interface {
	IsPageLoader()
}
