package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/careerledger/careerledger/graph"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

const exportBody = `{"position":1,"personId":"E1","type":"PersonRegistered","version":1,"recordedAt":"2026-01-01T00:00:00Z","idempotencyKey":"","event":{}}
{"position":2,"personId":"E1","type":"EngagementRecorded","version":1,"recordedAt":"2026-01-01T00:00:01Z","idempotencyKey":"k","event":{}}
`

func TestExportAgainstAFakeServer(t *testing.T) {
	var gotAfter string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/export" || r.Header.Get("Authorization") != "Bearer tok" {
			http.NotFound(w, r)
			return
		}
		gotAfter = r.URL.Query().Get("after")
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, exportBody)
	}))
	defer srv.Close()
	code, out, errs := runAgainst(srv.URL, "export")
	if code != 0 || out != exportBody || gotAfter != "0" {
		t.Errorf("export to stdout: %d %q %q (after=%s)", code, out, errs, gotAfter)
	}
	file := filepath.Join(t.TempDir(), "log.ndjson")
	code, out, errs = runAgainst(srv.URL, "export", "--after", "41", "--out", file)
	raw, _ := os.ReadFile(file)
	if code != 0 || out != "" || string(raw) != exportBody || gotAfter != "41" ||
		!strings.Contains(errs, "exported 2 events to "+file+" (last position 2; --after 2 continues from there)") {
		t.Errorf("export to a file: %d %q %q %q", code, raw, out, errs)
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Error("partial file left behind")
	}
	// Without the endpoint nothing is written.
	other := filepath.Join(t.TempDir(), "none.ndjson")
	code, _, errs = runAgainst(srv.URL+"/nothing-here", "export", "--out", other)
	if _, err := os.Stat(other); code != 1 || !strings.Contains(errs, "does not have this endpoint") || !os.IsNotExist(err) {
		t.Errorf("no endpoint: %d %q", code, errs)
	}
}

// TestAnExportCutShortFails: careerd's trailer says an export stopped
// before the end of the log; careerctl exits 1, names where to continue,
// keeps what it received in FILE.partial, and leaves no file that looks
// complete.
func TestAnExportCutShortFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Trailer", graph.ExportTrailer)
		fmt.Fprint(w, exportBody)
		w.Header().Set(graph.ExportTrailer, "failed after position 2: consumer gone")
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "log.ndjson")
	code, _, errs := runAgainst(srv.URL, "export", "--out", file)
	if _, err := os.Stat(file); code != 1 || !os.IsNotExist(err) ||
		!strings.Contains(errs, "careerd stopped after 2 events: failed after position 2: consumer gone; --after 2 continues") {
		t.Errorf("an export cut short: exit %d, file there: %v, stderr %q", code, err == nil, errs)
	}
	// What was received is kept where --after can add the rest.
	if raw, err := os.ReadFile(file + ".partial"); err != nil || string(raw) != exportBody ||
		!strings.Contains(errs, "the 2 events received are in "+file+".partial") {
		t.Errorf("an export cut short: partial %q (%v), stderr %q", raw, err, errs)
	}
}

// TestAnExportWhoseStreamBreaksKeepsWhatItGot: careerd goes mid-line. To
// stdout and to --out, what was received is written as whole lines only
// (the cut-off one dropped), --out keeps it in FILE.partial, and the error
// names the position --after continues from.
func TestAnExportWhoseStreamBreaksKeepsWhatItGot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Trailer", graph.ExportTrailer)
		fmt.Fprint(w, exportBody+`{"position":3,"personId":"E1","type":"Engage`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops without the end of the body
	}))
	defer srv.Close()
	const where = "the stream broke after 2 events (last position 2): unexpected EOF; --after 2 continues from the last one received"
	code, out, errs := runAgainst(srv.URL, "export")
	if code != 1 || out != exportBody || !strings.Contains(errs, where) {
		t.Errorf("a broken export to stdout: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	file := filepath.Join(t.TempDir(), "log.ndjson")
	code, _, errs = runAgainst(srv.URL, "export", "--out", file)
	raw, err := os.ReadFile(file + ".partial")
	if _, serr := os.Stat(file); code != 1 || err != nil || string(raw) != exportBody || !os.IsNotExist(serr) ||
		!strings.Contains(errs, where+"; the 2 events received are in "+file+".partial ("+file+" was not written)") {
		t.Errorf("a broken export to a file: exit %d, partial %q (%v), stderr %q", code, raw, err, errs)
	}
	// Broken before the first event: --after continues from where it began.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"posi`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer empty.Close()
	code, out, errs = runAgainst(empty.URL, "export", "--after", "41")
	if code != 1 || out != "" || !strings.Contains(errs, "after 0 events (last position 41): unexpected EOF; --after 41 continues") {
		t.Errorf("an export broken at once: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestRebuildAgainstAFakeServer(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPost:
			w.WriteHeader(http.StatusAccepted)
			json.NewEncoder(w).Encode(rebuildStatus{State: "running", Head: 1000})
		default:
			polls++
			st := rebuildStatus{State: "running", Position: int64(polls * 300), Head: 1000, EventsPerSecond: 600, ETASeconds: 1}
			if polls == 4 {
				st = rebuildStatus{State: "done", Position: 1000, Head: 1000}
			}
			json.NewEncoder(w).Encode(st)
		}
	}))
	defer srv.Close()
	code, out, errs := runAgainst(srv.URL, "rebuild")
	if code != 0 || out != "rebuild running (position 0 of 1,000)\n" {
		t.Errorf("rebuild: %d %q %q", code, out, errs)
	}
	// careerd answers a rebuild it has just started before it knows the
	// head of the log: no "position 0 of 0", which reads as an empty log.
	starting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(rebuildStatus{State: "running"})
	}))
	defer starting.Close()
	if code, out, errs := runAgainst(starting.URL, "rebuild"); code != 0 || out != "rebuild started (careerctl rebuild --wait shows its progress)\n" {
		t.Errorf("a rebuild just started: %d %q %q", code, out, errs)
	}
	code, out, errs = runAgainst(srv.URL, "rebuild", "--wait")
	if code != 0 || out != "rebuild done: 1,000 events\n" || polls != 4 || !strings.Contains(errs, "rebuild  ") {
		t.Errorf("rebuild --wait: %d %q %q (%d polls)", code, out, errs, polls)
	}

	// It fails after a poll saw it running: the last progress line shows
	// where it failed, as the error does, not the last position polled.
	var failPolls int
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		failPolls++
		st := rebuildStatus{State: "running", Position: 3, Head: 9, EventsPerSecond: 5, ETASeconds: 1}
		if failPolls > 1 {
			st = rebuildStatus{State: "failed", Position: 7, Head: 9, Error: "disk full"}
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer failing.Close()
	code, _, errs = runAgainst(failing.URL, "rebuild", "--wait")
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code != 1 || !strings.Contains(errs, "rebuild failed at position 7: disk full") || len(lines) < 2 ||
		lines[len(lines)-2] != "rebuild  7/9 events   78%  stopped" {
		t.Errorf("failed rebuild: %d %q", code, errs)
	}

	// careerd restarts (or another instance answers) while it is followed:
	// "idle" is not a rebuild done, and careerctl does not exit 0.
	var lostPolls int
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		lostPolls++
		st := rebuildStatus{State: "running", Position: 4, Head: 9, EventsPerSecond: 5, ETASeconds: 1}
		if lostPolls > 2 {
			st = rebuildStatus{State: "idle"}
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer lost.Close()
	code, out, errs = runAgainst(lost.URL, "rebuild", "--wait")
	lines = strings.Split(strings.TrimSpace(errs), "\n")
	if code != 1 || out != "" || !strings.Contains(errs, "careerd no longer knows of the rebuild") || len(lines) < 2 ||
		lines[len(lines)-2] != "rebuild  4/9 events   44%  stopped" {
		t.Errorf("a rebuild careerd lost: %d %q %q", code, out, errs)
	}

	// Behind a load balancer another instance answers with its own
	// rebuild, done: not the one started.
	var otherPolls int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		otherPolls++
		st := rebuildStatus{ID: "r1", State: "running", Position: 4, Head: 9, EventsPerSecond: 5, ETASeconds: 1}
		if otherPolls > 2 {
			st = rebuildStatus{ID: "r0", State: "done", Position: 9, Head: 9}
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer other.Close()
	code, out, errs = runAgainst(other.URL, "rebuild", "--wait")
	if code != 1 || out != "" || !strings.Contains(errs, "careerd no longer knows of the rebuild") {
		t.Errorf("another instance's rebuild done: %d %q %q", code, out, errs)
	}

	// careerd restarts, or a proxy before it answers 502, while the
	// rebuild goes on: the wait asks again rather than end at the first
	// failed poll, which it reported with the transport's words alone.
	var blipPolls int
	blip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		blipPolls++
		n := blipPolls
		mu.Unlock()
		switch {
		case n == 3:
			panic(http.ErrAbortHandler) // the connection dropped, no answer
		case n == 4 || n == 5:
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		st := rebuildStatus{ID: "r1", State: "running", Position: 4, Head: 9, EventsPerSecond: 5, ETASeconds: 1}
		if n > 6 {
			st = rebuildStatus{ID: "r1", State: "done", Position: 9, Head: 9}
		}
		json.NewEncoder(w).Encode(st)
	}))
	defer blip.Close()
	if code, out, errs := runAgainst(blip.URL, "rebuild", "--wait"); code != 0 || out != "rebuild done: 9 events\n" {
		t.Errorf("a rebuild followed through failed polls: %d %q %q", code, out, errs)
	}

	// careerd killed for good mid-rebuild: whether the rebuild switched
	// before is unknown, and careerctl says so, its last line showing
	// where it was last seen.
	var gonePolls int
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gonePolls++
		n := gonePolls
		mu.Unlock()
		if n > 2 {
			panic(http.ErrAbortHandler)
		}
		json.NewEncoder(w).Encode(rebuildStatus{ID: "r1", State: "running", Position: 4, Head: 9, EventsPerSecond: 5, ETASeconds: 1})
	}))
	defer gone.Close()
	code, out, errs = runAgainst(gone.URL, "rebuild", "--wait")
	lines = strings.Split(strings.TrimSpace(errs), "\n")
	// The count under the handler's lock: its last increment ran on the
	// server's goroutine, which the client's failed request does not wait for.
	mu.Lock()
	goneSeen := gonePolls
	mu.Unlock()
	if code != 1 || out != "" || !strings.Contains(errs, "could not follow the rebuild (careerd gone or failing)") ||
		!strings.Contains(errs, "whether it finished is unknown: run careerctl rebuild --wait again") ||
		len(lines) < 2 || lines[len(lines)-2] != "rebuild  4/9 events   44%  stopped" || goneSeen < 2+bulkAttempts {
		t.Errorf("a rebuild whose careerd went away: %d %q %q (%d polls)", code, out, errs, goneSeen)
	}

	// Refused at once while careerd's event log is away: exit 1, its words.
	const away = "the event log is unreachable: the connection to NATS is lost and reconnecting: the rebuild was not started; start it again once it is back"
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": away, "extensions": map[string]string{"code": "UNAVAILABLE"}}}})
	}))
	defer refusing.Close()
	if code, out, errs := runAgainst(refusing.URL, "rebuild"); code != 1 || out != "" ||
		errs != "careerctl rebuild: POST /v1/rebuild answered 503 Service Unavailable: UNAVAILABLE: "+away+"\n" {
		t.Errorf("a rebuild refused: %d %q %q", code, out, errs)
	}
	// An older careerd refused in plain text: its words as they are.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, away, http.StatusServiceUnavailable)
	}))
	defer plain.Close()
	if code, out, errs := runAgainst(plain.URL, "rebuild"); code != 1 || out != "" ||
		errs != "careerctl rebuild: POST /v1/rebuild answered 503 Service Unavailable: "+away+"\n" {
		t.Errorf("a rebuild refused in plain text: %d %q %q", code, out, errs)
	}
}

// TestExportAndRebuildAgainstCareerd runs export and rebuild against the real
// careerd; they skip while it answers 404. Not parallel: the rebuild swaps
// the read model under the other tests.
func TestExportAndRebuildAgainstCareerd(t *testing.T) {
	mustCtl(t, "register-person", "--id", "EXP1", "--name", "Sho Ikeda", "--department", "Export Ops", "--joinedOn", "2021-01-01")
	code, out, errs := ctl(t, "export")
	if code != 0 && strings.Contains(errs, "does not have this endpoint") {
		t.Skip("export endpoint not available yet")
	}
	if code != 0 || !strings.Contains(out, `"personId":"EXP1"`) {
		t.Fatalf("export: %d %q", code, errs)
	}
	var last json.Number
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Position json.Number
			PersonID string
			Type     string
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Position == "" || ev.Type == "" {
			t.Fatalf("export line %q: %v", line, err)
		}
		last = ev.Position
	}
	// A position past the end of the log is refused, not exported as an
	// empty, complete log.
	if code, out, errs := ctl(t, "export", "--after", "999999999"); code != 1 || out != "" ||
		!strings.Contains(errs, "after: 999999999 is past the end of the log (its last position is ") {
		t.Errorf("export --after past the end: %d %q %q", code, out, errs)
	}
	if code, _, errs := ctl(t, "export", "--after", last.String()); code != 0 {
		t.Errorf("export --after the last position: %d %q", code, errs)
	}
	code, _, errs = ctl(t, "rebuild", "--wait")
	if code != 0 && strings.Contains(errs, "does not have this endpoint") {
		t.Skip("rebuild endpoint not available yet")
	}
	if code != 0 {
		t.Fatalf("rebuild --wait: %d %q", code, errs)
	}
	var p struct{ Person personView }
	mustJSON(t, &p, "person", "EXP1")
	if p.Person.Name != "Sho Ikeda" {
		t.Errorf("after rebuild: %+v", p.Person)
	}
}

func TestDemoAgainstCareerd(t *testing.T) {
	t.Parallel()
	base, token := needServer(t)
	needBulk(t, base, token)
	code, out, errs := ctl(t, "demo", "--people", "40", "--departments", "5", "--years", "6", "--seed", "99", "--chunk", "300")
	if code != 0 || !strings.Contains(out, " recorded, 0 already recorded (duplicates), 0 refused") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	var d struct{ SkillDistribution []distributionCell }
	mustJSON(t, &d, "distribution", "--field", "SYSTEM_OPERATION", "--department", "Data Center Operations")
	n := 0
	for _, c := range d.SkillDistribution {
		n += c.Count
	}
	if n == 0 {
		t.Errorf("nobody in Data Center Operations after the demo: %+v", d)
	}
	// The same demo again records nothing new.
	code, out, _ = ctl(t, "demo", "--people", "40", "--departments", "5", "--years", "6", "--seed", "99", "--chunk", "300")
	if code != 0 || !strings.Contains(out, "demo: 0 recorded, ") {
		t.Errorf("demo again: exit %d\n%s", code, out)
	}
	// A demo of other sizes (its 41st person new, its first one the same
	// name) is refused, and records nothing.
	code, out, errs = ctl(t, "demo", "--people", "41", "--departments", "5", "--years", "6", "--seed", "99", "--chunk", "300")
	if code != 1 || !strings.Contains(errs, "E100001 is already ") || !strings.Contains(errs, "registered by another demo") {
		t.Errorf("a demo of other sizes: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := ctl(t, "person", "E100041"); code != 1 || !strings.Contains(errs, "NOT_FOUND") {
		t.Errorf("a refused demo recorded its people: exit %d %s", code, errs)
	}
}

func TestMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local PostgreSQL")
	}
	url := pgtest.NewDatabase(t)
	for range 2 { // migrations are idempotent
		code, out, errs := runAgainst("", "migrate", "--database-url", url, "--schema", "ctl_test")
		if code != 0 || out != "schema ctl_test (read model ctl_test) is migrated\n" {
			t.Fatalf("migrate: %d %q %q", code, out, errs)
		}
	}
	if code, _, errs := runAgainst("", "migrate"); code != 2 || !strings.Contains(errs, "--database-url (or $DATABASE_URL) is required") {
		t.Errorf("no URL: %d %q", code, errs)
	}
	code, _, errs := runAgainst("", "migrate", "--database-url", "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
	if code != 1 || !strings.Contains(errs, "cannot reach PostgreSQL") || strings.Contains(errs, "secret") {
		t.Errorf("unreachable: %d %q", code, errs)
	}
}

// TestDemoPrintsRefusedLinesAsImportDoes: a line careerd refuses is
// printed "line N: CODE field: message", as import prints it.
func TestDemoPrintsRefusedLinesAsImportDoes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/graphql":
			fmt.Fprint(w, `{"data":{"person":null},"errors":[{"message":"person E100001 not found","extensions":{"code":"NOT_FOUND"}}]}`)
		case "/v1/import":
			sc := bufio.NewScanner(r.Body)
			for n := 1; sc.Scan(); n++ {
				if n == 2 {
					fmt.Fprintln(w, `{"line":2,"ok":false,"code":"BAD_USER_INPUT","field":"id","message":"id: is already taken"}`)
					continue
				}
				fmt.Fprintf(w, `{"line":%d,"ok":true}`+"\n", n)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	code, out, errs := runAgainst(srv.URL, "demo", "--people", "3", "--departments", "2", "--years", "2", "--seed", "5")
	if code != 1 || !strings.Contains(out, "\nline 2: BAD_USER_INPUT id: is already taken\n") || strings.Contains(out, "{") {
		t.Errorf("a refused demo line: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestDemoRefusesAServerWithOtherPeople: a server whose first demo person
// exists is asked, by the demo's first line sent again with its key,
// whether that person is this demo's: refused as taken (another demo's
// key, or none), the demo stops with nothing more sent; answered as a
// duplicate, or as the key's reuse, it goes on.
func TestDemoRefusesAServerWithOtherPeople(t *testing.T) {
	first := generateDemo(demoConfig{People: 3, Departments: 2, Years: 2, Seed: 5, Today: time.Now()})[0]
	var mu sync.Mutex
	var person, probe string
	var imports []string // the first line of each import request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/graphql":
			fmt.Fprint(w, person)
		case "/v1/import":
			var lines []string
			sc := bufio.NewScanner(r.Body)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			imports = append(imports, lines[0])
			for i := range lines {
				if len(lines) == 1 { // the demo's question
					fmt.Fprintln(w, probe)
					continue
				}
				fmt.Fprintf(w, `{"line":%d,"ok":true,"duplicate":true}`+"\n", i+1)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	demo := func() (int, string, string) {
		imports = nil
		return runAgainst(srv.URL, "demo", "--people", "3", "--departments", "2", "--years", "2", "--seed", "5")
	}
	person = `{"data":{"person":{"name":"Someone Else"}}}`
	probe = `{"line":1,"ok":false,"code":"BAD_USER_INPUT","field":"id","message":"id: is already taken"}`
	code, out, errs := demo()
	if code != 1 || len(imports) != 1 || !strings.Contains(imports[0], `"idempotencyKey":"demo-s5-p3-d2-y2-1"`) ||
		!strings.Contains(errs, "E100001 is already Someone Else, registered by another demo (other seed or sizes) or other data, not by this one "+
			"(--seed 5 --people 3 --departments 2 --years 2): run the demo on an empty careerd, or with the seed and sizes used before") {
		t.Errorf("another demo's first person: exit %d, %d imports %q\n%s\n%s", code, len(imports), imports, out, errs)
	}
	// Unknown: nothing asked, the demo goes on.
	person = `{"data":{"person":null},"errors":[{"message":"person E100001 not found","extensions":{"code":"NOT_FOUND"}}]}`
	if code, out, errs := demo(); code != 0 || len(imports) == 0 || !strings.Contains(imports[0], `"id":"E100001"`) {
		t.Errorf("an empty server: exit %d, %d imports\n%s\n%s", code, len(imports), out, errs)
	}
	// This demo's own first person, answered as a duplicate (the same
	// demo the same day): the demo goes on.
	person = fmt.Sprintf(`{"data":{"person":{"name":%q}}}`, first.Input["name"])
	probe = `{"line":1,"ok":true,"duplicate":true,"personId":"E100001"}`
	if code, out, errs := demo(); code != 0 || len(imports) < 2 || !strings.Contains(out, "demo: 0 recorded, ") {
		t.Errorf("this demo again: exit %d, %d imports\n%s\n%s", code, len(imports), out, errs)
	}
	// Answered as the reuse of its key: the same demo made on another day,
	// whose every line would be refused. It says so and sends nothing more.
	probe = `{"line":1,"ok":false,"code":"BAD_USER_INPUT","field":"idempotencyKey","message":"idempotencyKey: was already used for a different request"}`
	imports = nil
	if code, _, errs := demo(); code != 1 || len(imports) != 1 || !strings.Contains(errs, "E100001 was registered by this demo (--seed 5 --people 3 --departments 2 --years 2) on another day") {
		t.Errorf("this demo another day: exit %d, %d imports\n%s", code, len(imports), errs)
	}
}
