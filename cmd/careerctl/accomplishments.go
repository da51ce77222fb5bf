package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const accomplishmentsQuery = `query($id: ID!, $after: String) {
  person(id: $id) {
    accomplishments(first: 100, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id kind recordedAt recordedBy amendedAt amendedBy retracted retractionReason retractedBy
        ... on Engagement { field title role startedOn completedOn outcome withinBudget peakHeadcount annualContractValueYen installationSites inquiriesPerYear complexity }
        ... on TechnologySuccession { successionKind title occurredOn fields }
        ... on SubordinateDevelopment { developmentKind occurredOn subordinateId }
        ... on ThemeAssessment { theme proficiency assessedOn }
      } }
    }
  }
}`

// accomplishmentView is one accomplishment as accomplishmentsQuery reads it.
type accomplishmentView struct {
	ID               string    `json:"id"`
	Kind             string    `json:"kind"`
	RecordedAt       string    `json:"recordedAt"`
	RecordedBy       *string   `json:"recordedBy"`
	AmendedAt        *string   `json:"amendedAt"`
	AmendedBy        *string   `json:"amendedBy"`
	Retracted        bool      `json:"retracted"`
	RetractionReason *string   `json:"retractionReason"`
	RetractedBy      *string   `json:"retractedBy"`
	Field            string    `json:"field,omitempty"`
	Title            string    `json:"title,omitempty"`
	Role             string    `json:"role,omitempty"`
	StartedOn        string    `json:"startedOn,omitempty"`
	CompletedOn      *string   `json:"completedOn,omitempty"`
	Outcome          string    `json:"outcome,omitempty"`
	WithinBudget     *bool     `json:"withinBudget,omitempty"`
	PeakHeadcount    *int      `json:"peakHeadcount,omitempty"`
	ContractYen      *int64    `json:"annualContractValueYen,omitempty"`
	Sites            *int      `json:"installationSites,omitempty"`
	InquiriesPerYear *int      `json:"inquiriesPerYear,omitempty"`
	Complexity       *[]string `json:"complexity,omitempty"` // nil but for an engagement, whose list may be empty
	SuccessionKind   string    `json:"successionKind,omitempty"`
	OccurredOn       string    `json:"occurredOn,omitempty"`
	Fields           []string  `json:"fields,omitempty"`
	DevelopmentKind  string    `json:"developmentKind,omitempty"`
	SubordinateID    *string   `json:"subordinateId,omitempty"`
	Theme            string    `json:"theme,omitempty"`
	Proficiency      string    `json:"proficiency,omitempty"`
	AssessedOn       string    `json:"assessedOn,omitempty"`
}

// accomplishmentsCommand lists a person's accomplishments, all pages, in
// recording order: their ids (what amend-accomplishment and
// retract-accomplishment take), what each says, and who recorded, amended
// or retracted it.
func accomplishmentsCommand(c *cli, args []string) error {
	fs := newFlagSet("accomplishments")
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: careerctl accomplishments ID [--json]")
		fs.PrintDefaults()
	}
	ep := endpointFlags(fs, c)
	asJSON := fs.Bool("json", false, `print {"totalCount": N, "accomplishments": [...]} as JSON`)
	id, err := parseWithOneArg(fs, args, "ID")
	if err != nil {
		return err
	}
	vars := map[string]any{"id": id}
	all := []accomplishmentView{} // [] in --json for a person with none
	total := 0
	for {
		data, err := ep.graphql(c.ctx, accomplishmentsQuery, vars)
		if err != nil {
			return err
		}
		var res struct {
			Person *struct {
				Accomplishments struct {
					TotalCount int `json:"totalCount"`
					PageInfo   struct {
						HasNextPage bool    `json:"hasNextPage"`
						EndCursor   *string `json:"endCursor"`
					} `json:"pageInfo"`
					Edges []struct {
						Node accomplishmentView `json:"node"`
					} `json:"edges"`
				} `json:"accomplishments"`
			} `json:"person"`
		}
		if err := json.Unmarshal(data, &res); err != nil {
			return fmt.Errorf("unexpected response: %w", err)
		}
		if res.Person == nil {
			return fmt.Errorf("person %s not found", id)
		}
		page := res.Person.Accomplishments
		total = page.TotalCount
		for _, e := range page.Edges {
			all = append(all, e.Node)
		}
		if !page.PageInfo.HasNextPage || page.PageInfo.EndCursor == nil || len(page.Edges) == 0 {
			break
		}
		vars["after"] = *page.PageInfo.EndCursor
	}
	if *asJSON {
		return writeJSON(c.stdout, map[string]any{"totalCount": total, "accomplishments": all})
	}
	return printAccomplishments(c.stdout, all)
}

// printAccomplishments writes one accomplishment a line: id, kind, what it
// says, its dates, who recorded it, and whether it was amended or
// retracted (and by whom).
func printAccomplishments(out io.Writer, all []accomplishmentView) error {
	w := newTable(out, 2)
	fmt.Fprintln(w, "ID\tKIND\tWHAT\tDATE\tRECORDED BY\tSTATE")
	for _, a := range all {
		var what, date string
		switch {
		case a.Field != "":
			what = fmt.Sprintf("%s %s (%s)", a.Field, quoteText(a.Title), strings.Join(engagementTerms(a), ", "))
			date = a.StartedOn + " .. "
			if a.CompletedOn != nil {
				date += *a.CompletedOn
			}
		case a.SuccessionKind != "":
			what, date = fmt.Sprintf("%s %s for %s", a.SuccessionKind, quoteText(a.Title), strings.Join(a.Fields, ", ")), a.OccurredOn
		case a.DevelopmentKind != "":
			what, date = a.DevelopmentKind, a.OccurredOn
			if a.SubordinateID != nil {
				what += " of " + *a.SubordinateID
			}
		case a.Theme != "":
			what, date = a.Theme+" at "+a.Proficiency, a.AssessedOn
		}
		var states []string
		if a.AmendedAt != nil {
			states = append(states, "amended"+by(a.AmendedBy))
		}
		if a.Retracted {
			st := "retracted" + by(a.RetractedBy)
			if a.RetractionReason != nil {
				st += ": " + quoteText(*a.RetractionReason) // quoted: a tab or newline would break the table
			}
			states = append(states, st)
		}
		state := strings.Join(states, ", then ")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Kind, what, date, deref(a.RecordedBy, "-"), state)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	noun := "accomplishments"
	if len(all) == 1 {
		noun = "accomplishment"
	}
	_, err := fmt.Fprintf(out, "%d %s\n", len(all), noun)
	return err
}

// engagementTerms are what the levels of an engagement are judged by: the
// role and outcome, the budget, the size and the complexity, as far as
// they were recorded.
func engagementTerms(a accomplishmentView) []string {
	terms := []string{a.Role, a.Outcome}
	if a.WithinBudget != nil && !*a.WithinBudget {
		terms = append(terms, "not within budget")
	}
	for _, size := range []struct {
		n         *int64
		one, many string
	}{
		{intPtr64(a.PeakHeadcount), "person at peak", "people at peak"},
		{a.ContractYen, "yen a year", "yen a year"},
		{intPtr64(a.Sites), "site", "sites"},
		{intPtr64(a.InquiriesPerYear), "inquiry a year", "inquiries a year"},
	} {
		if size.n != nil {
			terms = append(terms, plural(*size.n, size.one, size.many))
		}
	}
	if a.Complexity != nil && len(*a.Complexity) > 0 {
		terms = append(terms, "complexity "+strings.Join(*a.Complexity, "+"))
	}
	return terms
}

func intPtr64(n *int) *int64 {
	if n == nil {
		return nil
	}
	v := int64(*n)
	return &v
}

// quoteText quotes recorded text for a table: escaped where a character
// would break the line or the table (a tab, a newline, a control
// character), as written anywhere else, a Japanese full-width space (U+3000)
// included, which strconv.Quote would escape.
func quoteText(s string) string { return strconv.QuoteToGraphic(s) }

// by is " by WHO", or "" when the log does not say who.
func by(who *string) string {
	if who == nil || *who == "" {
		return ""
	}
	return " by " + *who
}

func deref(s *string, none string) string {
	if s == nil || *s == "" {
		return none
	}
	return *s
}
