package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// Every query here is a read (see read): run again, whole, on another
// connection when the connection it ran on was lost.

// Person returns one person.
func (s *Store) Person(ctx context.Context, id string) (projections.PersonView, error) {
	return read(ctx, s, func(q querier) (projections.PersonView, error) { return s.person(ctx, q, id) })
}

func (s *Store) person(ctx context.Context, q querier, id string) (projections.PersonView, error) {
	m, err := s.peopleByID(ctx, q, []string{id})
	if err != nil {
		return projections.PersonView{}, err
	}
	p, ok := m[id]
	if !ok {
		return projections.PersonView{}, domain.NotFound("person %s not found", id)
	}
	return p, nil
}

// PeopleByID returns the known people among ids, with their memberships,
// in two queries whatever the number of ids.
func (s *Store) PeopleByID(ctx context.Context, ids []string) (map[string]projections.PersonView, error) {
	return read(ctx, s, func(q querier) (map[string]projections.PersonView, error) { return s.peopleByID(ctx, q, ids) })
}

// storable reports whether PostgreSQL can hold s as text: an id that it
// cannot is no one's, not an error.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// storableIDs is ids without those PostgreSQL cannot hold.
func storableIDs(ids []string) []string {
	if !slices.ContainsFunc(ids, func(id string) bool { return !storable(id) }) {
		return ids
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !storable(id) })
}

func (s *Store) peopleByID(ctx context.Context, q querier, ids []string) (map[string]projections.PersonView, error) {
	ids = storableIDs(ids)
	out := make(map[string]projections.PersonView, len(ids))
	rows, err := q.Query(ctx, s.q(`SELECT id, name, joined_on,
		coalesce((SELECT max(e.position) FROM {s}.person_events e WHERE e.person_id = people.id), 0)
		FROM {s}.people WHERE id = ANY($1)`), ids)
	if err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	var p projections.PersonView
	var joined time.Time
	var pos int64
	if _, err := pgx.ForEachRow(rows, []any{&p.ID, &p.Name, &joined, &pos}, func() error {
		v := p
		v.JoinedOn = domain.DateOf(joined)
		v.Position = uint64(pos)
		out[v.ID] = v
		return nil
	}); err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	rows, err = q.Query(ctx, s.q(`SELECT person_id, department, valid_from, valid_to FROM {s}.memberships
		WHERE person_id = ANY($1) ORDER BY person_id, valid_from`), ids)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	var pid, dept string
	var from time.Time
	var to *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&pid, &dept, &from, &to}, func() error {
		v := out[pid]
		v.Memberships = append(v.Memberships, domain.Membership{Department: dept, From: domain.DateOf(from), To: dateOf(to)})
		out[pid] = v
		return nil
	}); err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	return out, nil
}

// Standing judges a person on asOf as known at knownAt (zero = now), from
// the person's stored events; an unknown person is NotFound.
func (s *Store) Standing(ctx context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error) {
	m, err := s.PersonEvents(ctx, []string{id})
	if err != nil {
		return domain.Standing{}, err
	}
	rs, ok := m[id]
	if !ok {
		return domain.Standing{}, domain.NotFound("person %s not found", id)
	}
	// A person registered after knownAt: every field at level 0.
	st, _ := projections.StandingOf(s.cat, rs, asOf, knownAt)
	return st, nil
}

// History returns a person's level changes, optionally of one field.
func (s *Store) History(ctx context.Context, id string, field *domain.Field) ([]domain.LevelChange, error) {
	return read(ctx, s, func(q querier) ([]domain.LevelChange, error) { return s.history(ctx, q, id, field) })
}

func (s *Store) history(ctx context.Context, q querier, id string, field *domain.Field) ([]domain.LevelChange, error) {
	if _, err := s.person(ctx, q, id); err != nil {
		return nil, err
	}
	var f string
	if field != nil {
		f = string(*field)
	}
	rows, err := q.Query(ctx, s.q(`SELECT c.field, c.changed_on, c.from_level, c.to_level FROM {s}.level_changes c
		WHERE c.person_id = $1 AND ($2 = '' OR c.field = $2)`), id, f)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	var out []domain.LevelChange
	var c domain.LevelChange
	var fl string
	var on time.Time
	if _, err := pgx.ForEachRow(rows, []any{&fl, &on, &c.From, &c.To}, func() error {
		v := c
		v.Field = domain.Field(fl)
		v.On = domain.DateOf(on)
		out = append(out, v)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	projections.SortChanges(out, s.cat.Fields())
	return out, nil
}

// accomplishmentColumns reads an accomplishment with the event that holds
// its current value (alias a for accomplishments, e for person_events).
const accomplishmentColumns = `a.id, a.person_id, a.position, a.version_position, a.recorded_at, a.amended_at, a.retracted,
	coalesce(a.retraction_reason, ''), a.recorded_by, a.amended_by, a.retracted_by, e.type, e.version, e.body`

const accomplishmentFrom = ` FROM {s}.accomplishments a JOIN {s}.person_events e ON e.position = a.version_position `

func scanAccomplishments(rows pgx.Rows) ([]projections.AccomplishmentView, error) {
	var out []projections.AccomplishmentView
	var a projections.AccomplishmentView
	var pos, vpos int64
	var amended *time.Time
	var typ string
	var version int
	var body []byte
	_, err := pgx.ForEachRow(rows, []any{&a.ID, &a.PersonID, &pos, &vpos, &a.RecordedAt, &amended, &a.Retracted, &a.RetractionReason, &a.RecordedBy, &a.AmendedBy, &a.RetractedBy, &typ, &version, &body}, func() error {
		ev, err := events.Decode(typ, version, body)
		if err != nil {
			return fmt.Errorf("accomplishment %s: %w", a.ID, err)
		}
		acc, ok := events.ToAccomplishment(ev)
		if !ok {
			return fmt.Errorf("accomplishment %s: %s is not an accomplishment", a.ID, typ)
		}
		v := a
		v.Position, v.VersionPosition = uint64(pos), uint64(vpos)
		v.Accomplishment = acc
		if amended != nil {
			v.AmendedAt = *amended
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Accomplishments returns a page of a person's accomplishments in recording order.
func (s *Store) Accomplishments(ctx context.Context, id string, first int, after uint64) (projections.AccomplishmentPage, error) {
	return read(ctx, s, func(q querier) (projections.AccomplishmentPage, error) {
		return s.accomplishments(ctx, q, id, first, after)
	})
}

func (s *Store) accomplishments(ctx context.Context, q querier, id string, first int, after uint64) (projections.AccomplishmentPage, error) {
	var page projections.AccomplishmentPage
	if !storable(id) {
		return page, domain.NotFound("person %s not found", id)
	}
	var exists bool
	err := q.QueryRow(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM {s}.people WHERE id = $1),
		(SELECT count(*) FROM {s}.accomplishments WHERE person_id = $1)`), id).Scan(&exists, &page.TotalCount)
	if err != nil {
		return page, fmt.Errorf("accomplishments: %w", err)
	}
	if !exists {
		return page, domain.NotFound("person %s not found", id)
	}
	rows, err := q.Query(ctx, s.q(`SELECT `+accomplishmentColumns+accomplishmentFrom+`
		WHERE a.person_id = $1 AND a.position > $2 ORDER BY a.position LIMIT $3`), id, int64(after), first+1)
	if err != nil {
		return page, fmt.Errorf("accomplishments: %w", err)
	}
	items, err := scanAccomplishments(rows)
	if err != nil {
		return page, err
	}
	if len(items) > first {
		items, page.HasNext = items[:first], true
	}
	page.Items = items
	return page, nil
}

// Accomplishment returns one accomplishment by id.
func (s *Store) Accomplishment(ctx context.Context, id string) (projections.AccomplishmentView, error) {
	return read(ctx, s, func(q querier) (projections.AccomplishmentView, error) { return s.accomplishment(ctx, q, id) })
}

func (s *Store) accomplishment(ctx context.Context, q querier, id string) (projections.AccomplishmentView, error) {
	if !storable(id) {
		return projections.AccomplishmentView{}, domain.NotFound("accomplishment %s not found", id)
	}
	rows, err := q.Query(ctx, s.q(`SELECT `+accomplishmentColumns+accomplishmentFrom+`WHERE a.id = $1`), id)
	if err != nil {
		return projections.AccomplishmentView{}, fmt.Errorf("accomplishment: %w", err)
	}
	items, err := scanAccomplishments(rows)
	if err != nil {
		return projections.AccomplishmentView{}, err
	}
	if len(items) == 0 {
		return projections.AccomplishmentView{}, domain.NotFound("accomplishment %s not found", id)
	}
	return items[0], nil
}

// peopleWhere is the condition on people p that f selects (f.First and
// f.After aside), with its arguments from $1: only the filters f sets, so
// that each EXISTS is planned as a semi-join. A condition that carries
// every filter as "$n = ” OR EXISTS (...)" cannot be: the planner costs
// it as a subplan per person, a cost in the millions for 15,000 people
// that passes the JIT thresholds, and each page's count then compiled for
// 100-200 ms to run in 10-20.
func peopleWhere(f projections.PeopleFilter) (string, []any) {
	conds := []string{"true"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Department != "" || f.MinLevel > 0 {
		asOf := arg(f.AsOf.Time())
		if f.Department != "" {
			conds = append(conds, `EXISTS (SELECT 1 FROM {s}.memberships m WHERE m.person_id = p.id AND m.department = `+arg(f.Department)+`
		AND m.valid_from <= `+asOf+`::date AND (m.valid_to IS NULL OR m.valid_to > `+asOf+`::date))`)
		}
		if f.MinLevel > 0 {
			field := ""
			if f.Field != "" {
				field = ` AND lp.field = ` + arg(string(f.Field))
			}
			conds = append(conds, `EXISTS (SELECT 1 FROM {s}.level_periods lp WHERE lp.person_id = p.id`+field+`
		AND lp.level >= `+arg(f.MinLevel)+` AND lp.valid_from <= `+asOf+`::date AND (lp.valid_to IS NULL OR lp.valid_to > `+asOf+`::date))`)
		}
	}
	return strings.Join(conds, " AND "), args
}

// peopleStatements returns the statements People runs for f: the count and
// the page, with their arguments.
func (s *Store) peopleStatements(f projections.PeopleFilter) (count, page string, countArgs, pageArgs []any) {
	where, args := peopleWhere(f)
	n := len(args)
	count = s.q(`SELECT count(*) FROM {s}.people p WHERE ` + where)
	page = s.q(fmt.Sprintf(`SELECT p.id FROM {s}.people p WHERE %s AND p.id COLLATE "C" > $%d ORDER BY p.id COLLATE "C" LIMIT $%d`, where, n+1, n+2))
	return count, page, args, append(slices.Clip(args), f.After, f.First+1)
}

// People returns a page of people matching f, ordered by id in byte order
// (whatever the database's collation: migration 011).
func (s *Store) People(ctx context.Context, f projections.PeopleFilter) (projections.PeoplePage, error) {
	return read(ctx, s, func(q querier) (projections.PeoplePage, error) { return s.people(ctx, q, f) })
}

func (s *Store) people(ctx context.Context, q querier, f projections.PeopleFilter) (projections.PeoplePage, error) {
	var page projections.PeoplePage
	countSQL, pageSQL, countArgs, pageArgs := s.peopleStatements(f)
	if !f.NoCount {
		if err := q.QueryRow(ctx, countSQL, countArgs...).Scan(&page.TotalCount); err != nil {
			return page, fmt.Errorf("people: %w", err)
		}
	}
	rows, err := q.Query(ctx, pageSQL, pageArgs...)
	if err != nil {
		return page, fmt.Errorf("people: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return page, fmt.Errorf("people: %w", err)
	}
	if len(ids) > f.First {
		ids, page.HasNext = ids[:f.First], true
	}
	byID, err := s.peopleByID(ctx, q, ids)
	if err != nil {
		return page, err
	}
	for _, id := range ids {
		page.People = append(page.People, byID[id])
	}
	return page, nil
}

// Distribution counts, per department (sorted) and level (ascending), the
// people who belong to a department on asOf by their level in field on asOf:
// the sum of the distribution deltas of the months before asOf's and of the
// days of its month up to it, each range read through an index.
func (s *Store) Distribution(ctx context.Context, field domain.Field, asOf domain.Date, department string) ([]projections.Cell, error) {
	return read(ctx, s, func(q querier) ([]projections.Cell, error) { return s.distribution(ctx, q, field, asOf, department) })
}

// Departments returns every department anyone has been or is in, sorted
// by byte order as the memory store sorts them. It skips
// through the memberships index, one probe per department, rather than
// reading every membership.
func (s *Store) Departments(ctx context.Context) ([]string, error) {
	return read(ctx, s, func(q querier) ([]string, error) {
		rows, err := q.Query(ctx, s.q(`WITH RECURSIVE d(department) AS (
			(SELECT department FROM {s}.memberships ORDER BY department LIMIT 1)
			UNION ALL
			SELECT (SELECT m.department FROM {s}.memberships m
				WHERE m.department > d.department ORDER BY m.department LIMIT 1)
			FROM d WHERE d.department IS NOT NULL)
		SELECT department FROM d WHERE department IS NOT NULL`))
		if err != nil {
			return nil, fmt.Errorf("departments: %w", err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("departments: %w", err)
		}
		if out == nil {
			out = []string{}
		}
		slices.Sort(out)
		return out, nil
	})
}

// PeopleEverIn returns, sorted, the people whose events place them in
// department (a registration or a transfer into it); "" means everyone
// registered. See projections.KnownAtReader. Events are stored at their
// current version, so the department is the body's "department".
func (s *Store) PeopleEverIn(ctx context.Context, department string) ([]string, error) {
	// Both statements read the partial index person_events_placements.
	sql := `SELECT DISTINCT person_id FROM {s}.person_events
		WHERE type IN ('PersonRegistered', 'PersonTransferred') AND body->>'department' = $1`
	args := []any{department}
	if department == "" {
		sql, args = `SELECT DISTINCT person_id FROM {s}.person_events
			WHERE type IN ('PersonRegistered', 'PersonTransferred') AND type = 'PersonRegistered'`, nil
	}
	return read(ctx, s, func(q querier) ([]string, error) {
		rows, err := q.Query(ctx, s.q(sql), args...)
		if err != nil {
			return nil, fmt.Errorf("people ever in a department: %w", err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("people ever in a department: %w", err)
		}
		slices.Sort(out)
		return out, nil
	})
}

// EarliestRecordedAfter returns a bound on when the events stored after
// position were recorded: none of them was recorded before it (the
// earliest one's instant); any is false when no event after position is
// stored. It reads the events after position through the primary key.
func (s *Store) EarliestRecordedAfter(ctx context.Context, position uint64) (earliest time.Time, any bool, err error) {
	at, err := read(ctx, s, func(q querier) (*time.Time, error) {
		var at *time.Time
		err := q.QueryRow(ctx, s.q(`SELECT min(recorded_at) FROM {s}.person_events WHERE position > $1`), int64(position)).Scan(&at)
		return at, err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("earliest recorded after %d: %w", position, err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// distributionCounts is the +1 and -1 of every department and level on $2
// (the date) in field $1 and department $3 (empty: all): the months before
// $2's from the deltas, the days of its month up to it from the periods
// that start (+1) or end (-1) on them. Summed, they are the distribution.
const distributionCounts = `(
			SELECT department, level, delta AS n FROM {s}.distribution_deltas
			WHERE field = $1 AND ($3 = '' OR department = $3) AND bucket < date_trunc('month', $2::date)::date
			UNION ALL
			SELECT department, level, 1 FROM {s}.distribution_periods
			WHERE field = $1 AND ($3 = '' OR department = $3)
				AND lower(valid) >= date_trunc('month', $2::date)::date AND lower(valid) <= $2::date
			UNION ALL
			SELECT department, level, -1 FROM {s}.distribution_periods
			WHERE field = $1 AND ($3 = '' OR department = $3)
				AND upper(valid) >= date_trunc('month', $2::date)::date AND upper(valid) <= $2::date
		) c`

func (s *Store) distribution(ctx context.Context, q querier, field domain.Field, asOf domain.Date, department string) ([]projections.Cell, error) {
	rows, err := q.Query(ctx, s.q(`SELECT department, level, sum(n)::bigint FROM `+distributionCounts+`
		GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2`), string(field), asOf.Time(), department)
	if err != nil {
		return nil, fmt.Errorf("distribution: %w", err)
	}
	var out []projections.Cell
	var c projections.Cell
	if _, err := pgx.ForEachRow(rows, []any{&c.Department, &c.Level, &c.Count}, func() error {
		out = append(out, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("distribution: %w", err)
	}
	// Departments in byte order whatever the database's collation, as the
	// memory store, Trend and the answers as known at an instant order them.
	slices.SortFunc(out, func(a, b projections.Cell) int {
		return cmp.Or(strings.Compare(a.Department, b.Department), cmp.Compare(a.Level, b.Level))
	})
	return out, nil
}

// Trend returns the distribution of field on each of dates (ascending) in
// one statement, so every point is of one snapshot: the distribution on
// the first date as Distribution reads it, then the periods that start
// (+1) or end (-1) after it, up to the last date, applied in date order.
// It reads each period bound of the range once, where a Distribution per
// date read a month of them per point (a daily trend over a year: two
// reads against 365).
func (s *Store) Trend(ctx context.Context, field domain.Field, dates []domain.Date, department string) ([][]projections.Cell, error) {
	if len(dates) == 0 {
		return nil, nil
	}
	for i := 1; i < len(dates); i++ {
		if dates[i].Before(dates[i-1]) {
			return nil, fmt.Errorf("trend: dates out of order (%s after %s)", dates[i], dates[i-1])
		}
	}
	type bound struct {
		on    time.Time
		cell  projections.Cell
		delta int
	}
	bounds, err := read(ctx, s, func(q querier) ([]bound, error) {
		rows, err := q.Query(ctx, s.q(`SELECT $2::date, department, level, sum(n)::bigint FROM `+distributionCounts+`
			GROUP BY 2, 3 HAVING sum(n) <> 0
			UNION ALL
			SELECT lower(valid), department, level, 1 FROM {s}.distribution_periods
			WHERE field = $1 AND ($3 = '' OR department = $3) AND lower(valid) > $2::date AND lower(valid) <= $4::date
			UNION ALL
			SELECT upper(valid), department, level, -1 FROM {s}.distribution_periods
			WHERE field = $1 AND ($3 = '' OR department = $3) AND upper(valid) > $2::date AND upper(valid) <= $4::date
			ORDER BY 1`), string(field), dates[0].Time(), department, dates[len(dates)-1].Time())
		if err != nil {
			return nil, err
		}
		var out []bound
		var b bound
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&b.on, &b.cell.Department, &b.cell.Level, &n}, func() error {
			b.delta = int(n)
			out = append(out, b)
			return nil
		}); err != nil {
			return nil, err
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	counts := map[projections.Cell]int{}
	out := make([][]projections.Cell, len(dates))
	next := 0
	for i, d := range dates {
		for ; next < len(bounds) && !domain.DateOf(bounds[next].on).After(d); next++ {
			counts[bounds[next].cell] += bounds[next].delta
		}
		var cells []projections.Cell
		for c, n := range counts {
			if n != 0 {
				c.Count = n
				cells = append(cells, c)
			}
		}
		slices.SortFunc(cells, func(a, b projections.Cell) int {
			return cmp.Or(strings.Compare(a.Department, b.Department), cmp.Compare(a.Level, b.Level))
		})
		out[i] = cells
	}
	return out, nil
}

// StoredStanding returns the levels stored at projection time (each field's
// level and attainedOn, as of that day; no explanation), with the catalogue
// id and version that judged them.
func (s *Store) StoredStanding(ctx context.Context, id string) ([]domain.FieldStanding, string, int, error) {
	type row struct {
		catID      string
		catVersion int
		body       []byte
	}
	r, err := read(ctx, s, func(q querier) (row, error) {
		var r row
		err := q.QueryRow(ctx, s.q(`SELECT catalogue_id, catalogue_version, standing FROM {s}.people WHERE id = $1`), id).
			Scan(&r.catID, &r.catVersion, &r.body)
		return r, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", 0, domain.NotFound("person %s not found", id)
	}
	if err != nil {
		return nil, "", 0, fmt.Errorf("standing: %w", err)
	}
	catID, catVersion, body := r.catID, r.catVersion, r.body
	var stored []storedLevel
	if err := json.Unmarshal(body, &stored); err != nil {
		return nil, "", 0, fmt.Errorf("standing of %s: %w", id, err)
	}
	out := make([]domain.FieldStanding, len(stored))
	for i, l := range stored {
		out[i] = domain.FieldStanding{Field: l.Field, Level: l.Level}
		if l.AttainedOn != nil {
			out[i].AttainedOn = *l.AttainedOn
		}
	}
	return out, catID, catVersion, nil
}
