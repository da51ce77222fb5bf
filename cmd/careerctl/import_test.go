package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// readAll returns every line of an import file as its decoded request
// object (nil for a bad line) with the errors by line number.
func readAll(t *testing.T, format, text string) (map[int]map[string]any, map[int]string) {
	t.Helper()
	lr, err := newLineReader(strings.NewReader(text), format, "cmds."+format)
	if err != nil {
		t.Fatal(err)
	}
	got, bad := map[int]map[string]any{}, map[int]string{}
	for {
		l, err := lr.next()
		if err != nil {
			break
		}
		if l.err != nil {
			bad[l.no] = l.err.String()
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(l.body, &v); err != nil {
			t.Fatal(err)
		}
		got[l.no] = v
	}
	return got, bad
}

func TestCSVParsing(t *testing.T) {
	text := "\uFEFFop,personId,field,title,role,startedOn,completedOn,outcome,withinBudget,peakHeadcount,annualContractValueYen,complexity,fields,kind,occurredOn,idempotencyKey\n" +
		"recordEngagement,E1,system_operation,\"Billing, nightly\",LEAD,2020-01-01,2020-12-31,SUCCESSFUL,true,12,3000000000,OPERATION_REQUIREMENTS;ORGANIZATION,,,,\n" +
		"# a comment line\n" +
		"recordEngagement,E1,SERVICE_DESK,\"Desk\nsecond line\",MEMBER,2021-01-01,,ONGOING,false,,,,,,,my-key\n" +
		"recordTechnologySuccession,E1,,Talk,,,,,,,,,SYSTEM_OPERATION; NETWORK_OPERATION,external_talk,2021-05-01,\n" +
		"recordEngagement,E1,SERVICE_DESK,t,LEAD,2020-01-01,,ONGOING,maybe,,,,,,,\n" +
		"recordTechnologySuccession,E1,,Talk,LEAD,,,,,,,,SYSTEM_OPERATION,BOOK,2021-05-01,\n" +
		"recordEngagement,E1,too,few\n" +
		"dance,E1,,,,,,,,,,,,,,\n" +
		"recordEngagement,E1,SERVICE_DESK,t,LEAD,2020-01-01,,ONGOING,false,,,,,,,\n"
	got, bad := readAll(t, "csv", text)

	want2 := map[string]any{"op": "recordEngagement", "input": map[string]any{
		"personId": "E1", "field": "SYSTEM_OPERATION", "title": "Billing, nightly", "role": "LEAD", "startedOn": "2020-01-01",
		"completedOn": "2020-12-31", "outcome": "SUCCESSFUL", "withinBudget": true, "peakHeadcount": 12.0,
		"annualContractValueYen": 3e9, "complexity": []any{"OPERATION_REQUIREMENTS", "ORGANIZATION"},
		"idempotencyKey": got[2]["input"].(map[string]any)["idempotencyKey"]}}
	if !reflect.DeepEqual(got[2], want2) {
		t.Errorf("line 2:\n got %v\nwant %v", got[2], want2)
	}
	in4 := got[4]["input"].(map[string]any)
	if in4["title"] != "Desk\nsecond line" || in4["idempotencyKey"] != "my-key" || in4["withinBudget"] != false {
		t.Errorf("line 4 (quoted newline, own key): %v", got[4])
	}
	if _, ok := in4["completedOn"]; ok {
		t.Error("an empty cell was sent")
	}
	in6 := got[6]["input"].(map[string]any)
	if !reflect.DeepEqual(in6["fields"], []any{"SYSTEM_OPERATION", "NETWORK_OPERATION"}) || in6["kind"] != "EXTERNAL_TALK" {
		t.Errorf("line 6 (list with ';', enum case): %v", in6)
	}
	wantBad := map[int]string{
		7:  `BAD_LINE withinBudget: "maybe" is not true or false`,
		8:  `BAD_LINE role: is not an input field of recordTechnologySuccession`,
		9:  `BAD_LINE: 4 cells, the header has 16`,
		10: `BAD_LINE op: unknown op "dance"`,
	}
	for no, w := range wantBad {
		if !strings.HasPrefix(bad[no], w) {
			t.Errorf("line %d: %q, want %q", no, bad[no], w)
		}
	}
	if len(got)+len(bad) != 8 {
		t.Errorf("%d good and %d bad lines, want 8 in all", len(got), len(bad))
	}
	// The derived key depends on the line number and the content.
	k2 := got[2]["input"].(map[string]any)["idempotencyKey"].(string)
	k11 := got[11]["input"].(map[string]any)["idempotencyKey"].(string)
	if !strings.HasPrefix(k2, "import-") || len(k2) != len("import-")+24 || k2 == k11 {
		t.Errorf("keys %q %q", k2, k11)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	for text, want := range map[string]string{
		"":                                    "empty",
		"personId,title\nE1,x\n":              `no "op" column`,
		"op,personId,colour\n":                `column 3 "colour" is not an input field name`,
		"op,personId,personId\n":              `column "personId" appears twice`,
		"op,title\nassessTheme,\"x\n":         `CSV line 2`,
		"Op,personId\n":                       `column 1 "Op" is not an input field name: names are matched exactly, write "op"`,
		"op,PersonID\n":                       `column 2 "PersonID" is not an input field name: names are matched exactly, write "personId"`,
		"op,title\nassessTheme,Bad \"quote\n": `CSV line 2: bare " in non-quoted-field (a cell that holds a quote is quoted whole, its quotes doubled`,
	} {
		lr, err := newLineReader(strings.NewReader(text), "csv", "f.csv")
		if err == nil {
			for err == nil {
				_, err = lr.next()
			}
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

func TestNDJSONParsing(t *testing.T) {
	text := `{"op": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}

# comment
{"op":"recordEngagement","input":{"personId":"E1","annualContractValueYen":9007199254740993,"complexity":[]}}
{"op": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}
not json
{"op": "assessTheme"}
{"op": "assessTheme", "input": {"personId": "E1", "title": "x"}}
{"op": "assessTheme", "input": {}, "extra": 1}
{"op": "retractAccomplishment", "input": {"accomplishmentId": "E1.X", "reason": "dup", "idempotencyKey": "mine"}}
{"op": "departPerson", "input": {}} {"op": "departPerson", "input": {}}
{"op": "departPerson", "input": {`
	lr, _ := newLineReader(strings.NewReader(text), "ndjson", "cmds.ndjson")
	var lines []importLine
	for {
		l, err := lr.next()
		if err != nil {
			break
		}
		lines = append(lines, l)
	}
	nos := []int{}
	for _, l := range lines {
		nos = append(nos, l.no)
	}
	if !reflect.DeepEqual(nos, []int{1, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("line numbers %v", nos)
	}
	// Large yen stays exact; the same text on another line gets another key.
	if !bytes.Contains(lines[1].body, []byte(`"annualContractValueYen":9007199254740993`)) {
		t.Errorf("yen: %s", lines[1].body)
	}
	key := func(l importLine) string {
		var v struct {
			Input struct{ IdempotencyKey string }
		}
		json.Unmarshal(l.body, &v)
		return v.Input.IdempotencyKey
	}
	if key(lines[0]) == key(lines[2]) || key(lines[0]) == "" {
		t.Errorf("keys of lines 1 and 5: %q %q", key(lines[0]), key(lines[2]))
	}
	canonical, _ := json.Marshal(map[string]any{"op": "registerPerson", "input": map[string]any{
		"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}})
	if want := importKey("cmds.ndjson", 1, canonical); key(lines[0]) != want {
		t.Errorf("key %q, want %q", key(lines[0]), want)
	}
	if key(lines[7]) != "mine" {
		t.Errorf("own key replaced: %s", lines[7].body)
	}
	for i, want := range map[int]string{3: `BAD_LINE: not JSON: each line is one {"op": "<mutation>", "input": {...}} object`, 4: "BAD_LINE input: missing",
		5: "BAD_LINE title: is not an input field of assessTheme", 6: `BAD_LINE: not a command object: json: unknown field "extra"`,
		8: "BAD_LINE: more than one JSON value on the line", 9: `BAD_LINE: not JSON: each line`} {
		if lines[i].err == nil || !strings.HasPrefix(lines[i].err.String(), want) {
			t.Errorf("line %d: %v, want %q", lines[i].no, lines[i].err, want)
		}
	}
}

// TestImportLineKeysAreExact: "OP" or "Input" is not taken for "op" or
// "input" (encoding/json would take it): the line is refused, naming the key.
func TestImportLineKeysAreExact(t *testing.T) {
	text := `{"OP": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}
{"op": "registerPerson", "Input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}
{"op": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}`
	lr, _ := newLineReader(strings.NewReader(text), "ndjson", "cmds.ndjson")
	for i, want := range []string{`BAD_LINE OP: is not a key of an import line: keys are matched exactly, write "op"`,
		`BAD_LINE Input: is not a key of an import line: keys are matched exactly, write "input"`, ""} {
		l, err := lr.next()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && l.err != nil:
			t.Errorf("line %d: %v", i+1, l.err)
		case want != "" && (l.err == nil || l.err.String() != want || l.body != nil):
			t.Errorf("line %d: %v (body %s), want %q", i+1, l.err, l.body, want)
		}
	}
}

// fakeBulk implements the /v1/import contract well enough to test the
// client: keys make lines idempotent, a title "bad" is refused, and
// failAt makes the n-th request fail with 503 (every later one too, when
// failAll is set).
type fakeBulk struct {
	mu         sync.Mutex
	keys       map[string]string
	pos        int
	requests   int
	lines      []int // lines per request
	failAt     int
	failAll    bool
	onCall     func(n int, r *http.Request) // called with the request number once it is read, before answering
	accepted   bool                         // answer 202: recorded, not yet visible
	readyCalls int                          // GET /readyz
	// unreachable is how many requests, from failAt on, answer every line
	// after the first UNAVAILABLE, as careerd does while its event log is
	// away (with failAt; instead of failing the whole request).
	unreachable int
	// timeoutAt is a request whose second line is recorded but answered
	// TIMEOUT, as when careerd's write went unconfirmed.
	timeoutAt int
	// dropAt is a request whose lines are recorded but whose connection
	// is closed before any answer, as when careerd is killed mid-chunk.
	dropAt int
}

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/readyz" {
		// The read model catches up with what was recorded at every
		// second look.
		f.readyCalls++
		cp := 0
		if f.readyCalls%2 == 0 {
			cp = f.pos
		}
		fmt.Fprintf(w, `{"status":"ready","checkpoint":%d}`, cp)
		return
	}
	if r.URL.Path != "/v1/import" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"errors":[{"message":"invalid bearer token","extensions":{"code":"UNAUTHENTICATED"}}]}`, http.StatusUnauthorized)
		return
	}
	f.requests++
	away := f.unreachable > 0 && f.requests >= f.failAt && f.requests < f.failAt+f.unreachable
	if !away && f.failAt > 0 && f.unreachable == 0 && (f.requests == f.failAt || (f.failAll && f.requests > f.failAt)) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	// Read the whole request first: net/http may close the body once the
	// answer starts.
	var reqLines [][]byte
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, maxBulkBytes)
	for sc.Scan() {
		reqLines = append(reqLines, bytes.Clone(sc.Bytes()))
	}
	if f.onCall != nil {
		f.onCall(f.requests, r)
	}
	if f.requests == f.dropAt {
		defer func() {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}()
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if f.accepted {
		w.WriteHeader(http.StatusAccepted)
	}
	enc := json.NewEncoder(w)
	n := 0
	for _, line := range reqLines {
		n++
		var cmd struct {
			Op    string
			Input map[string]any
		}
		json.Unmarshal(line, &cmd)
		key, _ := cmd.Input["idempotencyKey"].(string)
		if title, _ := cmd.Input["title"].(string); title == "bad" {
			enc.Encode(bulkResult{Line: n, Code: "BAD_USER_INPUT", Field: "title", Rule: "bad", Message: "must not be bad"})
			continue
		}
		if p, ok := f.keys[key]; ok {
			enc.Encode(bulkResult{Line: n, OK: true, Position: p, Duplicate: true})
			continue
		}
		if away && n > 1 {
			enc.Encode(bulkResult{Line: n, Code: "UNAVAILABLE", Message: "the event log is unreachable: nothing was recorded; send the request again once it is back"})
			continue
		}
		f.pos++
		f.keys[key] = strconv.Itoa(f.pos)
		if f.requests == f.dropAt {
			continue
		}
		if f.requests == f.timeoutAt && n == 2 {
			enc.Encode(bulkResult{Line: n, Code: "TIMEOUT", Message: "the write was not confirmed: it may have been recorded"})
			continue
		}
		enc.Encode(bulkResult{Line: n, OK: true, Position: strconv.Itoa(f.pos), PersonID: "E1"})
	}
	f.lines = append(f.lines, n)
}

func writeCommands(t *testing.T, n int, bad ...int) string {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		title := fmt.Sprintf("t%d", i)
		for _, x := range bad {
			if x == i {
				title = "bad"
			}
		}
		fmt.Fprintf(&b, `{"op":"recordTechnologySuccession","input":{"personId":"E1","kind":"BOOK","title":%q,"occurredOn":"2020-01-01","fields":["SERVICE_DESK"]}}`+"\n", title)
	}
	path := filepath.Join(t.TempDir(), "cmds.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runAgainst(url string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	env := map[string]string{"CAREER_SERVER": url, "CAREER_TOKEN": "tok"}
	code := run(args, func(k string) string { return env[k] }, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestImportChunksReportsAndResumes(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}, failAt: 3, failAll: true}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 25, 7, 19)

	// The third request fails for good: the import stops after two
	// acknowledged chunks and leaves the progress file.
	code, out, errs := runAgainst(srv.URL, "import", path, "--chunk", "5")
	if code != 1 || !strings.Contains(errs, "run the same command again to resume") {
		t.Fatalf("interrupted import: exit %d\n%s\n%s", code, out, errs)
	}
	var cp checkpoint
	raw, err := os.ReadFile(path + ".careerctl-progress")
	if err != nil || json.Unmarshal(raw, &cp) != nil || cp.Line != 10 {
		t.Fatalf("progress file: %s %v", raw, err)
	}
	if !strings.Contains(out, "9 recorded, 0 already recorded (duplicates), 1 refused") || !strings.Contains(out, "line 7: BAD_USER_INPUT title: must not be bad") {
		t.Errorf("partial summary:\n%s", out)
	}

	// The resumed run starts after line 10.
	fake.mu.Lock()
	fake.failAt, fake.lines = 0, nil
	fake.mu.Unlock()
	code, out, errs = runAgainst(srv.URL, "import", path, "--chunk", "5")
	if code != 1 || !strings.Contains(errs, "resuming after line 10") {
		t.Fatalf("resumed import: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "cmds.ndjson, 25 commands on 25 lines: 14 recorded, 0 already recorded (duplicates), 1 refused, 10 skipped") ||
		!strings.Contains(out, "line 19: BAD_USER_INPUT title: must not be bad") || strings.Contains(out, "line 7:") {
		t.Errorf("resumed summary:\n%s", out)
	}
	if !reflect.DeepEqual(fake.lines, []int{5, 5, 5}) {
		t.Errorf("lines per request %v, want 3 chunks of 5", fake.lines)
	}
	if _, err := os.Stat(path + ".careerctl-progress"); !os.IsNotExist(err) {
		t.Errorf("progress file left after a complete import: %v", err)
	}

	// Everything again: nothing new.
	code, out, _ = runAgainst(srv.URL, "import", path, "--chunk", "10000")
	if code != 1 || !strings.Contains(out, "0 recorded, 23 already recorded (duplicates), 2 refused") {
		t.Errorf("second import: exit %d\n%s", code, out)
	}
	// A progress file for another version of the file is ignored.
	os.WriteFile(path+".careerctl-progress", []byte(`{"file":"cmds.ndjson","size":1,"line":20}`), 0o644)
	if code, out, errs = runAgainst(srv.URL, "import", path); strings.Contains(errs, "resuming") || !strings.Contains(out, "23 already recorded (duplicates)") {
		t.Errorf("stale progress file honoured: %d\n%s\n%s", code, out, errs)
	}
}

// TestImportGoesOnWhenTheReadModelLags: a chunk answered 202 (recorded, but
// careerd's read model had not shown it yet) is acknowledged like any
// other: the import goes on, counts it, and says that queries catch up.
func TestImportGoesOnWhenTheReadModelLags(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}, accepted: true}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 12)
	code, out, errs := runAgainst(srv.URL, "import", path, "--chunk", "5")
	if code != 0 || !strings.Contains(out, ", 12 commands on 12 lines: 12 recorded, 0 already recorded (duplicates), 0 refused") ||
		!strings.Contains(out, "3 of the chunks before its read model showed them (202 Accepted)") {
		t.Fatalf("import answered 202: exit %d\n%s\n%s", code, out, errs)
	}
	if !reflect.DeepEqual(fake.lines, []int{5, 5, 2}) {
		t.Errorf("lines per request %v, want every chunk sent once", fake.lines)
	}
	// Each chunk waited for the read model to hold it (two looks each)
	// before the next one went.
	if fake.readyCalls != 6 {
		t.Errorf("%d looks at /readyz, want 2 for each of the 3 chunks", fake.readyCalls)
	}
}

func TestImportRetriesATransientFailure(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}, failAt: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 12)
	code, out, errs := runAgainst(srv.URL, "import", path, "--chunk", "4")
	if code != 0 || !strings.Contains(out, "12 recorded, 0 already recorded (duplicates), 0 refused") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	if fake.requests != 4 {
		t.Errorf("%d requests, want 3 chunks + 1 retry", fake.requests)
	}
}

// TestImportSendsAgainWhatCareerdCouldNotRecord: a chunk whose lines
// careerd answered UNAVAILABLE (its event log away) is sent again until
// they are recorded, and the lines it recorded the first time count as
// recorded, not as duplicates of themselves.
func TestImportSendsAgainWhatCareerdCouldNotRecord(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}, failAt: 2, unreachable: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 12)
	code, out, errs := runAgainst(srv.URL, "import", path, "--chunk", "4")
	if code != 0 || !strings.Contains(out, "12 recorded, 0 already recorded (duplicates), 0 refused") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	if fake.requests != 5 {
		t.Errorf("%d requests, want 3 chunks + 2 sent again", fake.requests)
	}
	// A line recorded but answered TIMEOUT is recorded, not a duplicate of
	// itself, once the chunk sent again confirms it.
	fake = &fakeBulk{keys: map[string]string{}, timeoutAt: 1}
	srv3 := httptest.NewServer(fake)
	defer srv3.Close()
	code, out, errs = runAgainst(srv3.URL, "import", writeCommands(t, 3), "--chunk", "4")
	if code != 0 || !strings.Contains(out, "3 recorded, 0 already recorded (duplicates), 0 refused") || fake.requests != 2 {
		t.Errorf("a line answered TIMEOUT: exit %d after %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
	// Away for longer than the attempts last: the import stops there, says
	// why, and resumes from that chunk when run again.
	fake = &fakeBulk{keys: map[string]string{}, failAt: 1, unreachable: 100}
	srv2 := httptest.NewServer(fake)
	defer srv2.Close()
	path = writeCommands(t, 12)
	code, out, errs = runAgainst(srv2.URL, "import", path, "--chunk", "4")
	if code != 1 || fake.requests != bulkAttempts || !strings.Contains(errs, "gave up after 8 attempts: careerd could not record 3 lines of the chunk") ||
		!strings.Contains(errs, "run the same command again") {
		t.Errorf("exit %d after %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
	fake.mu.Lock()
	fake.unreachable = 0
	fake.mu.Unlock()
	code, out, errs = runAgainst(srv2.URL, "import", path, "--chunk", "4")
	if code != 0 || !strings.Contains(out, "11 recorded, 1 already recorded (duplicates), 0 refused") {
		t.Errorf("run again: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestImportInterruptedByTheUser(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := &fakeBulk{keys: map[string]string{}}
	fake.onCall = func(n int, r *http.Request) {
		if n == 3 {
			cancel() // Ctrl-C while the third chunk is on its way
			// The client gives up on the request before it is answered:
			// its acknowledgement never arrives.
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
				t.Error("the client kept waiting for the chunk after the interrupt")
			}
		}
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 10)
	env := map[string]string{"CAREER_SERVER": srv.URL, "CAREER_TOKEN": "tok"}
	var out, errb bytes.Buffer
	code := runContext(ctx, []string{"import", path, "--chunk", "3"}, func(k string) string { return env[k] }, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "careerctl import: interrupted\nrun the same command again to resume") ||
		!strings.Contains(out.String(), "6 recorded") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	raw, _ := os.ReadFile(path + ".careerctl-progress")
	if !strings.Contains(string(raw), `"line":6`) {
		t.Errorf("progress file %s", raw)
	}
	code, outs, errs := runAgainst(srv.URL, "import", path, "--chunk", "3")
	if code != 0 || !strings.Contains(errs, "resuming after line 6") || !strings.Contains(outs, "skipped") {
		t.Errorf("resumed: %d\n%s\n%s", code, outs, errs)
	}
}

func TestImportWithoutBulkEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	code, _, errs := runAgainst(srv.URL, "import", writeCommands(t, 2))
	if code != 1 || !strings.Contains(errs, "does not have this endpoint") {
		t.Errorf("exit %d %q", code, errs)
	}
}

// TestImportAgainstCareerd imports good and bad lines into a real careerd
// twice; it is skipped while careerd has no bulk endpoint.
func TestImportAgainstCareerd(t *testing.T) {
	t.Parallel()
	base, token := needServer(t)
	needBulk(t, base, token)
	dir := t.TempDir()
	nd := filepath.Join(dir, "org.ndjson")
	os.WriteFile(nd, []byte(`{"op":"registerPerson","input":{"id":"IMP1","name":"Yui Tanaka","department":"Import Ops","joinedOn":"2019-04-01"}}
{"op":"recordEngagement","input":{"personId":"IMP1","field":"SERVICE_DESK","title":"Desk","role":"PRACTITIONER","startedOn":"2019-05-01","completedOn":"2019-04-01","outcome":"SUCCESSFUL","withinBudget":true,"complexity":[]}}
{"op":"recordEngagement","input":{"personId":"IMP1","field":"SERVICE_DESK","title":"Desk","role":"PRACTITIONER","startedOn":"2019-05-01","completedOn":"2019-12-01","outcome":"SUCCESSFUL","withinBudget":true,"complexity":[]}}
{"op":"assessTheme","input":{"personId":"NOBODY-IMP","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2019-06-01"}}
{"op":"frobnicate","input":{}}
{"op":"assessTheme","input":{"personId":"IMP1","theme":"SERVICE_SUPPORT_MANAGEMENT","proficiency":"BASIC","assessedOn":"2019-06-01"}}
`), 0o644)
	code, out, errs := ctl(t, "import", nd, "--chunk", "2")
	if code != 1 || !strings.Contains(out, "org.ndjson, 6 commands on 6 lines: 3 recorded, 0 already recorded (duplicates), 3 refused") ||
		!strings.Contains(out, "line 2: BAD_USER_INPUT completedOn: must not be before startedOn") || !strings.Contains(out, "line 4: NOT_FOUND: ") ||
		!strings.Contains(out, `line 5: BAD_LINE op: unknown op "frobnicate"`) ||
		strings.Index(out, "line 4:") > strings.Index(out, "line 5:") || strings.Index(out, "line 2:") > strings.Index(out, "line 4:") ||
		!strings.Contains(out, `line 1: warning: department "Import Ops" is new: no one has been in it before`) {
		t.Fatalf("first import: exit %d\n%s\n%s", code, out, errs)
	}
	var p struct{ Person personView }
	mustJSON(t, &p, "person", "IMP1")
	if levelOf(p.Person, "SERVICE_DESK") != 2 {
		t.Errorf("IMP1 after import: %+v", p.Person.Standing)
	}
	code, out, _ = ctl(t, "import", nd)
	if code != 1 || !strings.Contains(out, "0 recorded, 3 already recorded (duplicates), 3 refused") {
		t.Errorf("second import: exit %d\n%s", code, out)
	}

	csvFile := filepath.Join(dir, "more.csv")
	os.WriteFile(csvFile, []byte("op,personId,kind,title,occurredOn,fields\n"+
		"recordTechnologySuccession,IMP1,BOOK,Desk handbook,2020-01-01,SERVICE_DESK;NETWORK_OPERATION\n"+
		"recordTechnologySuccession,IMP1,BOOK,Desk handbook,2099-01-01,SERVICE_DESK\n"), 0o644)
	code, out, _ = ctl(t, "import", csvFile)
	if code != 1 || !strings.Contains(out, "1 recorded, 0 already recorded (duplicates), 1 refused") || !strings.Contains(out, "line 3: BAD_USER_INPUT occurredOn: ") {
		t.Errorf("CSV import: exit %d\n%s", code, out)
	}
}

// TestImportOfLinesRecordedBeforeCareerdWentAway: a chunk careerd recorded
// but could not answer (killed mid-request) is sent again, and its lines
// are answered as duplicates of their keys: the summary says they were
// already recorded, which is what careerctl knows of them.
func TestImportOfLinesRecordedBeforeCareerdWentAway(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}, dropAt: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := writeCommands(t, 6)
	code, out, errs := runAgainst(srv.URL, "import", path, "--chunk", "3")
	if code != 0 || !strings.Contains(out, ", 6 commands on 6 lines: 3 recorded, 3 already recorded (duplicates), 0 refused") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	if fake.requests != 3 || len(fake.keys) != 6 {
		t.Errorf("%d requests, %d lines recorded; want 2 chunks + 1 retry, 6 lines", fake.requests, len(fake.keys))
	}
}

// TestImportRefusesAnExport: a file careerctl export wrote is refused
// before anything is sent, saying what it is and what import takes; an
// exported line among commands is refused as that line.
func TestImportRefusesAnExport(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	const event = `{"position":1,"personId":"E1","type":"PersonRegistered","version":1,"recordedAt":"2026-01-05T09:00:00Z","idempotencyKey":"k1","recordedBy":"admin","event":{"name":"Aiko"}}`
	export := filepath.Join(dir, "log.ndjson")
	os.WriteFile(export, []byte(event+"\n"+strings.Replace(event, `"position":1`, `"position":2`, 1)+"\n"), 0o644)
	code, out, errs := runAgainst(srv.URL, "import", export)
	const what = `is an event as careerctl export writes it (position, type, event: the log as recorded), which import does not take; ` +
		`import takes commands, one {"op": "<mutation>", "input": {...}} a line`
	if code != 1 || !strings.Contains(errs, export+" line 1 "+what) || !strings.Contains(errs, "docs/careerctl.md") ||
		!strings.Contains(errs, "nothing was sent") || strings.Contains(errs, "unknown field") || fake.requests != 0 {
		t.Errorf("an export imported: exit %d, %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
	mixed := filepath.Join(dir, "mixed.ndjson")
	os.WriteFile(mixed, []byte(`{"op":"recordTechnologySuccession","input":{"personId":"E1","kind":"BOOK","title":"t","occurredOn":"2020-01-01","fields":["SERVICE_DESK"]}}`+"\n"+event+"\n"), 0o644)
	code, out, errs = runAgainst(srv.URL, "import", mixed)
	if code != 1 || !strings.Contains(out, "1 recorded, 0 already recorded (duplicates), 1 refused") ||
		!strings.Contains(out, "line 2: BAD_LINE: an event as careerctl export writes it (position, type, event") {
		t.Errorf("an exported line among commands: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestNDJSONWithAByteOrderMark: a file saved with a UTF-8 byte order mark
// reads its first line as any other (it was refused as "invalid character
// 'ï'"); a mark elsewhere is not dropped.
func TestNDJSONWithAByteOrderMark(t *testing.T) {
	line := `{"op": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}`
	got, bad := readAll(t, "ndjson", "\uFEFF"+line+"\n\uFEFF"+line+"\n")
	if got[1] == nil || got[1]["op"] != "registerPerson" {
		t.Errorf("line 1 with a byte order mark: %v, refused %q", got[1], bad[1])
	}
	if bad[2] == "" {
		t.Errorf("line 2, a byte order mark inside the file: %v, want it refused", got[2])
	}
	if plain, _ := readAll(t, "ndjson", line+"\n"); !reflect.DeepEqual(plain[1], got[1]) {
		t.Errorf("with a mark %v, without %v: want the same request (and key)", got[1], plain[1])
	}
}

// TestASmallImportPrintsItsLastProgressLineOnce: on a non-terminal, an
// import done in one chunk says 100% once.
func TestASmallImportPrintsItsLastProgressLineOnce(t *testing.T) {
	srv := httptest.NewServer(&fakeBulk{keys: map[string]string{}})
	defer srv.Close()
	code, out, errs := runAgainst(srv.URL, "import", writeCommands(t, 7))
	if n := strings.Count(errs, "import  7/7 commands  100%"); code != 0 || n != 1 {
		t.Errorf("a small import: exit %d, its last progress line %d times\n%s\n%s", code, n, out, errs)
	}
}

// TestImportRefusesTextThatIsNotUTF8: a CSV cell or an NDJSON line that is
// not UTF-8 (a file saved as Shift_JIS) is a refused line, naming the cell's
// field: sent as JSON, its bytes became U+FFFD, and a name was recorded as
// replacement characters for good.
func TestImportRefusesTextThatIsNotUTF8(t *testing.T) {
	sjis := "\x89\xc1\x93\xa1" // 加藤 in Shift_JIS
	got, bad := readAll(t, "csv", "op,id,name,department,joinedOn\n"+
		"registerPerson,P1,"+sjis+",Ops,2020-01-01\n"+
		"registerPerson,P2,加藤,Ops,2020-01-01\n")
	if !strings.HasPrefix(bad[2], "BAD_LINE name: is not UTF-8") || got[3] == nil || len(got)+len(bad) != 2 {
		t.Errorf("CSV: good %v, bad %v", got, bad)
	}
	got, bad = readAll(t, "ndjson", `{"op":"registerPerson","input":{"id":"P1","name":"`+sjis+`","department":"Ops","joinedOn":"2020-01-01"}}`+"\n"+
		`{"op":"registerPerson","input":{"id":"P2","name":"加藤","department":"Ops","joinedOn":"2020-01-01"}}`+"\n")
	if !strings.Contains(bad[1], "is not UTF-8") || got[2] == nil || len(got)+len(bad) != 2 {
		t.Errorf("NDJSON: good %v, bad %v", got, bad)
	}
}

// TestCSVRowsOfEmptyCellsAreSkipped: a row whose cells are all empty, as a
// spreadsheet saves the rows below its data (",,,,"), is a blank line,
// skipped as NDJSON's blank lines are; it was refused as an unknown op ""
// and failed the import. The lines after it keep their numbers.
func TestCSVRowsOfEmptyCellsAreSkipped(t *testing.T) {
	got, bad := readAll(t, "csv", "op,id,name,department,joinedOn\n"+
		"registerPerson,P1,Aiko,Ops,2020-01-01\n"+
		",,,,\n"+
		" , ,,\t,\n"+
		",,\n"+
		"registerPerson,P2,Ren,Ops,2020-01-01\n"+
		",,,,\n")
	if len(bad) != 0 || len(got) != 2 || got[2] == nil || got[6] == nil {
		t.Errorf("good %v, bad %v: want lines 2 and 6 alone", got, bad)
	}
}

// TestACSVListWrittenWithCommas: a list cell written with commas, as the
// command line takes it, is refused saying the separator; careerd refused
// it as one value that is no criterion.
func TestACSVListWrittenWithCommas(t *testing.T) {
	got, bad := readAll(t, "csv", "op,personId,kind,title,occurredOn,fields\n"+
		"recordTechnologySuccession,E1,BOOK,t,2020-01-01,\"SERVICE_DESK, NETWORK_OPERATION\"\n"+
		"recordTechnologySuccession,E1,BOOK,t,2020-01-01,SERVICE_DESK;NETWORK_OPERATION\n")
	want := `BAD_LINE fields: "SERVICE_DESK, NETWORK_OPERATION": the items of a list are separated by ";" in a CSV cell (SERVICE_DESK; NETWORK_OPERATION)`
	if bad[2] != want || got[3] == nil || len(got)+len(bad) != 2 {
		t.Errorf("good %v, bad %v, want line 2 %q", got, bad, want)
	}
}

// TestTheSummaryCountsCommandsAndLines: the summary says how many commands
// the file holds and on how many lines, the numbers its refusals name (a
// header, comments, blank lines and a cell's line breaks included); it
// said "of 4 lines" for a file of 8, whose refused line was line 8.
func TestTheSummaryCountsCommandsAndLines(t *testing.T) {
	srv := httptest.NewServer(&fakeBulk{keys: map[string]string{}})
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "org.csv")
	os.WriteFile(path, []byte("op,personId,kind,title,occurredOn,fields\n"+
		"# papers\n"+
		"recordTechnologySuccession,E1,BOOK,\"Two\nlines\",2020-01-01,SERVICE_DESK\n"+
		"\n"+
		"recordTechnologySuccession,E1,BOOK,t2,2020-01-01,SERVICE_DESK\n"+
		",,,,,\n"+
		"recordTechnologySuccession,E1,BOOK,bad,2020-01-01,SERVICE_DESK\n"+
		"recordTechnologySuccession,E1,BOOK,t4,2020-01-01,SERVICE_DESK"), 0o644)
	code, out, errs := runAgainst(srv.URL, "import", path)
	if code != 1 || !strings.Contains(out, "org.csv, 4 commands on 9 lines: 3 recorded, 0 already recorded (duplicates), 1 refused\n") ||
		!strings.Contains(out, "line 8: BAD_USER_INPUT title: must not be bad") || !strings.Contains(errs, "import  4/4 commands  100%") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	one := filepath.Join(t.TempDir(), "one.ndjson")
	os.WriteFile(one, []byte(`{"op":"recordTechnologySuccession","input":{"personId":"E1","kind":"BOOK","title":"t","occurredOn":"2020-01-01","fields":["SERVICE_DESK"]}}`+"\n"), 0o644)
	if code, out, errs := runAgainst(srv.URL, "import", one); code != 0 || !strings.Contains(out, "one.ndjson, 1 command on 1 line: 1 recorded") {
		t.Errorf("one line: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestAFileThatCannotBeReadSendsNothing: a CSV file that does not parse is
// refused naming the file and the line, saying that nothing was sent.
func TestAFileThatCannotBeReadSendsNothing(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "names.csv")
	os.WriteFile(path, []byte("op,id,name,department,joinedOn\nregisterPerson,P1,Aiko,Ops,2020-01-01\nregisterPerson,P2,Oda \"Nobu\",Ops,2020-01-01\n"), 0o644)
	code, out, errs := runAgainst(srv.URL, "import", path)
	if code != 1 || fake.requests != 0 || !strings.Contains(errs, "names.csv: CSV line 3: bare \" in non-quoted-field") || !strings.Contains(errs, "; nothing was sent") {
		t.Errorf("exit %d, %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
}

// TestACSVFileWithAByteOrderMark: a byte order mark, as Excel's "CSV
// UTF-8" and editors on Windows save one, is dropped from the start of the
// file before it is parsed, whatever its first line is: a quoted header
// cell, a comment or a blank line. It was dropped from the header's cells
// only, once parsed: a quoted first cell was refused as a bare quote, and
// a first comment or blank line was taken for the header.
func TestACSVFileWithAByteOrderMark(t *testing.T) {
	const header = "op,id,name,department,joinedOn\n"
	const row = "registerPerson,P1,Aiko,Ops,2020-01-01\n"
	plain, _ := readAll(t, "csv", header+row)
	for name, c := range map[string]struct {
		text string
		line int
	}{
		"plain header":   {"\uFEFF" + header + row, 2},
		"quoted header":  {"\uFEFF\"op\",\"id\",\"name\",\"department\",\"joinedOn\"\n" + row, 2},
		"a comment":      {"\uFEFF# people\n" + header + row, 3},
		"a blank line":   {"\uFEFF\n" + header + row, 3},
		"CRLF, comments": {"\uFEFF# people\r\n" + strings.ReplaceAll(header+"# and more\n"+row, "\n", "\r\n"), 4},
	} {
		lr, err := newLineReader(strings.NewReader(c.text), "csv", "cmds.csv")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		l, err := lr.next()
		if err != nil || l.err != nil || l.no != c.line {
			t.Errorf("%s: line %d, %v %v, want line %d", name, l.no, err, l.err, c.line)
			continue
		}
		var v map[string]any
		json.Unmarshal(l.body, &v)
		if in := v["input"].(map[string]any); in["name"] != "Aiko" || in["id"] != "P1" {
			t.Errorf("%s: %v", name, v)
		}
		if c.line == 2 && !reflect.DeepEqual(v, plain[2]) {
			t.Errorf("%s: %v, without the mark %v: want the same request (and key)", name, v, plain[2])
		}
	}
	if _, err := newLineReader(strings.NewReader("\uFEFF"), "csv", "cmds.csv"); err == nil || !strings.Contains(err.Error(), "the CSV file is empty") {
		t.Errorf("a file of a byte order mark alone: %v, want it called empty", err)
	}
}

// TestAQuoteInARowsFirstCellIsTold: a row whose first cell holds a stray
// quote, or opens a quote it never closes, is refused naming its line,
// as one in any other cell is, and nothing is sent; careerctl panicked
// (it asked the CSV reader where the failed row's first cell began, which
// it does not know).
func TestAQuoteInARowsFirstCellIsTold(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for name, c := range map[string]struct{ text, want string }{
		"a stray quote": {"name,op,id,department,joinedOn\nAiko,registerPerson,P1,Ops,2020-01-01\nOda \"Nobu\",registerPerson,P2,Ops,2020-01-01\n",
			"names.csv: CSV line 3: bare \" in non-quoted-field"},
		"an open quote": {"op,id,name,department,joinedOn\nregisterPerson,P1,Aiko,Ops,2020-01-01\n\"registerPerson,P2,Ren,Ops,2020-01-01\n",
			"names.csv: CSV line 3: extraneous or missing \" in quoted-field"},
	} {
		path := filepath.Join(t.TempDir(), "names.csv")
		os.WriteFile(path, []byte(c.text), 0o644)
		code, out, errs := runAgainst(srv.URL, "import", path)
		if code != 1 || fake.requests != 0 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "; nothing was sent") {
			t.Errorf("%s: exit %d, %d requests\n%s\n%s", name, code, fake.requests, out, errs)
		}
	}
}

// TestManyRowsOfEmptyCellsAreSkippedInAFewBytesOfStack: the rows of empty
// cells a spreadsheet saves below its data (a formatted column: up to
// its last row, 1,048,576 in Excel) are skipped one after another, not
// each by a deeper call: 3,000,000 of them (6 MB) overflowed careerctl's
// stack, 1 GB.
func TestManyRowsOfEmptyCellsAreSkippedInAFewBytesOfStack(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(32 << 20))
	text := "op,id,name\n" + strings.Repeat(",,\n", 500_000) + "registerPerson,P1,Aiko\n"
	got, bad := readAll(t, "csv", text)
	if len(bad) != 0 || len(got) != 1 || got[500_002] == nil {
		t.Errorf("good %d, bad %v: want line 500002 alone", len(got), bad)
	}
}

// TestUnnamedColumnsAtTheHeadersEndAreEmptyColumns: a spreadsheet saves a
// column once used to the right of the data as an empty header cell and
// an empty cell in every row; the file is read as without it (it was
// refused whole: column 7 "" is not an input field name). A value in such
// a column is refused on its line, naming the cell.
func TestUnnamedColumnsAtTheHeadersEndAreEmptyColumns(t *testing.T) {
	got, bad := readAll(t, "csv", "op,id,name,department,joinedOn,,\n"+
		"registerPerson,P1,Aiko,Ops,2020-01-01,,\n"+
		"registerPerson,P2,Ren,Ops,2020-01-01,, \n"+
		"registerPerson,P3,Mio,Ops,2020-01-01,,note\n"+
		"registerPerson,P4,Kai,Ops,2020-01-01\n")
	want := `BAD_LINE: cell 7 holds "note", but its column has no name in the header (name it, or empty the column)`
	if len(got) != 3 || got[2] == nil || got[3] == nil || got[5] == nil || bad[4] != want {
		t.Errorf("good %v, bad %v: want lines 2, 3 and 5, and line 4 refused %q", got, bad, want)
	}
}

// TestAnIndentedCSVCommentIsAComment: a CSV line whose first character
// other than a space or a tab is # is a comment, as in NDJSON; "   # note"
// was read as a row (refused, "1 cells, the header has 5", or the file
// refused whole when the note held a quote). A quoted cell is a value
// whatever it starts with, the first of a row ("# 1" or "  # 1") as a
// line inside one that holds a line break; a quote after the blanks stays
// a bare quote, refused, not a comment skipped.
func TestAnIndentedCSVCommentIsAComment(t *testing.T) {
	got, bad := readAll(t, "csv", "  # people, from HR\n"+
		"name,op,id,department,joinedOn\n"+
		"   # note\n"+
		"\t# a \"quoted\" note, with a comma\n"+
		"# not indented\n"+
		"    # "+strings.Repeat("a long note ", 1000)+"\n"+
		"Aiko,registerPerson,P1,Ops,2020-01-01\n"+
		"\"# 1 Ren\",registerPerson,P2,Ops,2020-01-01\n"+
		"\"  # 2 Mio\",registerPerson,P3,Ops,2020-01-01\n"+
		"\"Kai\n  # his second line\",registerPerson,P4,Ops,2020-01-01\n"+
		"  \t \n"+
		"Yui,registerPerson,P5,Ops,2020-01-01\n")
	if len(bad) != 0 {
		t.Errorf("refused: %v", bad)
	}
	names := map[int]any{}
	for no, v := range got {
		names[no] = v["input"].(map[string]any)["name"]
	}
	want := map[int]any{7: "Aiko", 8: "# 1 Ren", 9: "# 2 Mio", 10: "Kai\n  # his second line", 13: "Yui"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names by line %v, want %v", names, want)
	}
	if got, bad := readAll(t, "ndjson", "   # note\n\t# another\n"); len(got)+len(bad) != 0 {
		t.Errorf("NDJSON: good %v, bad %v, want the comments skipped", got, bad)
	}
	lr, err := newLineReader(strings.NewReader("op,id,name,department,joinedOn\n  \"# P1\",registerPerson,Aiko,Ops,2020-01-01\n"), "csv", "cmds.csv")
	if err == nil {
		_, err = lr.next()
	}
	if err == nil || !strings.Contains(err.Error(), "CSV line 2: bare \" in non-quoted-field") {
		t.Errorf("a quote after blanks: %v, want it refused as a bare quote", err)
	}
}

// TestImportLinesThatAreNoCommand: a line that gives a key twice is
// refused naming the key (encoding/json kept the last, so the evidence
// went to the second personId), and a line of the wrong JSON shape is told
// in the import's words, not as Go's decoder words it.
func TestImportLinesThatAreNoCommand(t *testing.T) {
	text := `{"op": "assessTheme", "input": {"personId": "E1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01", "personId": "E2"}}
{"op": "assessTheme", "op": "registerPerson", "input": {"id": "E1", "name": "Aiko", "department": "NOC", "joinedOn": "2020-04-01"}}
[1, 2]
{"op": 5, "input": {}}
{"op": "assessTheme", "input": [1]}
{"op": "assessTheme", "input": {"personId": "E1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}}`
	lr, _ := newLineReader(strings.NewReader(text), "ndjson", "cmds.ndjson")
	for i, want := range []string{
		"BAD_LINE personId: is given more than once on the line: give each key once",
		"BAD_LINE op: is given more than once on the line: give each key once",
		`BAD_LINE: not a command object: each line is one {"op": "<mutation>", "input": {...}} object, not a JSON array`,
		"BAD_LINE op: must be a string, the mutation's name (one of registerPerson, ",
		"BAD_LINE input: must be an object of the mutation's input fields, not a JSON array",
		"",
	} {
		l, err := lr.next()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == "" && (l.err != nil || l.body == nil):
			t.Errorf("line %d: %v", i+1, l.err)
		case want != "" && (l.err == nil || !strings.HasPrefix(l.err.String(), want) || l.body != nil):
			t.Errorf("line %d: %v (body %s), want %q", i+1, l.err, l.body, want)
		}
	}
}

// TestImportRefusesAFileOfTheOtherFormat: a CSV file not named .csv is
// read as NDJSON, and an NDJSON file named .csv as CSV. Before, the first
// had every line refused as "not JSON" and the second was told only the
// CSV reader's words for its first quote; each is now one refusal saying
// which format the file was read as and how to ask for the other, before
// anything is sent. A CSV-like line among NDJSON commands stays a line's
// refusal.
func TestImportRefusesAFileOfTheOtherFormat(t *testing.T) {
	fake := &fakeBulk{keys: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	const header = "op,personId,theme,proficiency,assessedOn\n"
	const row = "assessTheme,E1,STRESS_MANAGEMENT,BASIC,2021-01-01\n"
	const command = `{"op":"assessTheme","input":{"personId":"E1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2021-01-01"}}` + "\n"
	csvFile := filepath.Join(dir, "org.txt")
	os.WriteFile(csvFile, []byte("# exported from the HR sheet\n"+header+row), 0o644)
	code, out, errs := runAgainst(srv.URL, "import", csvFile)
	if code != 1 || !strings.Contains(errs, csvFile+" line 2 is a CSV header") || !strings.Contains(errs, "--format csv") ||
		!strings.Contains(errs, "nothing was sent") || strings.Contains(out, "not JSON") || fake.requests != 0 {
		t.Errorf("a CSV file read as NDJSON: exit %d, %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
	if code, out, errs = runAgainst(srv.URL, "import", "--format", "csv", csvFile); code != 0 || fake.requests != 1 {
		t.Errorf("the same file with --format csv: exit %d, %d requests\n%s\n%s", code, fake.requests, out, errs)
	}
	ndjsonFile := filepath.Join(dir, "org.csv")
	os.WriteFile(ndjsonFile, []byte(command+command), 0o644)
	requests := fake.requests
	code, out, errs = runAgainst(srv.URL, "import", ndjsonFile)
	if code != 1 || !strings.Contains(errs, ndjsonFile+": its first line is an NDJSON command") || !strings.Contains(errs, "--format ndjson") ||
		!strings.Contains(errs, "nothing was sent") || strings.Contains(errs, "bare \"") || fake.requests != requests {
		t.Errorf("an NDJSON file read as CSV: exit %d, %d requests\n%s\n%s", code, fake.requests-requests, out, errs)
	}
	if code, out, errs = runAgainst(srv.URL, "import", "--format", "ndjson", ndjsonFile); code != 0 || fake.requests != requests+1 {
		t.Errorf("the same file with --format ndjson: exit %d\n%s\n%s", code, out, errs)
	}
	mixed := filepath.Join(dir, "mixed.ndjson")
	os.WriteFile(mixed, []byte(command+header), 0o644)
	code, out, errs = runAgainst(srv.URL, "import", mixed)
	if code != 1 || !strings.Contains(out, "line 2: BAD_LINE: not JSON") {
		t.Errorf("a CSV header after a command: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestALineWithoutAnOp: a line that leaves op out, or a CSV row whose op
// cell is empty, is told that op is required; it was told of an unknown
// op "".
func TestALineWithoutAnOp(t *testing.T) {
	const want = "BAD_LINE op: is required: the mutation's name (one of registerPerson, "
	_, bad := readAll(t, "ndjson", `{"input": {"personId": "E1"}}`+"\n")
	if !strings.HasPrefix(bad[1], want) {
		t.Errorf("NDJSON: %q, want %q", bad[1], want)
	}
	_, bad = readAll(t, "csv", "op,personId,kind,occurredOn\n,E1,MENTORING,2020-01-01\n")
	if !strings.HasPrefix(bad[2], want) {
		t.Errorf("CSV: %q, want %q", bad[2], want)
	}
}
