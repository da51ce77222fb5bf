package graph_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// TestControlCharacters: a control character (a NUL, which PostgreSQL
// cannot store, a terminal's escape, a direction override) in any text a
// command records is refused naming its field, and records nothing; an
// idempotency key the log would not keep as given likewise; an id holding
// a NUL is no one's; and a NUL that an older log holds projects as U+FFFD
// into both read models, which then go on.
func TestControlCharacters(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "C1", "name": "Chie Abe", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		theme := field(t, e.mutate(t, adm, &mAssess, map[string]any{"personId": "C1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}, "").Data,
			"assessTheme.accomplishmentId").(string)
		engagement := func(title string) map[string]any {
			return map[string]any{"personId": "C1", "field": "SYSTEM_OPERATION", "title": title, "role": "MEMBER",
				"startedOn": "2021-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}
		}
		with := func(in map[string]any, k string, v any) map[string]any {
			in[k] = v
			return in
		}
		for _, c := range []struct {
			name, query string
			in          map[string]any
			field       string
		}{
			{"NUL in a name", mRegister, map[string]any{"id": "C2", "name": "Ch\x00ie", "department": "Operations", "joinedOn": "2020-01-01"}, "name"},
			{"an escape in a department", mTransfer, map[string]any{"personId": "C1", "department": "Ops\x1b[31m", "effectiveOn": "2022-01-01"}, "department"},
			{"NUL in a title", mEngagement, engagement("nul\x00byte"), "title"},
			{"a direction override in a title", mEngagement, engagement("abc\u202edef"), "title"},
			{"a tab in a title", mEngagement, engagement("a\tb"), "title"},
			{"NUL in a reason", mRetract, map[string]any{"accomplishmentId": theme, "reason": "twice\x00"}, "reason"},
			{"a key with a space before it", mEngagement, with(engagement("keyed"), "idempotencyKey", " k1"), "idempotencyKey"},
			{"a key with a control character", mEngagement, with(engagement("keyed"), "idempotencyKey", "k\x01"), "idempotencyKey"},
			{"a key of 201 characters", mEngagement, with(engagement("keyed"), "idempotencyKey", strings.Repeat("k", 201)), "idempotencyKey"},
			{"a key of 100 KB", mEngagement, with(engagement("keyed"), "idempotencyKey", strings.Repeat("k", 100_000)), "idempotencyKey"},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := e.head(t)
				r := e.gql(t, adm, c.query, map[string]any{"in": c.in})
				if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != c.field {
					t.Fatalf("%+v, want BAD_USER_INPUT on %s", r.Errors, c.field)
				}
				if after := e.head(t); after != before {
					t.Errorf("refused input recorded something: head %d -> %d", before, after)
				}
			})
		}
		// A reason may run over lines; a key of 200 characters is a key.
		e.mutate(t, adm, &mEngagement, with(engagement("keyed"), "idempotencyKey", strings.Repeat("k", 200)), "")
		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": theme, "reason": "recorded twice:\n\tonce in March"}, "")

		// An id with a NUL names no one, on either read model: a person id
		// breaks the id rule (bad input naming it, the read model never
		// asked), an accomplishment's token is not found.
		for q, id := range map[string]string{`query($id: ID!) { person(id: $id) { id } }`: "C\x001",
			`query($id: ID!) { accomplishment(id: $id) { id } }`: "C1.\x00", `query($id: ID!) { person(id: $id) { accomplishments { totalCount } } }`: "C1\x00"} {
			want := "BAD_USER_INPUT"
			if strings.Contains(id, ".") {
				want = "NOT_FOUND"
			}
			if r := e.gql(t, adm, q, map[string]any{"id": id}); len(r.Errors) != 1 || r.Errors[0].code() != want {
				t.Errorf("%s with id %q: %+v, want %s", q, id, r.Errors, want)
			}
		}

		// A NUL an older log holds: read as U+FFFD, projected, and the read
		// model goes on.
		out, err := e.Log.AppendBatch(context.Background(), []events.Pending{{PersonID: "C1", MsgID: "old-nul", ExpectedLastSeq: e.head(t), // C1's: the only person
			Event: events.EngagementRecorded{AccomplishmentID: "C1.OLDNUL", Field: "SYSTEM_OPERATION", Title: "old\x00title",
				Role: "MEMBER", StartedOn: domain.MustDate("2020-06-01"), Outcome: "ONGOING", WithinBudget: true, Complexity: []string{}},
			RecordedAt: e.Clock.Now(), IdempotencyKey: "old\x00key"}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append: %v %+v", err, out)
		}
		e.Wait(out[0].Position)
		r := e.gql(t, adm, `{ accomplishment(id: "C1.OLDNUL") { ... on Engagement { title } } }`, nil).ok(t)
		if got := field(t, r.Data, "accomplishment.title"); got != "old\uFFFDtitle" {
			t.Errorf("an older log's NUL: title %q, want U+FFFD in its place", got)
		}
		e.mutate(t, adm, &mEngagement, engagement("after the NUL"), "")

		// A department an earlier release recorded with a tab is listed,
		// and reached by that name.
		registerAsEarlierReleasesDid(t, e, "OLDTAB", "Ops\tDesk")
		if r := e.gql(t, adm, `{ departments }`, nil).ok(t); !strings.Contains(string(r.Data), `"Ops\tDesk"`) {
			t.Errorf("departments: %s, want Ops\tDesk listed", r.Data)
		}
		r = e.gql(t, adm, `query($d: String) { people(department: $d) { totalCount } }`, map[string]any{"d": "Ops\tDesk"}).ok(t)
		if string(r.Data) != `{"people":{"totalCount":1}}` {
			t.Errorf("people of the department with a tab: %s", r.Data)
		}
		// A name with a line break around it is its trimmed name, with
		// knownAt as without (a CSV's \r\n).
		now := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		for _, vars := range []map[string]any{{"d": "Operations\r"}, {"d": "Operations\r", "k": now}} {
			r := e.gql(t, adm, `query($d: String, $k: DateTime) { people(department: $d, knownAt: $k) { totalCount } }`, vars).ok(t)
			if string(r.Data) != `{"people":{"totalCount":1}}` {
				t.Errorf("people of %q: %s, want C1", vars, r.Data)
			}
		}
		if r := e.gql(t, adm, `query($d: String) { people(department: $d) { totalCount } }`, map[string]any{"d": "Ops\tDesk2"}); len(r.Errors) != 1 || r.Errors[0].rule() != "must not contain control characters" {
			t.Errorf("a department with a tab nobody has been in: %+v, want the control-character refusal", r.Errors)
		}
	})
}

// TestTheRetryOfARegistrationAnEarlierReleaseRecorded: a registration whose
// name or department holds a control character, which a release before the
// rule recorded, sent again under its key with its very values, through
// GraphQL or /v1/import, is answered as the repeat it is (its person, its
// position) and records nothing; a new such registration, or one with
// other values under that key, is refused naming the field.
func TestTheRetryOfARegistrationAnEarlierReleaseRecorded(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		in := map[string]any{"id": "OLD1", "name": "Old\tTimer", "department": "Ops\x1b[31mDesk", "joinedOn": "2019-01-01", "idempotencyKey": "hire-1"}
		out, err := e.Log.AppendBatch(context.Background(), []events.Pending{{PersonID: "OLD1", MsgID: "OLD1:hire-1", IdempotencyKey: "hire-1",
			Event:      events.PersonRegistered{PersonID: "OLD1", Name: "Old\tTimer", Department: "Ops\x1b[31mDesk", JoinedOn: domain.MustDate("2019-01-01")},
			RecordedAt: e.Clock.Now()}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		e.Wait(out[0].Position)
		head := e.head(t)
		at := strconv.FormatUint(out[0].Position, 10)

		r := e.gql(t, adm, mRegister, map[string]any{"in": in}).ok(t)
		if got, pos := field(t, r.Data, "registerPerson.person.id"), field(t, r.Data, "registerPerson.position"); got != "OLD1" || pos != at {
			t.Errorf("the retry through GraphQL: person %v at %v, want OLD1 at %s", got, pos, at)
		}
		line, _ := json.Marshal(map[string]any{"op": "registerPerson", "input": in})
		if code, res := e.importLines(t, adm, string(line)); code != http.StatusOK || len(res) != 1 || !res[0].OK || !res[0].Duplicate ||
			res[0].PersonID != "OLD1" || res[0].Position != at {
			t.Errorf("the retry through /v1/import: %d %+v, want the repeat of OLD1 at %s", code, res, at)
		}

		with := func(k string, v any) map[string]any {
			out := maps.Clone(in)
			out[k] = v
			return out
		}
		for _, c := range []struct {
			what  string
			in    map[string]any
			field string
		}{
			{"other values under the key", with("joinedOn", "2019-02-01"), "name"},
			{"a new key", with("idempotencyKey", "hire-2"), "name"},
			{"a new person", with("id", "NEW1"), "name"},
			{"no key", with("idempotencyKey", nil), "name"},
			{"a new key, the department's", func() map[string]any { m := with("idempotencyKey", "hire-3"); m["name"] = "Old Timer"; return m }(), "department"},
		} {
			if r := e.gql(t, adm, mRegister, map[string]any{"in": c.in}); len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" ||
				r.Errors[0].field() != c.field || r.Errors[0].rule() != "must not contain control characters" {
				t.Errorf("%s through GraphQL: %+v, want the control-character refusal of %s", c.what, r.Errors, c.field)
			}
			line, _ := json.Marshal(map[string]any{"op": "registerPerson", "input": c.in})
			if _, res := e.importLines(t, adm, string(line)); len(res) != 1 || res[0].OK || res[0].Code != "BAD_USER_INPUT" ||
				res[0].Field != c.field || res[0].Rule != "must not contain control characters" {
				t.Errorf("%s through /v1/import: %+v, want the control-character refusal of %s", c.what, res, c.field)
			}
		}

		if after := e.head(t); after != head {
			t.Errorf("the retries and refusals recorded something: head %d -> %d", head, after)
		}

		// A NUL such a release recorded reads back as U+FFFD, while the
		// retry still sends the NUL: it is the repeat all the same.
		nul := map[string]any{"id": "OLD2", "name": "Old\x00Timer", "department": "Operations", "joinedOn": "2019-01-01", "idempotencyKey": "hire-nul"}
		out, err = e.Log.AppendBatch(context.Background(), []events.Pending{{PersonID: "OLD2", MsgID: "OLD2:hire-nul", IdempotencyKey: "hire-nul",
			Event:      events.PersonRegistered{PersonID: "OLD2", Name: "Old\x00Timer", Department: "Operations", JoinedOn: domain.MustDate("2019-01-01")},
			RecordedAt: e.Clock.Now()}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		e.Wait(out[0].Position)
		head = e.head(t)
		at = strconv.FormatUint(out[0].Position, 10)
		r = e.gql(t, adm, mRegister, map[string]any{"in": nul}).ok(t)
		if got, pos, name := field(t, r.Data, "registerPerson.person.id"), field(t, r.Data, "registerPerson.position"), field(t, r.Data, "registerPerson.person.name"); got != "OLD2" || pos != at || name != "Old\uFFFDTimer" {
			t.Errorf("the retry of a name with a NUL through GraphQL: person %v (%q) at %v, want OLD2 (U+FFFD for the NUL) at %s", got, name, pos, at)
		}
		line, _ = json.Marshal(map[string]any{"op": "registerPerson", "input": nul})
		if code, res := e.importLines(t, adm, string(line)); code != http.StatusOK || len(res) != 1 || !res[0].OK || !res[0].Duplicate ||
			res[0].PersonID != "OLD2" || res[0].Position != at {
			t.Errorf("the retry of a name with a NUL through /v1/import: %d %+v, want the repeat of OLD2 at %s", code, res, at)
		}
		nul["joinedOn"] = "2019-02-01"
		if r := e.gql(t, adm, mRegister, map[string]any{"in": nul}); len(r.Errors) != 1 || r.Errors[0].field() != "name" || r.Errors[0].rule() != "must not contain control characters" {
			t.Errorf("a name with a NUL and other values under the key: %+v, want the control-character refusal of name", r.Errors)
		}

		if after := e.head(t); after != head {
			t.Errorf("the retries and refusals recorded something: head %d -> %d", head, after)
		}
	})
}
