package graph_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestTrendPointsKeepTheirDayOfMonth: a monthly, quarterly or yearly trend
// from a day some months lack falls on the last day of those months and
// never skips one (January 31 plus a month is February 29, not March 2).
func TestTrendPointsKeepTheirDayOfMonth(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	for _, c := range []struct {
		from, to, interval string
		want               []string
	}{
		{"2024-01-31", "2024-05-31", "MONTH", []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"}},
		{"2023-01-31", "2023-03-31", "MONTH", []string{"2023-01-31", "2023-02-28", "2023-03-31"}},
		{"2023-11-30", "2024-03-01", "QUARTER", []string{"2023-11-30", "2024-02-29"}},
		{"2024-08-31", "2025-06-01", "QUARTER", []string{"2024-08-31", "2024-11-30", "2025-02-28", "2025-05-31"}},
		{"2024-02-29", "2028-03-01", "YEAR", []string{"2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"}},
		{"2024-01-15", "2024-03-15", "MONTH", []string{"2024-01-15", "2024-02-15", "2024-03-15"}},
	} {
		t.Run(c.from+"_"+c.interval, func(t *testing.T) {
			r := e.gql(t, adm, `query($from: Date!, $to: Date!, $interval: Interval!) {
				skillTrend(field: SERVICE_DESK, from: $from, to: $to, interval: $interval) { on } }`,
				map[string]any{"from": c.from, "to": c.to, "interval": c.interval}).ok(t)
			var got struct {
				SkillTrend []struct{ On string } `json:"skillTrend"`
			}
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			var on []string
			for _, p := range got.SkillTrend {
				on = append(on, p.On)
			}
			if !slices.Equal(on, c.want) {
				t.Errorf("points %v, want %v", on, c.want)
			}
		})
	}
}

// TestLaterDatesAnswerTodaysState: nothing dated after today can be
// recorded, so a distribution after today is today's, and a trend past
// today is flat (docs/api-choices.md).
func TestLaterDatesAnswerTodaysState(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "F1", "name": "F", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		levelOne(t, e, adm, "F1")
		// Today is 2026-06-01 in this suite.
		r := e.gql(t, adm, `{ today: skillDistribution(field: SERVICE_DESK) { department level count }
			later: skillDistribution(field: SERVICE_DESK, asOf: "2030-01-01") { department level count }
			trend: skillTrend(field: SERVICE_DESK, from: "2026-06-01", to: "2028-06-01", interval: YEAR) { on cells { department level count } } }`, nil).ok(t)
		var got struct {
			Today, Later []map[string]any
			Trend        []struct {
				On    string
				Cells []map[string]any
			}
		}
		if err := json.Unmarshal(r.Data, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Today) == 0 || !reflect.DeepEqual(got.Today, got.Later) {
			t.Errorf("after today %v, want today's %v", got.Later, got.Today)
		}
		for _, p := range got.Trend {
			if !reflect.DeepEqual(p.Cells, got.Today) {
				t.Errorf("trend point %s: %v, want today's %v", p.On, p.Cells, got.Today)
			}
		}
	})
}

// TestATrendHoldsAtMost400Points: a trend answers up to 400 points (a
// daily one over 400 days, to included when a step lands on it); one
// more is refused as bad input naming interval, before anything is read.
func TestATrendHoldsAtMost400Points(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	const q = `query($to: Date!) { skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: $to, interval: DAY) { on } }`
	var got struct {
		SkillTrend []struct{ On string } `json:"skillTrend"`
	}
	e.gql(t, adm, q, map[string]any{"to": "2026-02-04"}).ok(t).decode(t, &got)
	if n := len(got.SkillTrend); n != 400 || got.SkillTrend[n-1].On != "2026-02-04" {
		t.Fatalf("daily trend over 400 days: %d points, want 400 ending on to", n)
	}
	r := e.gql(t, adm, q, map[string]any{"to": "2026-02-05"})
	if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "interval" || !strings.Contains(r.Errors[0].Message, "400 points") {
		t.Errorf("daily trend over 401 days: %+v, want BAD_USER_INPUT on interval naming 400 points", r.Errors)
	}
}

// TestLaterDatesDropWhatWillHaveExpired: with an evidence window, a date
// after today is not today's state: evidence that will have expired by
// then no longer counts, as the history's change on the day it expires
// says, so a distribution after that day and a trend through it show the
// fall (docs/api-choices.md).
func TestLaterDatesDropWhatWillHaveExpired(t *testing.T) {
	cat := editedCatalogue(t, func(doc map[string]any) { doc["evidenceWindow"] = map[string]any{"years": 1} })
	forEachBackend(t, options{catalogue: cat}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		// Today is 2026-06-01 in this suite.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "X1", "name": "X", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "X1", "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
			"startedOn": "2026-05-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "X1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2026-05-15"}, "")
		r := e.gql(t, adm, `{ today: skillDistribution(field: SERVICE_DESK) { level count }
			before: skillDistribution(field: SERVICE_DESK, asOf: "2027-04-30") { level count }
			after: skillDistribution(field: SERVICE_DESK, asOf: "2027-05-01") { level count }
			trend: skillTrend(field: SERVICE_DESK, from: "2026-06-01", to: "2028-06-01", interval: YEAR) { on cells { level count } }
			person(id: "X1") { history(field: SERVICE_DESK) { on from to } } }`, nil).ok(t)
		var got struct {
			Today, Before, After []struct{ Level, Count int }
			Trend                []struct {
				On    string
				Cells []struct{ Level, Count int }
			}
			Person struct {
				History []struct {
					On       string
					From, To int
				}
			}
		}
		r.decode(t, &got)
		level := func(cells []struct{ Level, Count int }) int {
			if len(cells) != 1 || cells[0].Count != 1 {
				t.Fatalf("cells %+v, want X1 alone: %s", cells, r.Data)
			}
			return cells[0].Level
		}
		if level(got.Today) != 1 || level(got.Before) != 1 || level(got.After) != 0 {
			t.Errorf("today %+v, 2027-04-30 %+v, 2027-05-01 %+v; want level 1, 1, then 0 once the engagement of 2026-05-01 expired", got.Today, got.Before, got.After)
		}
		if len(got.Trend) != 3 || level(got.Trend[0].Cells) != 1 || level(got.Trend[1].Cells) != 0 || level(got.Trend[2].Cells) != 0 {
			t.Errorf("trend %+v, want level 1 on 2026-06-01, then 0", got.Trend)
		}
		h := got.Person.History
		if len(h) != 2 || h[1].On != "2027-05-01" || h[1].To != 0 {
			t.Errorf("history %+v, want the fall to 0 on 2027-05-01", h)
		}
	})
}
