package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/careerledger/careerledger/domain"
)

const personQuery = `query($id: ID!, $asOf: Date, $knownAt: DateTime) {
  person(id: $id) {
    id name joinedOn recordedAt
    department(asOf: $asOf, knownAt: $knownAt)
    memberships(knownAt: $knownAt) { department from to }
    standing(asOf: $asOf, knownAt: $knownAt) {
      field level attainedOn catalogueId catalogueVersion
      criteria { criterion met evidence missing }
      next { level criteria { criterion met evidence missing } }
    }
    history(knownAt: $knownAt) { field on from to }
  }
}`

type criterionResult struct {
	Criterion string   `json:"criterion"`
	Met       bool     `json:"met"`
	Evidence  []string `json:"evidence"`
	Missing   *string  `json:"missing"`
}

type personView struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	JoinedOn    string  `json:"joinedOn"`
	RecordedAt  string  `json:"recordedAt"`
	Department  *string `json:"department"`
	Memberships []struct {
		Department string  `json:"department"`
		From       string  `json:"from"`
		To         *string `json:"to"`
	} `json:"memberships"`
	Standing []struct {
		Field            string            `json:"field"`
		Level            int               `json:"level"`
		AttainedOn       *string           `json:"attainedOn"`
		CatalogueID      string            `json:"catalogueId"`
		CatalogueVersion int               `json:"catalogueVersion"`
		Criteria         []criterionResult `json:"criteria"`
		Next             *struct {
			Level    int               `json:"level"`
			Criteria []criterionResult `json:"criteria"`
		} `json:"next"`
	} `json:"standing"`
	History []struct {
		Field string `json:"field"`
		On    string `json:"on"`
		From  int    `json:"from"`
		To    int    `json:"to"`
	} `json:"history"`
}

// personCommand shows one person's standing per field with the criteria of
// the current and the next level, the history and the department.
func personCommand(c *cli, args []string) error {
	fs := newFlagSet("person")
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: careerctl person ID [--as-of YYYY-MM-DD] [--known-at RFC3339] [--json]")
		fs.PrintDefaults()
	}
	ep := endpointFlags(fs, c)
	asOf := fs.String("as-of", "", "judge on evidence effective on or before this date (default today)")
	knownAt := fs.String("known-at", "", "as the system knew it at this instant (RFC 3339; default now)")
	asJSON := fs.Bool("json", false, "print the GraphQL response data as JSON")
	id, err := parseWithOneArg(fs, args, "ID")
	if err != nil {
		return err
	}
	vars := map[string]any{"id": id}
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
	query, departmentsKnownAt := personQuery, true
	data, err := ep.graphql(c.ctx, query, vars)
	var gerrs GraphQLErrors
	if errors.As(err, &gerrs) && gerrs.Code() == "GRAPHQL_VALIDATION_FAILED" {
		// An older careerd refuses at validation what it does not know,
		// every such field at once: ask again without it.
		msg := gerrs.Error()
		if strings.Contains(msg, `"recordedAt"`) {
			// Before Person.recordedAt: printPerson then goes by the
			// empty standing such a careerd answers before the
			// registration.
			query = strings.Replace(query, " recordedAt", "", 1)
		}
		if strings.Contains(msg, `Unknown argument "knownAt" on field "Person.department"`) ||
			strings.Contains(msg, `Unknown argument "knownAt" on field "Person.memberships"`) {
			// Before department(knownAt:) and memberships(knownAt:): the
			// departments as known now, and printPerson says so.
			query = departmentsKnownNow.Replace(query)
			departmentsKnownAt = false
		}
		if query != personQuery {
			data, err = ep.graphql(c.ctx, query, vars)
		}
	}
	if err != nil {
		return err
	}
	var res struct {
		Person *personView `json:"person"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	if res.Person == nil {
		return fmt.Errorf("NOT_FOUND: person %s not found", id)
	}
	if *asJSON {
		return writeJSON(c.stdout, data)
	}
	return printPerson(c.stdout, res.Person, *asOf, *knownAt, departmentsKnownAt)
}

// departmentsKnownNow turns personQuery into the query of a careerd whose
// department and memberships take no knownAt.
var departmentsKnownNow = strings.NewReplacer(
	"department(asOf: $asOf, knownAt: $knownAt)", "department(asOf: $asOf)",
	"memberships(knownAt: $knownAt)", "memberships")

// parseWithOneArg parses fs from args that hold one positional argument,
// before or after the flags.
func parseWithOneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	var pos string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if pos == "" && len(rest) > 0 {
		pos, rest = rest[0], rest[1:]
		if err := parseFlags(fs, rest); err != nil {
			return "", err
		}
		rest = fs.Args()
	}
	if pos == "" {
		fs.Usage()
		return "", usagef("%s is required", what)
	}
	if len(rest) > 0 {
		return "", usagef("unexpected argument %q", rest[0])
	}
	return pos, nil
}

// printPerson writes p as known at knownAt (now when empty): its
// departments too unless departmentsKnownAt is false (a careerd whose
// department and memberships take no knownAt answers them as known now).
func printPerson(out io.Writer, p *personView, asOf, knownAt string, departmentsKnownAt bool) error {
	var w bytes.Buffer
	when := "today"
	switch {
	case asOf != "":
		when = "on " + asOf
	case knownAt != "" && departmentsKnownAt:
		// careerd judges the department on the date of knownAt (in its
		// time zone), as the standing.
		when = "at " + knownAt
	}
	dept := "none"
	if p.Department != nil {
		dept = *p.Department
	}
	fmt.Fprintf(&w, "%s  %s\n", p.ID, p.Name)
	fmt.Fprintf(&w, "joined %s; department %s: %s\n", p.JoinedOn, when, dept)
	if knownAt != "" {
		if departmentsKnownAt {
			fmt.Fprintf(&w, "standing, history and departments as known at %s\n", knownAt)
		} else {
			fmt.Fprintf(&w, "standing and history as known at %s; departments as known now\n", knownAt)
		}
		k, errK := domain.ParseInstant(knownAt)
		r, errR := time.Parse(time.RFC3339Nano, p.RecordedAt)
		if p.RecordedAt == "" && len(p.Standing) == 0 {
			// A careerd before Person.recordedAt: a standing of no fields
			// as known at an instant before the registration was recorded.
			fmt.Fprintf(&w, "\nnothing was known of %s at %s: the registration was recorded later\n", p.ID, knownAt)
		} else if errK == nil && errR == nil && k.Before(r) {
			// Before the registration was recorded every field is judged
			// on no evidence: nothing was known of the person.
			fmt.Fprintf(&w, "\nnothing was known of %s at %s: the registration was recorded at %s\n", p.ID, knownAt, p.RecordedAt)
		}
	}
	for _, s := range p.Standing {
		since := ""
		if s.AttainedOn != nil {
			since = " since " + *s.AttainedOn
		}
		fmt.Fprintf(&w, "\n%s: level %d%s\n", s.Field, s.Level, since)
		tw := newTable(&w, 2)
		if s.Level > 0 {
			fmt.Fprintf(tw, "  level %d\t\t\t\n", s.Level)
			printCriteria(tw, s.Criteria)
		}
		if s.Next != nil {
			fmt.Fprintf(tw, "  next: level %d\t\t\t\n", s.Next.Level)
			printCriteria(tw, s.Next.Criteria)
		} else {
			fmt.Fprintf(tw, "  top level reached\t\t\t\n")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(&w, "\nhistory")
	tw := newTable(&w, 2)
	if len(p.History) == 0 {
		fmt.Fprintln(tw, "  (no level yet)")
	}
	for _, h := range p.History {
		fmt.Fprintf(tw, "  %s\t%s\t%d -> %d\n", h.On, h.Field, h.From, h.To)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(&w, "\ndepartments")
	tw = newTable(&w, 2)
	if len(p.Memberships) == 0 {
		fmt.Fprintln(tw, "  (none)")
	}
	for _, m := range p.Memberships {
		to := "now"
		if m.To != nil {
			to = "before " + *m.To
		}
		fmt.Fprintf(tw, "  %s\t%s .. %s\n", m.Department, m.From, to)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeTrimmed(out, w.Bytes())
}

// writeTrimmed writes text without trailing blanks on its lines.
func writeTrimmed(w io.Writer, text []byte) error {
	lines := bytes.Split(text, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " ")
	}
	_, err := w.Write(bytes.Join(lines, []byte("\n")))
	return err
}

// printCriteria writes one row per criterion: met or not, then the
// evidence that meets it or, when not met, what is missing (with the
// evidence that counts so far).
func printCriteria(w io.Writer, cs []criterionResult) {
	for _, cr := range cs {
		ev := strings.Join(cr.Evidence, ", ")
		if len(cr.Evidence) > 4 {
			ev = strings.Join(cr.Evidence[:4], ", ") + fmt.Sprintf(" (+%d more)", len(cr.Evidence)-4)
		}
		if cr.Met {
			fmt.Fprintf(w, "    %s\tmet\t%s\t\n", cr.Criterion, ev)
			continue
		}
		text := "not met"
		if cr.Missing != nil && *cr.Missing != "" {
			text = *cr.Missing
		}
		if ev != "" {
			text += " (so far: " + ev + ")"
		}
		fmt.Fprintf(w, "    %s\tnot met\t%s\t\n", cr.Criterion, text)
	}
}
