package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/careerledger/careerledger/domain"
)

const distributionQuery = `query($field: SpecialtyField!, $asOf: Date, $department: String, $knownAt: DateTime) {
  skillDistribution(field: $field, asOf: $asOf, department: $department, knownAt: $knownAt) { department level count }
}`

type distributionCell struct {
	Department string `json:"department"`
	Level      int    `json:"level"`
	Count      int    `json:"count"`
}

// distributionCommand prints people per department and level in a field.
func distributionCommand(c *cli, args []string) error {
	fs := newFlagSet("distribution")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	field := fs.String("field", "", "SYSTEM_OPERATION, NETWORK_OPERATION or SERVICE_DESK (required)")
	asOf := fs.String("as-of", "", "the date, YYYY-MM-DD (default today)")
	department := fs.String("department", "", "only this department")
	knownAt := fs.String("known-at", "", "as the system knew it at this instant (RFC 3339; default now): a replay of the log, slower")
	asJSON := fs.Bool("json", false, "print the GraphQL response data as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *field == "" {
		return usagef("--field is required")
	}
	if err := checkEnum("field", "SpecialtyField", *field, false); err != nil {
		return err
	}

	vars := map[string]any{"field": strings.ToUpper(*field)}
	if *asOf != "" {
		if err := checkDate("as-of", *asOf); err != nil {
			return err
		}
		vars["asOf"] = *asOf
	}
	if err := analyticsFilters(fs, *department, *knownAt, vars); err != nil {
		return err
	}
	data, err := ep.graphql(c.ctx, distributionQuery, vars)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, data)
	}
	var res struct {
		SkillDistribution []distributionCell `json:"skillDistribution"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	return printDistribution(c.stdout, res.SkillDistribution)
}

// analyticsFilters adds --department and --known-at to vars, checked as
// every analytics command checks them.
func analyticsFilters(fs *flag.FlagSet, department, knownAt string, vars map[string]any) error {
	if err := departmentGiven(fs, department); err != nil {
		return err
	}
	if department != "" {
		vars["department"] = department
	}
	if knownAt != "" {
		if err := checkInstant("known-at", knownAt); err != nil {
			return err
		}
		vars["knownAt"] = knownAt
	}
	return nil
}

// printDistribution writes departments as rows and levels 0-5 (or more, if
// the catalogue has them) as columns, with totals.
func printDistribution(w io.Writer, cells []distributionCell) error {
	var depts []string
	counts := map[string]map[int]int{}
	for _, cell := range cells {
		if counts[cell.Department] == nil {
			counts[cell.Department] = map[int]int{}
			depts = append(depts, cell.Department)
		}
		counts[cell.Department][cell.Level] += cell.Count
	}
	rows := make([]levelRow, len(depts))
	for i, d := range depts {
		rows[i] = levelRow{d, counts[d]}
	}
	return printLevels(w, "DEPARTMENT", rows, true)
}

// levelRow is a row of printLevels: its label and its count per level.
type levelRow struct {
	label  string
	counts map[int]int
}

// printLevels writes rows under head with levels 0-5 (or more, if the
// catalogue has them) as columns and a total per row, and a TOTAL row when
// totals is true.
func printLevels(w io.Writer, head string, rows []levelRow, totals bool) error {
	maxLevel := 5
	width := displayWidth(head)
	for _, r := range rows {
		width = max(width, displayWidth(r.label))
		for l := range r.counts {
			maxLevel = max(maxLevel, l)
		}
	}
	colTotals := make([]int, maxLevel+1)
	rowTotals := make([]int, len(rows))
	for i, r := range rows {
		for l := 0; l <= maxLevel; l++ {
			rowTotals[i] += r.counts[l]
			colTotals[l] += r.counts[l]
		}
	}
	grand := 0
	for _, n := range rowTotals {
		grand += n
	}
	widest := slices.Max(append([]int{0}, rowTotals...)) // the widest count is a row's total
	if totals {
		widest = grand
	}
	num := max(len(strconv.Itoa(widest)), len("L"+strconv.Itoa(maxLevel)))
	var b strings.Builder
	row := func(name string, cells []string) {
		b.WriteString(name + strings.Repeat(" ", width-displayWidth(name)))
		for i, c := range cells {
			w := num
			if i == len(cells)-1 {
				w = max(num, len("TOTAL"))
			}
			fmt.Fprintf(&b, "  %*s", w, c)
		}
		b.WriteByte('\n')
	}
	header := make([]string, 0, maxLevel+2)
	for l := 0; l <= maxLevel; l++ {
		header = append(header, "L"+strconv.Itoa(l))
	}
	row(head, append(header, "TOTAL"))
	line := func(byLevel func(int) int, total int) []string {
		out := make([]string, 0, maxLevel+2)
		for l := 0; l <= maxLevel; l++ {
			out = append(out, strconv.Itoa(byLevel(l)))
		}
		return append(out, strconv.Itoa(total))
	}
	for i, r := range rows {
		row(r.label, line(func(l int) int { return r.counts[l] }, rowTotals[i]))
	}
	if totals {
		row("TOTAL", line(func(l int) int { return colTotals[l] }, grand))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const trendQuery = `query($field: SpecialtyField!, $department: String, $from: Date!, $to: Date!, $interval: Interval!, $knownAt: DateTime) {
  skillTrend(field: $field, department: $department, from: $from, to: $to, interval: $interval, knownAt: $knownAt) {
    on cells { department level count }
  }
}`

// trendCommand prints people per level in a field on a series of dates.
func trendCommand(c *cli, args []string) error {
	fs := newFlagSet("trend")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	field := fs.String("field", "", "SYSTEM_OPERATION, NETWORK_OPERATION or SERVICE_DESK (required)")
	from := fs.String("from", "", "the first date, YYYY-MM-DD (required)")
	to := fs.String("to", "", "the last date, YYYY-MM-DD (required): a point only when a step lands on it")
	interval := fs.String("interval", "MONTH", "the step: DAY, WEEK, MONTH, QUARTER or YEAR")
	department := fs.String("department", "", "only this department (default: every department, added up)")
	knownAt := fs.String("known-at", "", "as the system knew it at this instant (RFC 3339; default now): a replay of the log, slower")
	asJSON := fs.Bool("json", false, "print the GraphQL response data as JSON (every department of every point)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct{ name, value string }{{"field", *field}, {"from", *from}, {"to", *to}} {
		if f.value == "" {
			return usagef("--%s is required", f.name)
		}
	}
	if err := checkEnum("field", "SpecialtyField", *field, false); err != nil {
		return err
	}
	if err := checkEnum("interval", "Interval", *interval, false); err != nil {
		return err
	}
	for _, d := range []struct{ name, value string }{{"from", *from}, {"to", *to}} {
		if err := checkDate(d.name, d.value); err != nil {
			return err
		}
	}
	vars := map[string]any{"field": strings.ToUpper(*field), "from": *from, "to": *to, "interval": strings.ToUpper(*interval)}
	if err := analyticsFilters(fs, *department, *knownAt, vars); err != nil {
		return err
	}
	data, err := ep.graphql(c.ctx, trendQuery, vars)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, data)
	}
	var res struct {
		SkillTrend []struct {
			On    string             `json:"on"`
			Cells []distributionCell `json:"cells"`
		} `json:"skillTrend"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	rows := make([]levelRow, len(res.SkillTrend))
	for i, p := range res.SkillTrend {
		rows[i] = levelRow{p.On, map[int]int{}}
		for _, cell := range p.Cells {
			rows[i].counts[cell.Level] += cell.Count
		}
	}
	return printLevels(c.stdout, "ON", rows, false)
}

// peopleQuery reads a page of people; $count asks for the total (the first
// page only: counting every match again on each page of a long list made
// paging through it quadratic).
const peopleQuery = `query($department: String, $field: SpecialtyField, $minLevel: Int, $asOf: Date, $after: String, $knownAt: DateTime, $count: Boolean!) {
  people(department: $department, field: $field, minLevel: $minLevel, asOf: $asOf, first: 100, after: $after, knownAt: $knownAt) {
    totalCount @include(if: $count)
    pageInfo { hasNextPage endCursor }
    edges { node { id name joinedOn department(asOf: $asOf) standing(asOf: $asOf) { field level } } }
  }
}`

type personRow struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	JoinedOn   string  `json:"joinedOn"`
	Department *string `json:"department"`
	Standing   []struct {
		Field string `json:"field"`
		Level int    `json:"level"`
	} `json:"standing"`
}

// departmentsCommand prints every department anyone has been or is in, one
// per line: the names the department filters accept.
func departmentsCommand(c *cli, args []string) error {
	fs := newFlagSet("departments")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	asJSON := fs.Bool("json", false, "print the GraphQL response data as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	data, err := ep.graphql(c.ctx, `{ departments }`, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, data)
	}
	var res struct {
		Departments []string `json:"departments"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	for _, d := range res.Departments {
		if _, err := fmt.Fprintln(c.stdout, d); err != nil {
			return err
		}
	}
	return nil
}

// peopleCommand lists people, all pages, with their levels.
func peopleCommand(c *cli, args []string) error {
	fs := newFlagSet("people")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	department := fs.String("department", "", "only people in this department (as of --as-of)")
	field := fs.String("field", "", "the field --min-level applies to")
	minLevel := fs.Int("min-level", 0, "only people at this level or higher in --field (in any field without one)")
	asOf := fs.String("as-of", "", "the date, YYYY-MM-DD (default today, or the date of --known-at)")
	knownAt := fs.String("known-at", "", "the list as the system knew it at this instant (RFC 3339; default now): departments and levels too; a replay of the log, slower")
	asJSON := fs.Bool("json", false, `print {"totalCount": N, "people": [...]} as JSON`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	vars := map[string]any{}
	if err := departmentGiven(fs, *department); err != nil {
		return err
	}
	if *department != "" {
		vars["department"] = *department
	}
	if *field != "" {
		if err := checkEnum("field", "SpecialtyField", *field, false); err != nil {
			return err
		}
		vars["field"] = strings.ToUpper(*field)
	}
	// careerd takes 0 to its catalogue's highest level (5 in the built-in
	// one): what no catalogue has is refused here, and careerd's refusal of
	// a level its catalogue lacks is told as this flag's.
	if *minLevel < 0 || *minLevel > domain.MaxCatalogueLevels {
		return usagef("--min-level: %d is not a level: must be between 0 and the highest level of careerd's catalogue (5 in the built-in one; no catalogue has more than %d)",
			*minLevel, domain.MaxCatalogueLevels)
	}
	if *minLevel > 0 { // everyone is at level 0 or higher
		vars["minLevel"] = *minLevel
	}
	if *asOf != "" {
		if err := checkDate("as-of", *asOf); err != nil {
			return err
		}
		vars["asOf"] = *asOf
	}
	if *knownAt != "" {
		if err := checkInstant("known-at", *knownAt); err != nil {
			return err
		}
		vars["knownAt"] = *knownAt
	}
	var people []json.RawMessage
	total := 0
	vars["count"] = true
	for {
		data, err := ep.graphql(c.ctx, peopleQuery, vars)
		if rule, ok := refusedArgument(err, "minLevel"); ok {
			return usagef("--min-level: %d is not a level of careerd's catalogue: %s", *minLevel, rule)
		}
		if err != nil {
			return err
		}
		var res struct {
			People struct {
				TotalCount int `json:"totalCount"`
				PageInfo   struct {
					HasNextPage bool    `json:"hasNextPage"`
					EndCursor   *string `json:"endCursor"`
				} `json:"pageInfo"`
				Edges []struct {
					Node json.RawMessage `json:"node"`
				} `json:"edges"`
			} `json:"people"`
		}
		if err := json.Unmarshal(data, &res); err != nil {
			return fmt.Errorf("unexpected response: %w", err)
		}
		if vars["count"] == true {
			total, vars["count"] = res.People.TotalCount, false
		}
		for _, e := range res.People.Edges {
			people = append(people, e.Node)
		}
		if !res.People.PageInfo.HasNextPage || res.People.PageInfo.EndCursor == nil || len(res.People.Edges) == 0 {
			break
		}
		vars["after"] = *res.People.PageInfo.EndCursor
	}
	if *asJSON {
		if people == nil {
			people = []json.RawMessage{}
		}
		return writeJSON(c.stdout, map[string]any{"totalCount": total, "people": people})
	}
	tw := newTable(c.stdout, 2)
	var fields []string
	for i, raw := range people {
		var p personRow
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("unexpected response: %w", err)
		}
		if i == 0 {
			fmt.Fprint(tw, "ID\tNAME\tDEPARTMENT\tJOINED")
			for _, s := range p.Standing {
				fields = append(fields, s.Field)
				fmt.Fprintf(tw, "\t%s", s.Field)
			}
			fmt.Fprintln(tw)
		}
		dept := "-"
		if p.Department != nil {
			dept = *p.Department
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", p.ID, p.Name, dept, p.JoinedOn)
		for _, f := range fields {
			level := "-"
			for _, s := range p.Standing {
				if s.Field == f {
					level = strconv.Itoa(s.Level)
				}
			}
			fmt.Fprintf(tw, "\t%s", level)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(people) == 1 {
		fmt.Fprintln(c.stdout, "1 person")
	} else {
		fmt.Fprintf(c.stdout, "%d people\n", len(people))
	}
	return nil
}

// departmentGiven refuses a --department given empty: left out, the filter
// is every department; given empty, it is a mistake (an unset shell
// variable), which the server refuses too.
func departmentGiven(fs *flag.FlagSet, department string) error {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "department" })
	if given && strings.TrimSpace(department) == "" {
		return usagef("--department must not be empty (leave it out for every department)")
	}
	return nil
}

// refusedArgument returns the rule by which careerd refused argument as bad
// input, when err is that refusal: careerctl cannot check it itself (the
// rule depends on careerd's catalogue), but it is the flag's all the same.
func refusedArgument(err error, argument string) (string, bool) {
	var es GraphQLErrors
	if !errors.As(err, &es) {
		return "", false
	}
	for _, e := range es {
		if e.Extensions.Code == "BAD_USER_INPUT" && e.Extensions.Field == argument && e.Extensions.Rule != "" {
			return e.Extensions.Rule, true
		}
	}
	return "", false
}
