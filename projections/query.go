package projections

import (
	"bytes"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
)

// Cursors are opaque to clients (base64url) and say what they point into:
// a person cursor holds a person id; an accomplishment cursor "#", a log
// position, "#" and the id of the person whose list it pages. "#" is
// outside a person id's alphabet, so neither kind of list takes the
// other's cursor for one of its own (a person id may be all digits), and
// one person's list does not take another's (a position of theirs would
// skip this person's accomplishments up to it, in silence).

// notACursor is the refusal of an after argument this API did not return.
func notACursor() error { return domain.Invalid("after", "is not a cursor returned by this API") }

// positionMark starts the key of a position cursor.
const positionMark = "#"

func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	// Every key this API encodes is text without NUL (PostgreSQL's text
	// holds nothing else): anything else was not made here.
	if err != nil || !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return "", notACursor()
	}
	return string(b), nil
}

// PersonCursor is the Relay cursor of a person in a list ordered by id.
func PersonCursor(id string) string { return encodeCursor(id) }

// DecodePersonCursor reverses PersonCursor ("" is the start of the list); a
// cursor that does not hold a person id is invalid input.
func DecodePersonCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	id, err := decodeCursor(cursor)
	if err != nil || domain.ValidatePersonID(id) != nil {
		return "", notACursor()
	}
	return id, nil
}

// PositionCursor is the cursor of the accomplishment at log position pos
// in person's list.
func PositionCursor(person string, pos uint64) string {
	return encodeCursor(positionMark + strconv.FormatUint(pos, 10) + positionMark + person)
}

// DecodePositionCursor reverses PositionCursor: the position and the
// person ("" is position 0, of any person's list).
func DecodePositionCursor(cursor string) (pos uint64, person string, err error) {
	if cursor == "" {
		return 0, "", nil
	}
	s, err := decodeCursor(cursor)
	if err != nil {
		return 0, "", err
	}
	rest, ok := strings.CutPrefix(s, positionMark)
	digits, person, found := strings.Cut(rest, positionMark)
	if !ok || !found || domain.ValidatePersonID(person) != nil {
		return 0, "", notACursor()
	}
	pos, perr := strconv.ParseUint(digits, 10, 64)
	if perr != nil || strconv.FormatUint(pos, 10) != digits {
		return 0, "", notACursor()
	}
	return pos, person, nil
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

// SortChanges orders level changes by date, then by the field order of the
// catalogue that judged them (fields), as the domain's timeline is ordered
// and the memory read model answers history: a catalogue may list its
// fields in another order than the contract's.
func SortChanges(cs []domain.LevelChange, fields []domain.Field) {
	rank := func(f domain.Field) int {
		for i, x := range fields {
			if x == f {
				return i
			}
		}
		return len(fields)
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if c := cs[i].On.Compare(cs[j].On); c != 0 {
			return c < 0
		}
		return rank(cs[i].Field) < rank(cs[j].Field)
	})
}
