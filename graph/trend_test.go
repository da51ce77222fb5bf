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
