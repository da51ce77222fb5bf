package graph_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/graph"
)

func (e *env) importLines(t *testing.T, token string, lines ...string) (int, []graph.ImportResult) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/import", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []graph.ImportResult
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var r graph.ImportResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("import answer %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return res.StatusCode, out
}

var importFile = []string{
	`{"op":"registerPerson","input":{"id":"B1","name":"Bulk One","department":"Operations","joinedOn":"2015-04-01","idempotencyKey":"k1"}}`,
	`{"op":"recordEngagement","input":{"personId":"B1","field":"SYSTEM_OPERATION","title":"DC move","role":"MEMBER","startedOn":"2016-01-01","completedOn":"2017-01-01","outcome":"SUCCESSFUL","withinBudget":true,"complexity":["OPERATION_REQUIREMENTS","OPERATION_SYSTEMS"],"idempotencyKey":"k2"}}`,
	`{"op":"assessTheme","input":{"personId":"B1","theme":"SERVICE_LEVEL_MANAGEMENT","proficiency":"PRACTICE","assessedOn":"2017-06-01","idempotencyKey":"k3"}}`,
	`{"op":"assessTheme","input":{"personId":"B1","theme":"SERVICE_SUPPORT_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01","idempotencyKey":"k4"}}`,
	`{"op":"recordEngagement","input":{"personId":"B1","field":"SYSTEM_OPERATION","title":"bad","role":"MEMBER","startedOn":"2018-01-01","completedOn":"2017-01-01","outcome":"SUCCESSFUL","withinBudget":true,"complexity":[],"idempotencyKey":"k5"}}`,
	`{"op":"promotePerson","input":{}}`,
	`{"op":"assessTheme","input":{"personId":"B1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01","colour":"red"}}`,
	`{"op":"assessTheme","input":{"personId":"B1","theme":"STRESS_MANAGEMENT","assessedOn":"2016-02-01"}}`,
	`{"op":"assessTheme","input":{"personId":"NOBODY","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
	`{"op":"assessTheme","input":{"personId":"B1","theme":"FLYING","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
	`not json`,
	`{"op":"amendAccomplishment","input":{"accomplishmentId":"B1.AAAAAAAAAA"}}`,
	`{"op":"recordEngagement","input":{"personId":"B1","field":"SYSTEM_OPERATION","title":"big","role":"MEMBER","startedOn":"2016-01-01","completedOn":"2017-01-01","outcome":"SUCCESSFUL","withinBudget":true,"peakHeadcount":1099511627776,"complexity":[]}}`,
	`{"op":"amendAccomplishment","input":{"accomplishmentId":"B1.AAAAAAAAAA","inquiriesPerYear":2147483648}}`,
}

func TestBulkImport(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		token := e.token(t, admin)
		code, res := e.importLines(t, token, importFile...)
		if code != http.StatusOK || len(res) != len(importFile) {
			t.Fatalf("import: %d, %d results for %d lines", code, len(res), len(importFile))
		}
		for i := 0; i < 4; i++ {
			if !res[i].OK || res[i].Line != i+1 || res[i].Position == "" {
				t.Errorf("line %d: %+v", i+1, res[i])
			}
		}
		if res[1].AccomplishmentID == "" || !strings.HasPrefix(res[1].AccomplishmentID, "B1.") {
			t.Errorf("line 2 accomplishment id = %q", res[1].AccomplishmentID)
		}
		refusals := []struct{ code, field string }{
			{"BAD_USER_INPUT", "completedOn"}, {"BAD_USER_INPUT", "op"}, {"BAD_USER_INPUT", "colour"},
			{"BAD_USER_INPUT", "proficiency"}, {"NOT_FOUND", ""}, {"BAD_USER_INPUT", "theme"}, {"BAD_USER_INPUT", "line"},
			{"BAD_USER_INPUT", "input"}, // an amendment naming nothing to change
			// Beyond GraphQL's Int, as in a mutation.
			{"BAD_USER_INPUT", "peakHeadcount"}, {"BAD_USER_INPUT", "inquiriesPerYear"},
		}
		for i, want := range refusals {
			got := res[4+i]
			if got.OK || got.Code != want.code || got.Field != want.field || got.Message == "" {
				t.Errorf("line %d: %+v, want %s on %q", 5+i, got, want.code, want.field)
			}
		}
		// A refused value is named as given, without the decoder's words.
		if m := res[9].Message; !strings.Contains(m, `is not a valid Theme: "FLYING"; must be one of SERVICE_SUPPORT_MANAGEMENT, SERVICE_LEVEL_MANAGEMENT, `) || strings.Count(m, "is not a valid") != 1 {
			t.Errorf("line 10 (an unknown theme): %q", m)
		}
		// And with the values it takes.
		_, expert := e.importLines(t, token, `{"op":"assessTheme","input":{"personId":"B1","theme":"STRESS_MANAGEMENT","proficiency":"EXPERT","assessedOn":"2024-01-01"}}`)
		if want := `proficiency: is not a valid Proficiency: "EXPERT"; must be one of BASIC, PRACTICE, GUIDES_SUBORDINATES, GUIDES_OTHERS`; len(expert) != 1 ||
			expert[0].Code != "BAD_USER_INPUT" || expert[0].Field != "proficiency" || expert[0].Message != want {
			t.Errorf("an unknown proficiency: %+v, want BAD_USER_INPUT %q", expert, want)
		}
		_, typed := e.importLines(t, token, `{"op":"recordEngagement","input":{"personId":"B1","field":"SYSTEM_OPERATION","title":"t","role":"MEMBER","startedOn":"2016-01-01","outcome":"ONGOING","withinBudget":true,"peakHeadcount":"12","complexity":[]}}`)
		if len(typed) != 1 || typed[0].Field != "peakHeadcount" || !strings.Contains(typed[0].Message, "got a JSON string") || strings.Contains(typed[0].Message, "Go value") {
			t.Errorf("a number given as a string: %+v", typed)
		}
		// Read-your-writes: the import returned, so queries see it.
		r := e.gql(t, token, `{ person(id: "B1") { standing { field level } } }`, nil).ok(t)
		if !strings.Contains(string(r.Data), `{"field":"SYSTEM_OPERATION","level":3}`) {
			t.Errorf("after import: %s", r.Data)
		}
		// The same file again records nothing new.
		head := e.head(t)
		_, again := e.importLines(t, token, importFile[:4]...)
		for i, r := range again {
			if !r.OK || !r.Duplicate || r.Position != res[i].Position || r.AccomplishmentID != res[i].AccomplishmentID {
				t.Errorf("re-import line %d: %+v, want the first result %+v", i+1, r, res[i])
			}
		}
		if e.head(t) != head {
			t.Errorf("re-import appended events: head %d -> %d", head, e.head(t))
		}
	})
}

func TestBulkImportFollowsTheRolesTable(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		e.importLines(t, e.token(t, admin), `{"op":"registerPerson","input":{"id":"N1","name":"Net","department":"Network","joinedOn":"2015-04-01"}}`)
		_, res := e.importLines(t, e.token(t, managerA),
			`{"op":"registerPerson","input":{"id":"A1","name":"Ops","department":"Operations","joinedOn":"2015-04-01"}}`,
			`{"op":"assessTheme","input":{"personId":"A1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
			`{"op":"assessTheme","input":{"personId":"N1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
			`{"op":"registerPerson","input":{"id":"N2","name":"Net","department":"Network","joinedOn":"2015-04-01"}}`,
		)
		if len(res) != 4 || !res[0].OK || !res[1].OK || res[2].Code != "FORBIDDEN" || res[3].Code != "FORBIDDEN" {
			t.Errorf("manager import: %+v", res)
		}
		_, res = e.importLines(t, e.token(t, employee("A1")),
			`{"op":"assessTheme","input":{"personId":"A1","theme":"CUSTOMER_SATISFACTION","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
			`{"op":"transferPerson","input":{"personId":"A1","department":"Network","effectiveOn":"2020-01-01"}}`,
		)
		if len(res) != 2 || !res[0].OK || res[1].Code != "FORBIDDEN" {
			t.Errorf("employee import: %+v", res)
		}
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/import", strings.NewReader("{}\n"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("import without a token: %d", resp.StatusCode)
		}
	})
}

// A registration that fails (the id is taken) must not lend its id to the
// caller: otherwise a manager could reach a person of another department.
func TestBulkImportAFailedRegistrationGrantsNothing(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		e.importLines(t, e.token(t, admin), `{"op":"registerPerson","input":{"id":"N1","name":"Net","department":"Network","joinedOn":"2015-04-01"}}`)
		head := e.head(t)
		_, res := e.importLines(t, e.token(t, managerA),
			`{"op":"registerPerson","input":{"id":"N1","name":"Mine","department":"Operations","joinedOn":"2015-04-01"}}`,
			`{"op":"assessTheme","input":{"personId":"N1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"}}`,
			`{"op":"transferPerson","input":{"personId":"N1","department":"Operations","effectiveOn":"2020-01-01"}}`,
		)
		if len(res) != 3 || res[0].Code != "BAD_USER_INPUT" || res[1].Code != "FORBIDDEN" || res[2].Code != "FORBIDDEN" {
			t.Errorf("manager import for another department's person: %+v", res)
		}
		if e.head(t) != head {
			t.Errorf("the refused import recorded events: head %d -> %d", head, e.head(t))
		}
	})
}

// TestBulkImportRefusesAnEmptySubordinate: an import line's empty
// subordinateId is refused naming it, as the mutation's is, and records
// nothing.
func TestBulkImportRefusesAnEmptySubordinate(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.importLines(t, adm, `{"op":"registerPerson","input":{"id":"S1","name":"Sub","department":"Operations","joinedOn":"2015-04-01"}}`)
		head := e.head(t)
		_, res := e.importLines(t, adm, `{"op":"recordSubordinateDevelopment","input":{"personId":"S1","kind":"MENTORING","occurredOn":"2016-02-01","subordinateId":""}}`)
		if len(res) != 1 || res[0].Code != "BAD_USER_INPUT" || res[0].Field != "subordinateId" {
			t.Errorf("an empty subordinateId in an import line: %+v, want BAD_USER_INPUT on subordinateId", res)
		}
		if e.head(t) != head {
			t.Errorf("the refused line recorded events: head %d -> %d", head, e.head(t))
		}
	})
}

// TestBulkImportReadsDatesAsGraphQLDoes: a date in an import line is read
// as the Date scalar reads it in a mutation. An empty string was taken for
// a date left out, so an ONGOING engagement with "completedOn": "" was
// recorded where the same mutation is refused, and a day that does not
// exist was told "is not YYYY-MM-DD" of a value that is.
func TestBulkImportReadsDatesAsGraphQLDoes(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.importLines(t, adm, `{"op":"registerPerson","input":{"id":"D1","name":"Dates","department":"Operations","joinedOn":"2015-04-01"}}`)
		head := e.head(t)
		lines := []string{
			`{"op":"recordEngagement","input":{"personId":"D1","field":"SYSTEM_OPERATION","title":"t","role":"MEMBER","startedOn":"2016-01-01","completedOn":"","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"assessTheme","input":{"personId":"D1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-30"}}`,
			`{"op":"assessTheme","input":{"personId":"D1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":""}}`,
			`{"op":"transferPerson","input":{"personId":"D1","department":"Network","effectiveOn":20160101}}`,
		}
		want := []struct{ field, rule string }{
			{"completedOn", `must be a date YYYY-MM-DD that exists, not ""`},
			{"assessedOn", `must be a date YYYY-MM-DD that exists, not "2016-02-30"`},
			{"assessedOn", `must be a date YYYY-MM-DD that exists, not ""`},
			{"effectiveOn", `must be a date string YYYY-MM-DD`},
		}
		_, res := e.importLines(t, adm, lines...)
		if len(res) != len(lines) {
			t.Fatalf("%d results for %d lines: %+v", len(res), len(lines), res)
		}
		for i, w := range want {
			got := res[i]
			if got.OK || got.Code != "BAD_USER_INPUT" || got.Field != w.field || got.Rule != w.rule {
				t.Errorf("line %d: %+v, want BAD_USER_INPUT on %q with %q", i+1, got, w.field, w.rule)
			}
		}
		if e.head(t) != head {
			t.Errorf("refused lines recorded events: head %d -> %d", head, e.head(t))
		}
	})
}

// TestImportResultForm: a recorded line always says whether it was a
// repeat; a refused line does not.
func TestImportResultForm(t *testing.T) {
	for _, tc := range []struct {
		r    graph.ImportResult
		want string
	}{
		{graph.ImportResult{Line: 1, OK: true, Position: "7", PersonID: "P1"}, `{"line":1,"ok":true,"position":"7","personId":"P1","duplicate":false}`},
		{graph.ImportResult{Line: 2, OK: true, Position: "7", PersonID: "P1", Duplicate: true}, `{"line":2,"ok":true,"position":"7","personId":"P1","duplicate":true}`},
		{graph.ImportResult{Line: 3, Code: "NOT_FOUND", Message: "person P9 not found"}, `{"line":3,"ok":false,"code":"NOT_FOUND","message":"person P9 not found"}`},
	} {
		got, err := json.Marshal(tc.r)
		if err != nil || string(got) != tc.want {
			t.Errorf("%+v: %s %v, want %s", tc.r, got, err, tc.want)
		}
	}
}

// TestBulkImportTakesLinesAsWritten: a line's keys are "op" and "input"
// exactly (encoding/json would take "OP" or "Input" for them, as it would
// not an input field's name), and its input's values are as GraphQL takes
// them: a String is a string, an ID a string or an integer, a Boolean true
// or false, refused in GraphQL's words. A line of an
// export is told as one. A refused line names its key or field and the
// rule, and records nothing.
func TestBulkImportTakesLinesAsWritten(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		const person = `"name":"Lit","department":"Operations","joinedOn":"2015-04-01"`
		head := e.head(t)
		lines := []string{
			`{"OP":"registerPerson","input":{"id":"L1",` + person + `}}`,
			`{"op":"registerPerson","Input":{"id":"L2",` + person + `}}`,
			`{"Op":"registerPerson","op":"registerPerson","input":{"id":"L3",` + person + `}}`,
			`{"op":"registerPerson","input":{"id":"L4",` + person + `},"variables":{}}`,
			`{"op":"registerPerson","input":{"id":"L5","name":5,"department":"Operations","joinedOn":"2015-04-01"}}`,
			`{"op":"registerPerson","input":{"id":"L6",` + person + `,"idempotencyKey":true}}`,
			`{"op":"registerPerson","input":{"id":1.5,` + person + `}}`,
			`{"op":"registerPerson","input":{"id":1e3,` + person + `}}`,
			`{"op":"transferPerson","input":{"personId":false,"department":"Network","effectiveOn":"2016-01-01"}}`,
			`{"position":7,"type":"PersonRegistered","version":1,"event":{"personId":"L7",` + person + `}}`,
			`{"op":"recordEngagement","input":{"personId":"L1","field":"SYSTEM_OPERATION","title":"Ops","role":"MEMBER","startedOn":"2024-01-01","completedOn":"2024-12-31","outcome":"SUCCESSFUL","withinBudget":"yes","complexity":["OPERATION_REQUIREMENTS"]}}`,
		}
		want := []struct{ field, rule string }{
			{"OP", `is not a key of an import line: keys are matched exactly, write "op"`},
			{"Input", `is not a key of an import line: keys are matched exactly, write "input"`},
			{"Op", `is not a key of an import line: keys are matched exactly, write "op"`},
			{"variables", `is not a key of an import line: a line is {"op": "<mutation>", "input": {...}}`},
			{"name", "must be a string (GraphQL String), not the number 5"},
			{"idempotencyKey", "must be a string (GraphQL String), not a JSON boolean"},
			{"id", "must be a string or an integer written without a fraction or an exponent (GraphQL ID), not the number 1.5"},
			{"id", "(GraphQL ID), not the number 1e3"},
			{"personId", "(GraphQL ID), not a JSON boolean"},
			{"event", "is an event as /v1/export writes it (position, type, event: the log as recorded), which /v1/import does not take"},
			{"withinBudget", "must be true or false (GraphQL Boolean), not a JSON string"},
		}
		_, res := e.importLines(t, adm, lines...)
		if len(res) != len(lines) {
			t.Fatalf("%d results for %d lines: %+v", len(res), len(lines), res)
		}
		for i, w := range want {
			got := res[i]
			if got.OK || got.Code != "BAD_USER_INPUT" || got.Field != w.field || !strings.Contains(got.Rule, w.rule) || !strings.HasPrefix(got.Message, w.field+": ") {
				t.Errorf("line %d: %+v, want BAD_USER_INPUT on %q with %q", i+1, got, w.field, w.rule)
			}
		}
		if e.head(t) != head {
			t.Errorf("refused lines recorded events: head %d -> %d", head, e.head(t))
		}
		// An integer is an ID, as in GraphQL: its digits.
		_, res = e.importLines(t, adm, `{"op":"registerPerson","input":{"id":4022,`+person+`}}`,
			`{"op":"transferPerson","input":{"personId":4022,"department":"Network","effectiveOn":"2016-01-01"}}`)
		if len(res) != 2 || !res[0].OK || res[0].PersonID != "4022" || !res[1].OK || res[1].PersonID != "4022" {
			t.Errorf("integer ids: %+v", res)
		}
		// One value for a list is a list of one, as in GraphQL.
		_, res = e.importLines(t, adm, `{"op":"recordEngagement","input":{"personId":"4022","field":"SYSTEM_OPERATION","title":"Ops","role":"MEMBER","startedOn":"2024-01-01","completedOn":"2024-12-31","outcome":"SUCCESSFUL","withinBudget":true,"complexity":"OPERATION_REQUIREMENTS"}}`)
		if len(res) != 1 || !res[0].OK {
			t.Errorf("one complexity criterion for the list: %+v", res)
		}
		q := e.gql(t, adm, `{ person(id: "4022") { accomplishments { edges { node { ... on Engagement { complexity } } } } } }`, nil)
		if !strings.Contains(string(q.Data), `"complexity":["OPERATION_REQUIREMENTS"]`) {
			t.Errorf("the engagement imported with one criterion: %s %+v", q.Data, q.Errors)
		}
	})
}

// TestTextThatIsNotUTF8IsRefused: JSON is UTF-8, and a decoder takes each
// byte that is not for U+FFFD. An import line or a GraphQL body that is not
// UTF-8 (a name from a CSV saved as Shift_JIS) is refused, naming the line
// or the body, and records nothing: before, the name was recorded as
// replacement characters, for good, in an append-only log.
func TestTextThatIsNotUTF8IsRefused(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	sjis := "\x89\xc1\x93\xa1" // 加藤 in Shift_JIS
	before := e.head(t)
	status, res := e.importLines(t, adm,
		`{"op":"registerPerson","input":{"id":"U1","name":"`+sjis+`","department":"Operations","joinedOn":"2020-01-01"}}`,
		`{"op":"registerPerson","input":{"id":"U2","name":"加藤","department":"Operations","joinedOn":"2020-01-01"}}`)
	if status != http.StatusOK || len(res) != 2 {
		t.Fatalf("HTTP %d %+v", status, res)
	}
	if r := res[0]; r.OK || r.Code != "BAD_USER_INPUT" || r.Field != "line" || !strings.Contains(r.Rule, "UTF-8") {
		t.Errorf("a line in Shift_JIS: %+v", r)
	}
	if !res[1].OK {
		t.Errorf("the UTF-8 line beside it: %+v", res[1])
	}
	if got := e.head(t); got != before+1 {
		t.Errorf("the log moved from %d to %d, want one event", before, got)
	}

	// The same name in a GraphQL request's variables.
	body := `{"query":"mutation($n: String!) { registerPerson(input: {id: \"U3\", name: $n, department: \"Operations\", joinedOn: \"2020-01-01\"}) { position } }","variables":{"n":"` + sjis + `"}}`
	req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adm)
	r := e.do(t, http.DefaultClient, req)
	if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "UTF-8") {
		t.Errorf("a GraphQL body in Shift_JIS: HTTP %d %s", r.Status, r.Raw)
	}
	if got := e.head(t); got != before+1 {
		t.Errorf("the log moved to %d after the GraphQL request", got)
	}
	// A lone surrogate escape is valid UTF-8 on the wire, and JSON reads it
	// as the replacement character: refused as such, in a GraphQL
	// request's variables as in an import line.
	r = e.gql(t, adm, mRegister, map[string]any{"in": map[string]any{"id": "U4", "name": "a\ufffdb", "department": "Operations", "joinedOn": "2020-01-01"}})
	if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "name" || !strings.Contains(r.Errors[0].Message, "replacement character") {
		t.Errorf("a name with U+FFFD: %s", r.Raw)
	}
	_, res = e.importLines(t, adm, `{"op":"registerPerson","input":{"id":"U5","name":"a\ud800b","department":"Operations","joinedOn":"2020-01-01"}}`)
	if len(res) != 1 || res[0].OK || res[0].Code != "BAD_USER_INPUT" || res[0].Field != "name" {
		t.Errorf("an imported name with a lone surrogate escape: %+v", res)
	}
	if got := e.head(t); got != before+1 {
		t.Errorf("the log moved to %d after the replacement characters", got)
	}
	// Nobody was registered under a name of replacement characters.
	for _, id := range []string{"U1", "U3", "U4", "U5"} {
		if r := e.gql(t, adm, `{ person(id: "`+id+`") { name } }`, nil); len(r.Errors) == 0 || r.Errors[0].code() != "NOT_FOUND" {
			t.Errorf("%s: %s", id, r.Raw)
		}
	}
}

// TestAnAmendmentLineIsAnsweredAsTheMutation: an amendAccomplishment line
// of /v1/import is answered with the code, field and message the mutation
// gives the same input, whoever sends it and whatever the id: one that
// names no field to change is bad input on input (a check of the input
// alone, made before the id is looked up, as the line made it) also for an
// id without a ".", one no one has, or one of another department (the
// mutation said NOT_FOUND or FORBIDDEN where the line said bad input). No
// id's existence is told by it: the refusal is the same for every id.
func TestAnAmendmentLineIsAnsweredAsTheMutation(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "E1", "name": "Eve", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "N1", "name": "Ned", "department": "Network", "joinedOn": "2020-01-01"}, "")
		other := field(t, e.mutate(t, adm, &mSuccession, map[string]any{"personId": "N1", "kind": "BOOK", "title": "b",
			"occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}, "").Data, "recordTechnologySuccession.accomplishmentId").(string)
		head := e.head(t)
		roles := map[string]string{"admin": adm, "hr": e.token(t, hr), "manager": e.token(t, managerA), "employee": e.token(t, employee("E1"))}
		for _, id := range []string{"XYZ", "a b", "E404.AAAAAAAAAA", other, "bad id.AAAAAAAAAA"} {
			for _, amend := range []map[string]any{{}, {"subordinateId": ""}} {
				for name, tok := range roles {
					input := map[string]any{"accomplishmentId": id}
					for k, v := range amend {
						input[k] = v
					}
					g := e.gql(t, tok, mAmend, in(input))
					line, _ := json.Marshal(map[string]any{"op": "amendAccomplishment", "input": input})
					_, got := e.importLines(t, tok, string(line))
					if len(g.Errors) != 1 || len(got) != 1 {
						t.Fatalf("amend %v by %s: %s / %+v, want one refusal each", input, name, g.Raw, got)
					}
					w, l := g.Errors[0], got[0]
					if l.OK || l.Code != w.code() || l.Field != w.field() || l.Message != w.Message {
						t.Errorf("amend %v by %s:\n line     %s %s %q\n mutation %s %s %q", input, name, l.Code, l.Field, l.Message, w.code(), w.field(), w.Message)
					}
				}
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused amendment recorded something", head, h)
		}
	})
}

// TestBulkImportRefusesAKeyGivenTwice: a line that gives a key twice says
// two things; encoding/json kept the last without a word, so the
// assessment below was recorded for D2 whoever was meant. It is refused
// naming the key, and records nothing.
func TestBulkImportRefusesAKeyGivenTwice(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.importLines(t, adm,
			`{"op":"registerPerson","input":{"id":"D1","name":"Dup One","department":"Operations","joinedOn":"2015-04-01"}}`,
			`{"op":"registerPerson","input":{"id":"D2","name":"Dup Two","department":"Operations","joinedOn":"2015-04-01"}}`)
		head := e.head(t)
		const assess = `"theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"`
		_, res := e.importLines(t, adm,
			`{"op":"assessTheme","input":{"personId":"D1",`+assess+`,"personId":"D2"}}`,
			`{"op":"assessTheme","op":"assessTheme","input":{"personId":"D1",`+assess+`}}`,
			`{"op":"recordTechnologySuccession","input":{"personId":"D1","kind":"BOOK","title":"t","occurredOn":"2016-02-01","fields":["SERVICE_DESK"],"fields":["NETWORK_OPERATION"]}}`)
		for i, field := range []string{"personId", "op", "fields"} {
			if i >= len(res) || res[i].OK || res[i].Code != "BAD_USER_INPUT" || res[i].Field != field || res[i].Rule != graph.RepeatedKeyRule {
				t.Errorf("line %d: %+v, want BAD_USER_INPUT on %s: %s", i+1, res, field, graph.RepeatedKeyRule)
			}
		}
		if e.head(t) != head {
			t.Errorf("a line giving a key twice recorded events: head %d -> %d", head, e.head(t))
		}
	})
}

// TestRepeatedKey finds a key given twice in any object of a JSON text,
// and nothing in text without one or that is not JSON.
func TestRepeatedKey(t *testing.T) {
	for text, want := range map[string]string{
		`{"a":1,"b":{"c":[{"d":1},{"d":2}],"e":2},"f":[1,[2]]}`: "",
		`{"a":1,"a":2}`:                         "a",
		`{"a":{"b":1,"c":{"x":1},"b":2}}`:       "b",
		`{"a":[{"b":1,"b":2}]}`:                 "b",
		`{"a":{"b":1},"c":2,"a":3}`:             "a",
		`{"a":[1,2],"b":{"a":1}}`:               "",
		`[{"a":1},{"a":2}]`:                     "",
		`{"a":1,"b"`:                            "",
		`"just a string"`:                       "",
		`{"op":"x","input":{"k":"v"}} {"op":1}`: "",
	} {
		got, ok := graph.RepeatedKey([]byte(text))
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", text, got, ok, want)
		}
	}
}

// TestARequestThatGivesAKeyTwiceIsRefused: a variable's input that gives
// personId twice was recorded for the last one (encoding/json keeps it),
// where the same input written in the query is refused by validation. The
// request is refused, naming the key, and records nothing; the same
// variables given once each are recorded.
func TestARequestThatGivesAKeyTwiceIsRefused(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.importLines(t, adm,
			`{"op":"registerPerson","input":{"id":"V1","name":"Var One","department":"Operations","joinedOn":"2015-04-01"}}`,
			`{"op":"registerPerson","input":{"id":"V2","name":"Var Two","department":"Operations","joinedOn":"2015-04-01"}}`)
		head := e.head(t)
		const query = `mutation($i: AssessThemeInput!) { assessTheme(input: $i) { person { id } } }`
		send := func(variables string) response {
			t.Helper()
			q, _ := json.Marshal(query)
			req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{"query":`+string(q)+`,"variables":{"i":`+variables+`}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adm)
			return e.do(t, http.DefaultClient, req)
		}
		const assess = `"theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01"`
		r := send(`{"personId":"V1",` + assess + `,"personId":"V2"}`)
		if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" ||
			r.Errors[0].field() != "personId" || r.Errors[0].rule() != graph.RepeatedKeyInRequestRule {
			t.Errorf("personId given twice: status %d, %s", r.Status, r.Raw)
		}
		if e.head(t) != head {
			t.Errorf("a request giving a key twice recorded events: head %d -> %d", head, e.head(t))
		}
		if r := send(`{"personId":"V1",` + assess + `}`); r.Status != http.StatusOK || len(r.Errors) != 0 || !strings.Contains(string(r.Data), `"id":"V1"`) {
			t.Errorf("personId given once: status %d, %s", r.Status, r.Raw)
		}
	})
}
