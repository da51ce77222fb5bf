package projections

import (
	"bytes"
	"encoding/base64"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
)

// EncodeCursor turns a sort key into an opaque Relay cursor.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// DecodeCursor reverses EncodeCursor; a malformed cursor is invalid input.
func DecodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	// Every key this API encodes is text without NUL (PostgreSQL's text
	// holds nothing else): anything else was not made here.
	if err != nil || !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return "", domain.Invalid("after", "is not a cursor returned by this API")
	}
	return string(b), nil
}

// PositionCursor encodes a log position as a cursor.
func PositionCursor(pos uint64) string { return EncodeCursor(strconv.FormatUint(pos, 10)) }

// DecodePositionCursor reverses PositionCursor ("" is position 0).
func DecodePositionCursor(cursor string) (uint64, error) {
	s, err := DecodeCursor(cursor)
	if err != nil || s == "" {
		return 0, err
	}
	pos, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil {
		return 0, domain.Invalid("after", "is not a cursor returned by this API")
	}
	return pos, nil
}

// HistoryOf filters a timeline to one field (nil = all fields).
func HistoryOf(changes []domain.LevelChange, field *domain.Field) []domain.LevelChange {
	out := make([]domain.LevelChange, 0, len(changes))
	for _, c := range changes {
		if field == nil || c.Field == *field {
			out = append(out, c)
		}
	}
	return out
}

// LevelOnPeriods returns the level in field on d from level periods.
func LevelOnPeriods(periods []domain.LevelPeriod, field domain.Field, d domain.Date) int {
	for _, p := range periods {
		if p.Field == field && !p.From.After(d) && (p.To.IsZero() || p.To.After(d)) {
			return p.Level
		}
	}
	return 0
}

// SortChanges orders level changes by date, then by the contract's field order.
func SortChanges(cs []domain.LevelChange) {
	rank := func(f domain.Field) int {
		for i, x := range domain.Fields {
			if x == f {
				return i
			}
		}
		return len(domain.Fields)
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if c := cs[i].On.Compare(cs[j].On); c != 0 {
			return c < 0
		}
		return rank(cs[i].Field) < rank(cs[j].Field)
	})
}
