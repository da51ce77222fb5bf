package postgres

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/careerledger/careerledger/domain"
)

// rowBuf collects the rows a batch inserts into one table, one after the
// other in a single slice: no slice per row, and the column arrays of
// insertRows are cut from one allocation.
type rowBuf struct {
	width int
	vals  []any
}

func newRowBuf(width, rows int) rowBuf {
	return rowBuf{width: width, vals: make([]any, 0, width*rows)}
}

// add appends a row, its values in the table's column order.
func (b *rowBuf) add(vals ...any) { b.vals = append(b.vals, vals...) }

func (b *rowBuf) len() int { return len(b.vals) / b.width }

// row returns row i's values.
func (b *rowBuf) row(i int) []any { return b.vals[i*b.width : (i+1)*b.width : (i+1)*b.width] }

// unnestColumns turns n rows of width values, at(r, c) being the value of
// row r in column c, into one array argument per column. Each column is a
// pgtype.FlatArray[any]: pgx encodes its elements by their own types, as it
// did a []any (whose elements it reaches through reflection).
func unnestColumns(n, width int, at func(r, c int) any) []any {
	flat := make([]any, n*width)
	args := make([]any, width)
	for c := range width {
		col := flat[c*n : (c+1)*n : (c+1)*n]
		for r := range col {
			col[r] = at(r, c)
		}
		args[c] = pgtype.FlatArray[any](col)
	}
	return args
}

// pgDate is d as a date parameter: the value pgx makes of a time.Time for a
// date, without wrapping (and allocating) it on every encode.
func pgDate(d domain.Date) pgtype.Date {
	return pgtype.Date{Time: d.Time(), Valid: true}
}

// nullDate is d as a date parameter, nil (NULL) when absent: a nil
// interface costs no allocation where an invalid pgtype.Date would.
func nullDate(d domain.Date) any {
	if d.IsZero() {
		return nil
	}
	return pgDate(d)
}

// timestamptz is t as a timestamptz parameter, as pgx makes it of a
// time.Time.
func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// dateArray is days as a date[] parameter.
func dateArray(days []time.Time) pgtype.FlatArray[pgtype.Date] {
	out := make(pgtype.FlatArray[pgtype.Date], len(days))
	for i, t := range days {
		out[i] = pgtype.Date{Time: t, Valid: true}
	}
	return out
}

// appendStanding appends the stored standing of st, as
// json.Marshal(storedLevelsOf(st)) encodes it, byte for byte, without
// reflection.
func appendStanding(b []byte, st domain.Standing) []byte {
	b = append(b, '[')
	for i, f := range st.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = appendJSONString(b, string(f.Field))
		b = append(b, `,"level":`...)
		b = strconv.AppendInt(b, int64(f.Level), 10)
		if !f.AttainedOn.IsZero() {
			b = append(b, `,"attainedOn":"`...)
			b = f.AttainedOn.Time().AppendFormat(b, "2006-01-02") // domain.Date's text
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as encoding/json writes a string: quoted
// as is when it holds only printable ASCII that json neither escapes nor
// HTML-escapes, otherwise by json.Marshal itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// fieldNames are the names of the catalogue's fields as interface values,
// made once per batch: storing a string in an interface allocates, and
// every level and distribution row holds a field's name.
type fieldNames struct {
	fields []domain.Field
	names  []any
}

func newFieldNames(fields []domain.Field) fieldNames {
	n := fieldNames{fields: fields, names: make([]any, len(fields))}
	for i, f := range fields {
		n.names[i] = string(f)
	}
	return n
}

// of returns f's name as a row value.
func (n fieldNames) of(f domain.Field) any {
	for i, g := range n.fields {
		if g == f {
			return n.names[i]
		}
	}
	return string(f)
}
