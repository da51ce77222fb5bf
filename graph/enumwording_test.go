package graph_test

import (
	"fmt"
	"testing"
)

// TestAnAmendedKindIsRefusedInTheWordsOfAnEnum: amendAccomplishment's kind
// is a String (a SuccessionKind or a DevelopmentKind value, by what it
// amends), so a value the amended accomplishment's kind does not have is
// refused by the domain's validation, not by GraphQL; it is told in the
// words GraphQL refuses that enum's variable with (the same message, field
// and rule), through GraphQL and /v1/import alike, and nothing is recorded.
func TestAnAmendedKindIsRefusedInTheWordsOfAnEnum(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K1", "name": "Kay", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		succ := field(t, e.mutate(t, adm, &mSuccession, map[string]any{"personId": "K1", "kind": "BOOK", "title": "b",
			"occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}, "").Data, "recordTechnologySuccession.accomplishmentId").(string)
		dev := field(t, e.mutate(t, adm, &mDevelopment, map[string]any{"personId": "K1", "kind": "MENTORING",
			"occurredOn": "2024-01-01"}, "").Data, "recordSubordinateDevelopment.accomplishmentId").(string)
		head := e.head(t)

		for _, c := range []struct {
			id, kind string
			record   string         // the mutation that takes kind as its enum
			in       map[string]any // its input, kind aside
		}{
			{succ, "MENTORING", mSuccession, map[string]any{"personId": "K1", "title": "b", "occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}},
			{succ, "book", mSuccession, map[string]any{"personId": "K1", "title": "b", "occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}},
			{dev, "BOOK", mDevelopment, map[string]any{"personId": "K1", "occurredOn": "2024-01-01"}},
			{dev, "coaching", mDevelopment, map[string]any{"personId": "K1", "occurredOn": "2024-01-01"}},
			// Given empty, as GraphQL refuses an empty enum value (not
			// "is required": it was given).
			{succ, "", mSuccession, map[string]any{"personId": "K1", "title": "b", "occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}},
			{dev, "", mDevelopment, map[string]any{"personId": "K1", "occurredOn": "2024-01-01"}},
		} {
			c.in["kind"] = c.kind
			want := e.gql(t, adm, c.record, in(c.in))
			if len(want.Errors) != 1 || want.Errors[0].code() != "BAD_USER_INPUT" || want.Errors[0].field() != "kind" {
				t.Fatalf("%s: GraphQL's refusal of kind %q: %s", c.record, c.kind, want.Raw)
			}
			w := want.Errors[0]
			got := e.gql(t, adm, mAmend, in(map[string]any{"accomplishmentId": c.id, "kind": c.kind}))
			if len(got.Errors) != 1 {
				t.Fatalf("amend %s to kind %q: %s, want one error", c.id, c.kind, got.Raw)
			}
			g := got.Errors[0]
			if g.code() != w.code() || g.field() != w.field() || g.rule() != w.rule() || g.Message != w.Message {
				t.Errorf("amend %s to kind %q:\n got  %s %s %q %q\n want %s %s %q %q (as GraphQL refuses the enum's variable)",
					c.id, c.kind, g.code(), g.field(), g.rule(), g.Message, w.code(), w.field(), w.rule(), w.Message)
			}
			_, lines := e.importLines(t, adm, fmt.Sprintf(`{"op":"amendAccomplishment","input":{"accomplishmentId":%q,"kind":%q}}`, c.id, c.kind))
			if len(lines) != 1 || lines[0].OK || lines[0].Code != w.code() || lines[0].Field != w.field() || lines[0].Rule != w.rule() || lines[0].Message != w.Message {
				t.Errorf("import amending %s to kind %q: %+v, want %s %s %q", c.id, c.kind, lines, w.code(), w.field(), w.Message)
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}
	})
}
