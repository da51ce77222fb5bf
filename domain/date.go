package domain

import (
	"fmt"
	"strings"
	"time"
)

// Date is a civil calendar date (valid time) with no time zone. The zero
// Date means "absent" (e.g. an ongoing engagement's completedOn); every day
// from 0000-01-01 to 9999-12-31 is a Date, 1970-01-01 included.
type Date struct {
	days int32 // days since 1970-01-01, plus dayBias: 0 is no day
}

// dayBias puts the absent date on the day before 0000-01-01, which no
// YYYY-MM-DD names: every date ParseDate accepts (years 0000 to 9999, as
// always) is a Date.
const dayBias = 719528 + 1 // 719528 days from 0000-01-01 to 1970-01-01

const dateLayout = "2006-01-02"

// NewDate returns the date y-m-d; it normalises like time.Date.
func NewDate(y int, m time.Month, d int) Date {
	return DateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return Date{days: int32(u.Unix()/86400) + dayBias}
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// ParseInstant reads an RFC 3339 date-time with its offset as RFC 3339
// writes one: "T" and "Z" in either case (its section 5.6), the offset's
// hours 00 to 23 and its minutes 00 to 59, a fraction of a second after a
// ".". time.RFC3339Nano alone refused "2026-01-02t15:04:05z", which RFC
// 3339 allows, as not RFC 3339, and took "+24:00", "+00:60" (an hour
// ahead) and "15:04:05,5", which it does not.
func ParseInstant(s string) (time.Time, error) {
	u := s
	if len(u) > 10 && u[10] == 't' {
		u = u[:10] + "T" + u[11:]
	}
	if strings.HasSuffix(u, "z") {
		u = u[:len(u)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, u)
	if err != nil {
		return time.Time{}, err
	}
	// Parsed, u is "YYYY-MM-DDTHH:MM:SS", a fraction, then "Z" or
	// "+hh:mm" / "-hh:mm".
	if u[19] == ',' {
		return time.Time{}, fmt.Errorf("instant %q: a fraction of a second follows a \".\"", s)
	}
	if off := u[len(u)-6:]; u[len(u)-1] != 'Z' && (off[1:3] > "23" || off[4:6] > "59") {
		return time.Time{}, fmt.Errorf("instant %q: an offset's hours run 00 to 23, its minutes 00 to 59", s)
	}
	return t, nil
}

// MustDate parses YYYY-MM-DD and panics on error; for tests and constants.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether the date is absent.
func (d Date) IsZero() bool { return d.days == 0 }

// Time returns midnight UTC of the date.
func (d Date) Time() time.Time { return time.Unix(int64(d.days-dayBias)*86400, 0).UTC() }

// String formats the date as YYYY-MM-DD, or "" when absent.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(dateLayout)
}

// Before reports whether d is strictly before e.
func (d Date) Before(e Date) bool { return d.days < e.days }

// After reports whether d is strictly after e.
func (d Date) After(e Date) bool { return d.days > e.days }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.days < e.days:
		return -1
	case d.days > e.days:
		return 1
	}
	return 0
}

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return Date{days: d.days + int32(n)} }

// AddDate adds years, months and days like time.Time.AddDate.
func (d Date) AddDate(years, months, days int) Date {
	return DateOf(d.Time().AddDate(years, months, days))
}

// addMonthsClamped returns the date n calendar months later (earlier for
// negative n), on the same day of the month or the month's last day when it
// has fewer days.
func (d Date) addMonthsClamped(n int) Date {
	y, m, day := d.Time().Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return DateOf(first.AddDate(0, 0, min(day, last)-1))
}

// Days returns the number of days since 1970-01-01; useful as a sort key.
func (d Date) Days() int32 { return d.days - dayBias }

// MarshalText encodes the date as YYYY-MM-DD (empty when absent).
// The text is formatted straight into the slice returned (String's
// string and its copy would be two allocations: every event body has one
// or two dates).
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	return d.Time().AppendFormat(make([]byte, 0, len(dateLayout)), dateLayout), nil
}

// UnmarshalText decodes YYYY-MM-DD; empty text is the absent date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
