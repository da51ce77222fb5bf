package projectionstest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// Run runs the whole contract suite against read models made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *Env)
	}{
		{"register shows the person, their department and level 0", testRegister},
		{"departments over valid time: transfer and departure", testDepartments},
		{"levels, history and attainedOn from evidence", testLevels},
		{"retraction lowers the level and rewrites history; knownAt sees the past", testRetraction},
		{"known before the registration was recorded: every field at level 0", testKnownBeforeRegistration},
		{"amendment replaces the whole accomplishment", testAmendment},
		{"accomplishments page in recording order", testAccomplishmentPaging},
		{"people filter by department, field and minLevel, paged", testPeople},
		{"distribution per department and level on a date", testDistribution},
		{"back-dated evidence rewrites history from its date", testBackdated},
		{"replaying a batch changes nothing", testReplay},
		{"a fresh fold of the log equals the live read model", testRebuildEquals},
		{"level changes are published as derived events", testDerived},
		{"a bulk catch-up publishes no history, later batches publish news", testBulkCatchUpIsNotNews},
		{"a short backlog after a restart is projected as it comes and published", testShortBacklogIsNews},
		{"a level change the timeline no longer holds is published withdrawn", testWithdrawn},
		{"a bulk catch-up publishes no withdrawal", testBulkCatchUpWithdrawsNothing},
		{"distributions and people as known at any instant are what the read model answered then", testDistributionsKnownAt},
		{"a person's history in the store is the log's, for a Recorder to read", testHistory},
		{"the earliest recording instant of the events applied after a position", testEarliestRecordedAfter},
		{"the instant each person's first event was recorded, read alone", testFirstRecordedAt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat := domain.DefaultCatalogue()
			e := Start(t, newStore(t, cat), cat)
			tc.fn(t, e)
		})
	}
}

var ctx = context.Background()

func testRegister(t *testing.T, e *Env) {
	res := e.Register("E1", "Ops", "2020-04-01")
	if res.PersonID != "E1" || res.Position == 0 {
		t.Fatalf("result = %+v", res)
	}
	p, err := e.Store.Person(ctx, "E1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Person E1" || p.JoinedOn != domain.MustDate("2020-04-01") || p.Position != res.Position {
		t.Errorf("person = %+v", p)
	}
	if got := p.DepartmentOn(Today); got != "Ops" {
		t.Errorf("department today = %q", got)
	}
	if got := p.DepartmentOn(domain.MustDate("2020-03-31")); got != "" {
		t.Errorf("department before joining = %q, want none", got)
	}
	if _, err := e.Store.Person(ctx, "nobody"); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("unknown person: err = %v, want NotFound", err)
	}
	st, err := e.Store.Standing(ctx, "E1", Today, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Fields) != 3 {
		t.Fatalf("standing has %d fields, want 3", len(st.Fields))
	}
	for _, fs := range st.Fields {
		if fs.Level != 0 || !fs.AttainedOn.IsZero() || fs.Next == nil || fs.Next.Level != 1 {
			t.Errorf("%s: %+v", fs.Field, fs)
		}
	}
	cp, err := e.Store.Checkpoint(ctx)
	if err != nil || cp != res.Position {
		t.Errorf("checkpoint = %d, %v; want %d", cp, err, res.Position)
	}
}

func testDepartments(t *testing.T, e *Env) {
	if got, err := e.Store.Departments(ctx); err != nil || got == nil || len(got) != 0 {
		t.Errorf("departments of an empty read model = %#v, %v; want an empty list", got, err)
	}
	e.Register("E1", "Ops", "2020-01-01")
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E1", Department: "Net", EffectiveOn: domain.MustDate("2022-01-01")}))
	e.Must(e.Recorder.RecordDeparture(ctx, events.RecordDeparture{PersonID: "E1", EffectiveOn: domain.MustDate("2025-01-01")}))
	p, err := e.Store.Person(ctx, "E1")
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Membership{
		{Department: "Ops", From: domain.MustDate("2020-01-01"), To: domain.MustDate("2022-01-01")},
		{Department: "Net", From: domain.MustDate("2022-01-01"), To: domain.MustDate("2025-01-01")},
	}
	if !reflect.DeepEqual(p.Memberships, want) {
		t.Errorf("memberships = %+v, want %+v", p.Memberships, want)
	}
	for d, dept := range map[string]string{"2021-12-31": "Ops", "2022-01-01": "Net", "2024-12-31": "Net", "2025-01-01": ""} {
		if got := p.DepartmentOn(domain.MustDate(d)); got != dept {
			t.Errorf("department on %s = %q, want %q", d, got, dept)
		}
	}
	// Every department anyone has been or is in, departed people's
	// included, once each, in byte order whatever the database's collation.
	e.Register("E2", "ops", "2021-01-01")
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Ops", EffectiveOn: domain.MustDate("2023-01-01")}))
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Analytics", EffectiveOn: domain.MustDate("2024-01-01")}))
	got, err := e.Store.Departments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Analytics", "Net", "Ops", "ops"}; !slices.Equal(got, want) {
		t.Errorf("departments = %q, want %q", got, want)
	}
}

// level3 records the evidence of SYSTEM_OPERATION level 3 (and level 2
// common) and returns the id of the level-3 theme assessment.
func level3(e *Env, id string) string {
	e.Record(id, Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
		domain.OperationRequirements, domain.OperationSystems))
	e.Record(id, Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"))
	return e.Record(id, Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01")).AccomplishmentID
}

func testLevels(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	level3(e, "E1")
	st, err := e.Store.Standing(ctx, "E1", Today, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[domain.Field]int{domain.SystemOperation: 3, domain.NetworkOperation: 2, domain.ServiceDesk: 2}
	for f, l := range want {
		if got := LevelOf(st, f); got != l {
			t.Errorf("%s level = %d, want %d", f, got, l)
		}
	}
	if st.Fields[0].AttainedOn != domain.MustDate("2017-06-01") {
		t.Errorf("attainedOn = %s, want 2017-06-01", st.Fields[0].AttainedOn)
	}
	past, err := e.Store.Standing(ctx, "E1", domain.MustDate("2017-05-31"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := LevelOf(past, domain.SystemOperation); got != 2 {
		t.Errorf("level on 2017-05-31 = %d, want 2", got)
	}
	f := domain.SystemOperation
	h, err := e.Store.History(ctx, "E1", &f)
	if err != nil {
		t.Fatal(err)
	}
	wantH := []domain.LevelChange{
		{Field: f, On: domain.MustDate("2016-02-01"), From: 0, To: 2},
		{Field: f, On: domain.MustDate("2017-06-01"), From: 2, To: 3},
	}
	if !reflect.DeepEqual(h, wantH) {
		t.Errorf("history = %+v, want %+v", h, wantH)
	}
	all, err := e.Store.History(ctx, "E1", nil)
	if err != nil || len(all) != 4 {
		t.Errorf("history of all fields = %+v, %v; want 4 changes", all, err)
	}
}

func testRetraction(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	themeID := level3(e, "E1")
	before := e.Clock.Peek()
	res := e.Must(e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: themeID, Reason: "entered twice"}))
	if res.AccomplishmentID != themeID {
		t.Errorf("retraction result = %+v", res)
	}
	st, err := e.Store.Standing(ctx, "E1", Today, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := LevelOf(st, domain.SystemOperation); got != 2 {
		t.Errorf("level after retraction = %d, want 2", got)
	}
	known, err := e.Store.Standing(ctx, "E1", Today, before)
	if err != nil {
		t.Fatal(err)
	}
	if got := LevelOf(known, domain.SystemOperation); got != 3 {
		t.Errorf("level as known before the retraction = %d, want 3", got)
	}
	f := domain.SystemOperation
	h, _ := e.Store.History(ctx, "E1", &f)
	if len(h) != 1 || h[0].To != 2 {
		t.Errorf("history after retraction = %+v, want only 0->2", h)
	}
	a, err := e.Store.Accomplishment(ctx, themeID)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Retracted || a.RetractionReason != "entered twice" {
		t.Errorf("retracted accomplishment = %+v", a)
	}
}

// testKnownBeforeRegistration: asked as known at an instant before their
// registration was recorded, a person has every field at level 0 (judged
// on no evidence: nothing was known of them), not an error; an unknown
// person is still NotFound.
func testKnownBeforeRegistration(t *testing.T, e *Env) {
	before := e.Clock.Peek()
	e.Register("E1", "Ops", "2015-01-01")
	level3(e, "E1")
	for _, d := range []domain.Date{Today, domain.MustDate("2014-12-31")} {
		st, err := e.Store.Standing(ctx, "E1", d, before)
		want := e.Cat.Evaluate(domain.Evidence{}, d)
		atZero := len(st.Fields) == len(domain.Fields)
		for _, f := range st.Fields {
			atZero = atZero && f.Level == 0 && f.AttainedOn.IsZero()
		}
		if err != nil || !atZero || !reflect.DeepEqual(st, want) {
			t.Errorf("standing on %s known before the registration = %+v, %v; want %+v, no error", d, st, err, want)
		}
	}
	// From the registration's own instant on, the person is judged.
	reg, err := e.Store.PersonEvents(ctx, []string{"E1"})
	if err != nil || len(reg["E1"]) == 0 {
		t.Fatalf("events of E1: %v, %v", reg, err)
	}
	st, err := e.Store.Standing(ctx, "E1", Today, reg["E1"][0].RecordedAt)
	if err != nil || len(st.Fields) != len(domain.Fields) || LevelOf(st, domain.SystemOperation) != 0 {
		t.Errorf("standing known at the registration = %+v, %v; want every field at level 0", st, err)
	}
	if _, err := e.Store.Standing(ctx, "nobody", Today, before); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("standing of an unknown person known at %s: err = %v, want NotFound", before, err)
	}
	if _, err := e.Store.Standing(ctx, "nobody", Today, time.Time{}); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("standing of an unknown person: err = %v, want NotFound", err)
	}
}

func testEarliestRecordedAfter(t *testing.T, e *Env) {
	if _, any, err := e.Store.EarliestRecordedAfter(ctx, 0); err != nil || any {
		t.Errorf("an empty read model: any %v, err %v; want nothing after position 0", any, err)
	}
	r1 := e.Register("E1", "Ops", "2015-01-01")
	r2 := e.Register("E2", "Ops", "2015-01-01")
	e.Clock.Advance(-time.Hour) // E3's registration is stamped before E2's
	r3 := e.Register("E3", "Ops", "2015-01-01")
	r4 := e.Register("E4", "Ops", "2015-01-01")
	rs, err := e.Store.PersonEvents(ctx, []string{"E1", "E2", "E3", "E4"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(id string) time.Time { return rs[id][0].RecordedAt }
	if !at("E3").Before(at("E2")) {
		t.Fatalf("E3 recorded at %s, E2 at %s: want E3 first", at("E3"), at("E2"))
	}
	for _, c := range []struct {
		after uint64
		want  time.Time
	}{{0, at("E3")}, {r1.Position, at("E3")}, {r2.Position, at("E3")}, {r3.Position, at("E4")}} {
		got, any, err := e.Store.EarliestRecordedAfter(ctx, c.after)
		if err != nil || !any || !got.Equal(c.want) {
			t.Errorf("after %d: %s, any %v, err %v; want %s", c.after, got, any, err, c.want)
		}
	}
	if _, any, err := e.Store.EarliestRecordedAfter(ctx, r4.Position); err != nil || any {
		t.Errorf("after the last position: any %v, err %v; want nothing", any, err)
	}
}

func testAmendment(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	themeID := level3(e, "E1")
	e.Must(e.Recorder.AmendAccomplishment(ctx, events.AmendAccomplishment{AccomplishmentID: themeID,
		Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
			t := *a.Assessment
			t.Proficiency = domain.Basic
			return domain.Accomplishment{Assessment: &t}, nil
		}}))
	a, err := e.Store.Accomplishment(ctx, themeID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Accomplishment.Assessment == nil || a.Accomplishment.Assessment.Proficiency != domain.Basic || a.AmendedAt.IsZero() {
		t.Errorf("amended accomplishment = %+v", a)
	}
	st, _ := e.Store.Standing(ctx, "E1", Today, time.Time{})
	if got := LevelOf(st, domain.SystemOperation); got != 2 {
		t.Errorf("level after amending the theme down = %d, want 2", got)
	}
}

func testAccomplishmentPaging(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.Record("E1", Assessment(domain.StressManagement, domain.Basic, "2016-01-0"+string(rune('1'+i)))).AccomplishmentID)
	}
	var got []string
	after := uint64(0)
	for pages := 0; ; pages++ {
		page, err := e.Store.Accomplishments(ctx, "E1", 2, after)
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != 5 {
			t.Errorf("totalCount = %d, want 5", page.TotalCount)
		}
		for _, a := range page.Items {
			got = append(got, a.ID)
			after = a.Position
		}
		if !page.HasNext {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("paged ids = %v, want %v", got, ids)
	}
}

func testPeople(t *testing.T, e *Env) {
	for _, id := range []string{"A1", "A2", "A3"} {
		e.Register(id, "Ops", "2015-01-01")
	}
	e.Register("B1", "Net", "2015-01-01")
	level3(e, "A2")
	page, err := e.Store.People(ctx, projections.PeopleFilter{Department: "Ops", AsOf: Today, First: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != 3 || !page.HasNext || len(page.People) != 2 || page.People[0].ID != "A1" || page.People[1].ID != "A2" {
		t.Errorf("first page = %+v", page)
	}
	page, _ = e.Store.People(ctx, projections.PeopleFilter{Department: "Ops", AsOf: Today, First: 2, After: "A2"})
	if len(page.People) != 1 || page.People[0].ID != "A3" || page.HasNext {
		t.Errorf("second page = %+v", page)
	}
	page, _ = e.Store.People(ctx, projections.PeopleFilter{Field: domain.SystemOperation, MinLevel: 3, AsOf: Today, First: 10})
	if page.TotalCount != 1 || len(page.People) != 1 || page.People[0].ID != "A2" {
		t.Errorf("minLevel 3 = %+v", page)
	}
	page, _ = e.Store.People(ctx, projections.PeopleFilter{Field: domain.SystemOperation, MinLevel: 3, AsOf: domain.MustDate("2017-05-31"), First: 10})
	if page.TotalCount != 0 {
		t.Errorf("minLevel 3 before attaining it = %+v", page)
	}
	page, _ = e.Store.People(ctx, projections.PeopleFilter{AsOf: Today, First: 100})
	if page.TotalCount != 4 {
		t.Errorf("everyone = %d, want 4", page.TotalCount)
	}
}

func testDistribution(t *testing.T, e *Env) {
	e.Register("A1", "Ops", "2015-01-01")
	e.Register("A2", "Ops", "2015-01-01")
	e.Register("B1", "Net", "2015-01-01")
	e.Register("C1", "Apps", "2019-01-01")
	level3(e, "A2")
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "A1", Department: "Net", EffectiveOn: domain.MustDate("2020-01-01")}))
	cells, err := e.Store.Distribution(ctx, domain.SystemOperation, Today, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []projections.Cell{{Department: "Apps", Level: 0, Count: 1}, {Department: "Net", Level: 0, Count: 2}, {Department: "Ops", Level: 3, Count: 1}}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("distribution today = %+v, want %+v", cells, want)
	}
	cells, _ = e.Store.Distribution(ctx, domain.SystemOperation, domain.MustDate("2016-06-01"), "")
	want = []projections.Cell{{Department: "Net", Level: 0, Count: 1}, {Department: "Ops", Level: 0, Count: 1}, {Department: "Ops", Level: 2, Count: 1}}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("distribution on 2016-06-01 = %+v, want %+v", cells, want)
	}
	cells, _ = e.Store.Distribution(ctx, domain.SystemOperation, Today, "Ops")
	if len(cells) != 1 || cells[0].Department != "Ops" {
		t.Errorf("distribution of Ops = %+v", cells)
	}
}

func testBackdated(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	e.Record("E1", Engagement(domain.ServiceDesk, domain.Participant, "2018-01-01", "", domain.Ongoing, false))
	e.Record("E1", Assessment(domain.InformationAssetManagement, domain.Basic, "2019-01-01"))
	f := domain.ServiceDesk
	h, _ := e.Store.History(ctx, "E1", &f)
	if len(h) != 1 || h[0].On != domain.MustDate("2019-01-01") || h[0].To != 1 {
		t.Fatalf("history = %+v, want level 1 from 2019-01-01", h)
	}
	// Learned today: an older assessment moves the start back.
	e.Record("E1", Assessment(domain.SystemOperationManagement, domain.Basic, "2018-03-01"))
	h, _ = e.Store.History(ctx, "E1", &f)
	if len(h) != 1 || h[0].On != domain.MustDate("2018-03-01") {
		t.Errorf("history after back-dated evidence = %+v, want level 1 from 2018-03-01", h)
	}
}

func testReplay(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	level3(e, "E1")
	e.StopProjector()
	cp, _ := e.Store.Checkpoint(ctx)
	batch, err := e.Log.Read(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.Store.PersonEvents(ctx, []string{"E1"})
	// A crash after commit but before the projector learned of it: the same
	// events come again. The store must ignore what it has applied.
	if err := e.Store.Apply(ctx, cp, batch, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := e.Store.PersonEvents(ctx, []string{"E1"})
	if len(after["E1"]) != len(before["E1"]) {
		t.Errorf("events after replay = %d, want %d", len(after["E1"]), len(before["E1"]))
	}
	e.StartProjector()
	res := e.Record("E1", Assessment(domain.StressManagement, domain.Basic, "2020-01-01"))
	all, _ := e.Store.PersonEvents(ctx, []string{"E1"})
	if n := len(all["E1"]); n != len(before["E1"])+1 || all["E1"][n-1].Position != res.Position {
		t.Errorf("after restart: %d events, last at %d; want %d, %d", n, all["E1"][n-1].Position, len(before["E1"])+1, res.Position)
	}
}

func testRebuildEquals(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	e.Register("E2", "Net", "2016-01-01")
	id := level3(e, "E1")
	level3(e, "E2")
	e.Must(e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: id, Reason: "wrong person"}))
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Ops", EffectiveOn: domain.MustDate("2021-01-01")}))
	rs, err := e.Log.Read(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"E1", "E2"} {
		var mine []events.Recorded
		for _, r := range rs {
			if r.PersonID == id {
				mine = append(mine, r)
			}
		}
		p := events.Fold(mine)
		wantSt := e.Cat.Evaluate(p.Evidence(), Today)
		gotSt, err := e.Store.Standing(ctx, id, Today, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotSt, wantSt) {
			t.Errorf("%s standing differs from a direct fold:\n got %+v\nwant %+v", id, gotSt, wantSt)
		}
		wantH := e.Cat.Timeline(p.Evidence())
		gotH, _ := e.Store.History(ctx, id, nil)
		if len(wantH) == 0 {
			wantH = nil
		}
		if len(gotH) == 0 {
			gotH = nil
		}
		if !reflect.DeepEqual(gotH, wantH) {
			t.Errorf("%s history differs from a direct fold:\n got %+v\nwant %+v", id, gotH, wantH)
		}
		view, _ := e.Store.Person(ctx, id)
		if !reflect.DeepEqual(view.Memberships, p.Memberships()) {
			t.Errorf("%s memberships = %+v, want %+v", id, view.Memberships, p.Memberships())
		}
	}
}

func testDerived(t *testing.T, e *Env) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := e.Changes.Subscribe(sctx)
	e.Register("E1", "Ops", "2015-01-01")
	level3(e, "E1")
	var got []projections.LevelChanged
	timeout := time.After(5 * time.Second)
	for len(got) < 4 {
		select {
		case c := <-ch:
			got = append(got, c)
		case <-timeout:
			t.Fatalf("derived events = %+v, want 4", got)
		}
	}
	for _, c := range got {
		if c.PersonID != "E1" || c.Department != "Ops" {
			t.Errorf("derived event = %+v", c)
		}
	}
}

// testBulkCatchUpIsNotNews: the level changes a bulk catch-up reveals are
// history the read model now answers, not news, so none is published; a
// change recorded once the projector has caught up is.
func testBulkCatchUpIsNotNews(t *testing.T, e *Env) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := e.Changes.Subscribe(sctx)
	e.StopProjector()
	must := func(res events.Result, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	must(e.Recorder.RegisterPerson(ctx, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	for _, a := range []domain.Accomplishment{
		Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
	} {
		must(e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a}))
	}
	head := must(e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: Assessment(domain.StressManagement, domain.Basic, "2016-03-01")}))
	// A fresh read model (no checkpoint): in bulk even within BulkAbove.
	e.Bulk, e.BulkAbove, e.MaxBatch = true, 100, 1
	e.StartProjector()
	e.Wait(head)
	if e.Deferred.Load() == 0 {
		t.Fatal("no batch was deferred: the catch-up was not in bulk")
	}
	select {
	case c := <-ch:
		t.Fatalf("the bulk catch-up published %+v", c)
	case <-time.After(100 * time.Millisecond):
	}
	// Caught up: the change to level 3 is news.
	live := e.Record("E1", Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"))
	awaitLevel3(t, ch, "E1", "the change to level 3 recorded after the catch-up was not published")
	// Nor is the catch-up's lag live lag: only events projected as they
	// came are reported committed, each with the time the log stored it.
	for _, r := range e.Committed(live.Position) {
		if r.Position <= head {
			t.Errorf("event %d of the bulk catch-up was reported as committed live", r.Position)
		}
		if r.StoredAt.IsZero() {
			t.Errorf("event %d was reported without the time the log stored it", r.Position)
		}
	}
}

// awaitLevel3 waits for the change of id to level 3 in system operation
// on ch, and fails with why after 5 s.
func awaitLevel3(t *testing.T, ch <-chan projections.LevelChanged, id, why string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-ch:
			if c.PersonID == id && c.Change.Field == domain.SystemOperation && c.Change.To == 3 {
				return
			}
		case <-timeout:
			t.Fatal(why)
		}
	}
}

// testShortBacklogIsNews: a projector resuming from a checkpoint with a
// backlog within BulkAbove (a restart after a crash) projects it batch by
// batch and publishes the level changes it reveals.
func testShortBacklogIsNews(t *testing.T, e *Env) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.Register("E1", "Ops", "2015-01-01") // projected: the projector resumes from a checkpoint
	ch := e.Changes.Subscribe(sctx)
	e.StopProjector()
	var last uint64
	for _, a := range []domain.Accomplishment{
		Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
		Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"),
	} {
		res, err := e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	e.Bulk, e.BulkAbove, e.MaxBatch = true, 100, 1
	e.StartProjector()
	e.Wait(last)
	if n := e.Deferred.Load(); n != 0 {
		t.Fatalf("%d batches of a 3-event backlog were deferred (BulkAbove 100)", n)
	}
	awaitLevel3(t, ch, "E1", "the change to level 3 in the backlog was not published")
	// The backlog's events waited for the projector: that is live lag, and
	// each is reported once, stamped no later than its commit.
	got := e.Committed(last)
	want := []uint64{1, 2, 3, 4}
	if !slices.Equal(positions(got), want) {
		t.Errorf("reported committed live: %v, want %v", positions(got), want)
	}
	for _, r := range got {
		if r.StoredAt.IsZero() || r.StoredAt.After(time.Now()) {
			t.Errorf("event %d: stored at %v", r.Position, r.StoredAt)
		}
	}
}

// nextChanges returns the next n level changes on ch and fails if they do
// not come within 5 s, or if another comes within 100 ms after them.
func nextChanges(t *testing.T, ch <-chan projections.LevelChanged, n int) []projections.LevelChanged {
	t.Helper()
	var got []projections.LevelChanged
	timeout := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case c := <-ch:
			got = append(got, c)
		case <-timeout:
			t.Fatalf("derived events = %+v, want %d", got, n)
		}
	}
	select {
	case c := <-ch:
		t.Fatalf("after %+v another derived event came: %+v", got, c)
	case <-time.After(100 * time.Millisecond):
	}
	return got
}

// testWithdrawn: a change the person's timeline held when last projected
// and holds no more (its date moved by an amendment, its evidence
// retracted) is published again, withdrawn, in the batch that supersedes
// it; a moved date is the old change withdrawn, then the new one.
func testWithdrawn(t *testing.T, e *Env) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := e.Changes.Subscribe(sctx)
	e.Register("E1", "Ops", "2015-01-01")
	themeID := level3(e, "E1")
	announced := domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2017-06-01"), From: 2, To: 3}
	// The three fields to level 2, then system operation to 3.
	for _, c := range nextChanges(t, ch, 4) {
		if c.Withdrawn {
			t.Errorf("evidence that raises levels withdrew %+v", c)
		}
	}
	moved := domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2017-09-01"), From: 2, To: 3}
	amended := e.Must(e.Recorder.AmendAccomplishment(ctx, events.AmendAccomplishment{AccomplishmentID: themeID,
		Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
			t := *a.Assessment
			t.AssessedOn = moved.On
			return domain.Accomplishment{Assessment: &t}, nil
		}}))
	want := []projections.LevelChanged{
		{PersonID: "E1", Department: "Ops", Change: announced, Position: amended.Position, Withdrawn: true},
		{PersonID: "E1", Department: "Ops", Change: moved, Position: amended.Position},
	}
	if got := nextChanges(t, ch, 2); !reflect.DeepEqual(got, want) {
		t.Errorf("after moving the date:\n got %+v\nwant %+v", got, want)
	}
	retracted := e.Must(e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: themeID, Reason: "entered twice"}))
	want = []projections.LevelChanged{{PersonID: "E1", Department: "Ops", Change: moved, Position: retracted.Position, Withdrawn: true}}
	if got := nextChanges(t, ch, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("after the retraction:\n got %+v\nwant %+v", got, want)
	}
}

// testBulkCatchUpWithdrawsNothing: what a bulk catch-up supersedes is
// history, like what it reveals: no withdrawal is published.
func testBulkCatchUpWithdrawsNothing(t *testing.T, e *Env) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.Register("E1", "Ops", "2015-01-01")
	themeID := level3(e, "E1")
	ch := e.Changes.Subscribe(sctx)
	e.StopProjector()
	// What level3's batches announced may reach ch after its wait (they
	// are published after the commit it waits for); the stopped projector
	// sends nothing more.
	for len(ch) > 0 {
		<-ch
	}
	if _, err := e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: themeID, Reason: "entered twice"}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: Assessment(domain.StressManagement, domain.Basic, "2016-03-01")})
	if err != nil {
		t.Fatal(err)
	}
	// Resuming with a backlog of two events, one per batch: in bulk.
	e.Bulk, e.BulkAbove, e.MaxBatch = true, 0, 1
	e.StartProjector()
	e.Wait(res.Position)
	if e.Deferred.Load() == 0 {
		t.Fatal("no batch was deferred: the catch-up was not in bulk")
	}
	f := domain.SystemOperation
	if h, _ := e.Store.History(ctx, "E1", &f); len(h) != 1 || h[0].To != 2 {
		t.Fatalf("history after the catch-up = %+v, want only 0->2: nothing was superseded", h)
	}
	select {
	case c := <-ch:
		t.Fatalf("the bulk catch-up published %+v", c)
	case <-time.After(100 * time.Millisecond):
	}
}

// testDistributionsKnownAt takes the read model's distributions (every
// field, every department and each one) after each command of a history
// with back-dated evidence, transfers, an amendment, a retraction and a
// departure, and asks DistributionsKnownAt for each of those instants at
// the end: the replay must give back exactly what the read model answered
// then.
func testDistributionsKnownAt(t *testing.T, e *Env) {
	dates := []domain.Date{domain.MustDate("2015-01-01"), domain.MustDate("2015-06-01"), domain.MustDate("2016-03-01"),
		domain.MustDate("2017-01-01"), domain.MustDate("2017-07-01"), domain.MustDate("2020-01-01"),
		domain.MustDate("2023-06-01"), domain.MustDate("2024-01-01"), Today}
	depts := []string{"", "Ops", "Net", "Nowhere"}
	// The people filters compared, each walked a page of one at a time.
	var filters []projections.PeopleFilter
	for _, d := range depts {
		for _, on := range []domain.Date{dates[1], dates[4], dates[7], Today} {
			filters = append(filters,
				projections.PeopleFilter{Department: d, AsOf: on, First: 1},
				projections.PeopleFilter{Department: d, AsOf: on, First: 1, MinLevel: 1},
				projections.PeopleFilter{Department: d, AsOf: on, First: 1, MinLevel: 2, Field: domain.NetworkOperation},
				projections.PeopleFilter{Department: d, AsOf: on, First: 1, MinLevel: 1, Field: domain.SystemOperation})
		}
	}
	walk := func(f projections.PeopleFilter, page func(projections.PeopleFilter) (projections.PeoplePage, error)) string {
		t.Helper()
		var out []string
		for {
			p, err := page(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d %v %+v", p.TotalCount, p.HasNext, p.People))
			if !p.HasNext {
				return strings.Join(out, "; ")
			}
			f.After = p.People[len(p.People)-1].ID
		}
	}
	type snapshot struct {
		at     time.Time
		dist   map[string][][]projections.Cell // field/department -> per date
		people []string                        // per filter, its pages
	}
	var snaps []snapshot
	take := func() {
		t.Helper()
		s := snapshot{at: e.Clock.Peek(), dist: map[string][][]projections.Cell{}}
		for _, f := range filters {
			s.people = append(s.people, walk(f, func(f projections.PeopleFilter) (projections.PeoplePage, error) {
				return e.Store.People(ctx, f)
			}))
		}
		for _, f := range e.Cat.Fields() {
			for _, d := range depts {
				pts, err := projections.Trend(ctx, e.Store, f, dates, d)
				if err != nil {
					t.Fatal(err)
				}
				s.dist[string(f)+"/"+d] = pts
			}
		}
		snaps = append(snaps, s)
	}
	take() // nothing known yet
	e.Register("E1", "Ops", "2015-01-01")
	take()
	e.Register("E2", "Ops", "2015-01-01")
	take()
	e.Record("E1", Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
		domain.OperationRequirements, domain.OperationSystems))
	take()
	e.Record("E1", Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"))
	take()
	theme := e.Record("E1", Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01")).AccomplishmentID
	take()
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Net", EffectiveOn: domain.MustDate("2020-01-01")}))
	take()
	// Back-dated: E2 reaches level 2 from 2016.
	e.Record("E2", Engagement(domain.NetworkOperation, domain.Member, "2015-03-01", "2016-02-01", domain.Successful, true,
		domain.NetworkRequirements, domain.ApplicationRequirements))
	e.Record("E2", Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-03-01"))
	take()
	e.Must(e.Recorder.AmendAccomplishment(ctx, events.AmendAccomplishment{AccomplishmentID: theme,
		Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
			th := *a.Assessment
			th.AssessedOn = domain.MustDate("2021-01-01")
			return domain.Accomplishment{Assessment: &th}, nil
		}}))
	take()
	e.Must(e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: theme, Reason: "not assessed"}))
	take()
	e.Must(e.Recorder.RecordDeparture(ctx, events.RecordDeparture{PersonID: "E2", EffectiveOn: domain.MustDate("2024-01-01")}))
	take()
	// Back-dated to the day E1 joined: Ops no longer holds E1 on any day,
	// though it did as known before.
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E1", Department: "Net", EffectiveOn: domain.MustDate("2015-01-01")}))
	take()
	e.Register("E3", "Ops", "2023-01-01")
	take()

	changed, listed := 0, 0
	for i, s := range snaps {
		if i > 0 && !reflect.DeepEqual(s.dist, snaps[i-1].dist) {
			changed++
		}
		if i > 0 && !slices.Equal(s.people, snaps[i-1].people) {
			listed++
		}
		for j, f := range filters {
			got := walk(f, func(f projections.PeopleFilter) (projections.PeoplePage, error) {
				all, err := projections.PeopleKnownAt(ctx, e.Store, e.Cat, f, s.at)
				return projections.PageOf(all, f), err
			})
			if got != s.people[j] {
				t.Errorf("people %+v as known at step %d: %s, the read model answered %s", f, i, got, s.people[j])
			}
		}
		for _, f := range e.Cat.Fields() {
			for _, d := range depts {
				got, err := projections.DistributionsKnownAt(ctx, e.Store, e.Cat, f, dates, d, s.at)
				if err != nil {
					t.Fatal(err)
				}
				want := s.dist[string(f)+"/"+d]
				for j := range dates {
					if len(got[j]) != len(want[j]) || len(got[j]) > 0 && !reflect.DeepEqual(got[j], want[j]) {
						t.Errorf("%s/%s on %s as known at step %d: %v, the read model answered %v", f, d, dates[j], i, got[j], want[j])
					}
				}
			}
		}
	}
	if changed < 10 || listed < 10 {
		t.Errorf("the distributions changed at %d and the people lists at %d of %d steps: the history does not exercise the replay", changed, listed, len(snaps)-1)
	}
}

// testHistory: the store keeps each person's events as the log has them
// (positions, keys, who recorded them, when, and the events themselves), so
// that a Recorder reads a person from it up to its checkpoint and only the
// rest from the log, and answers a retried key as the log would.
func testHistory(t *testing.T, e *Env) {
	e.Register("E1", "Ops", "2015-01-01")
	by := events.WithActor(ctx, "manager-7")
	first := e.Must(e.Recorder.RecordAccomplishment(by, events.RecordAccomplishment{PersonID: "E1", IdempotencyKey: "k1",
		Accomplishment: domain.Accomplishment{Assessment: &domain.ThemeAssessment{Theme: domain.StressManagement, Proficiency: domain.Practice, AssessedOn: domain.MustDate("2020-03-01")}}}))
	id := level3(e, "E1")
	e.Must(e.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: id, Reason: "wrong person", IdempotencyKey: "k2"}))
	last := e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E1", Department: "Net", EffectiveOn: domain.MustDate("2021-01-01")}))
	e.Wait(last.Position)

	logged, _, err := e.Log.Load(ctx, "E1")
	if err != nil {
		t.Fatal(err)
	}
	// As careerd reads it: through the Switch that serves the store.
	for _, h := range []events.History{projections.History(e.Store), projections.NewSwitch(e.Store)} {
		rs, upTo, err := h.PersonHistory(ctx, "E1")
		if err != nil || upTo < last.Position {
			t.Fatalf("%T.PersonHistory: up to %d (the person's last event at %d), %v", h, upTo, last.Position, err)
		}
		if len(rs) != len(logged) {
			t.Fatalf("%T: the store holds %d of E1's events, the log %d", h, len(rs), len(logged))
		}
		for i := range rs {
			got, want := rs[i], logged[i]
			got.StoredAt, want.StoredAt = time.Time{}, time.Time{} // the server's stamp, for lag only
			if !got.RecordedAt.Equal(want.RecordedAt) {
				t.Errorf("event %d recorded at %s, the log says %s", i, got.RecordedAt, want.RecordedAt)
			}
			got.RecordedAt = want.RecordedAt // compared above (the locations differ)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
	}
	if none, _, err := projections.History(e.Store).PersonHistory(ctx, "NOBODY"); err != nil || len(none) != 0 {
		t.Errorf("PersonHistory(NOBODY) = %+v, %v", none, err)
	}

	r := events.NewRecorder(e.Log, e.Cat, e.Clock.Now)
	h := &askedHistory{History: projections.NewSwitch(e.Store)}
	r.History = h
	again, err := r.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", IdempotencyKey: "k1",
		Accomplishment: domain.Accomplishment{Assessment: &domain.ThemeAssessment{Theme: domain.StressManagement, Proficiency: domain.Practice, AssessedOn: domain.MustDate("2020-03-01")}}})
	if err != nil || !again.Duplicate || again.Position != first.Position {
		t.Errorf("retry of k1 through the history = %+v, %v; want the duplicate of %+v", again, err, first)
	}
	if h.asked != 1 || h.failed != 0 {
		t.Errorf("the history was asked %d times and failed %d: want once, answered", h.asked, h.failed)
	}
}

// askedHistory counts the reads of a History and their failures.
type askedHistory struct {
	events.History
	asked, failed int
}

func (h *askedHistory) PersonHistory(ctx context.Context, personID string) ([]events.Recorded, uint64, error) {
	h.asked++
	rs, upTo, err := h.History.PersonHistory(ctx, personID)
	if err != nil {
		h.failed++
	}
	return rs, upTo, err
}

func testFirstRecordedAt(t *testing.T, e *Env) {
	if got, err := e.Store.FirstRecordedAt(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("FirstRecordedAt of nobody = %v, %v; want none", got, err)
	}
	e.Register("E1", "Ops", "2015-01-01") // the registration is E1's only event
	e.Register("E2", "Ops", "2015-01-01")
	for i := range 12 {
		e.Record("E2", Assessment(domain.Themes[i%len(domain.Themes)], domain.Basic, "2016-01-01"))
	}
	e.Must(e.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Net", EffectiveOn: domain.MustDate("2020-01-01")}))
	ids := []string{"E2", "nobody", "E1", "E2", "not a person id"}
	check := func(name string, rm interface {
		FirstRecordedAt(context.Context, []string) (map[string]time.Time, error)
	}, want map[string]time.Time) {
		t.Helper()
		got, err := rm.FirstRecordedAt(ctx, ids)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: FirstRecordedAt = %v, want %v (nobody unknown)", name, got, want)
		}
		for id, at := range want {
			if !got[id].Equal(at) {
				t.Errorf("%s: %s first recorded at %s, want %s", name, id, got[id], at)
			}
		}
	}
	firsts := func() map[string]time.Time {
		t.Helper()
		all, err := e.Store.PersonEvents(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for id, rs := range all {
			out[id] = rs[0].RecordedAt
		}
		return out
	}
	want := firsts()
	if len(want) != 2 || !want["E1"].Before(want["E2"]) {
		t.Fatalf("first events by PersonEvents: %v", want)
	}
	all, _ := e.Store.PersonEvents(ctx, []string{"E2"})
	if n := len(all["E2"]); n != 14 || !all["E2"][n-1].RecordedAt.After(want["E2"]) {
		t.Fatalf("E2 has %d events, the last recorded at %s", n, all["E2"][n-1].RecordedAt)
	}
	check("store", e.Store, want)
	check("switch", projections.NewSwitch(e.Store), want)

	// Events stored by a bulk catch-up, their people not written yet, count
	// too, as they do for PersonEvents: a new person's and a later one of
	// E1 (E1's first stays the registration).
	e.StopProjector()
	cp, err := e.Store.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := e.Clock.Now()
	if err := e.Store.ApplyEvents(ctx, cp+2, []events.Recorded{
		{Position: cp + 1, PersonID: "E1", RecordedAt: at, Type: "PersonTransferred", Version: 1,
			Event: events.PersonTransferred{PersonID: "E1", Department: "Net", EffectiveOn: domain.MustDate("2021-01-01")}},
		{Position: cp + 2, PersonID: "E3", RecordedAt: at.Add(time.Second), Type: "PersonRegistered", Version: 1,
			Event: events.PersonRegistered{PersonID: "E3", Name: "Person E3", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}},
	}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, "E3")
	want = firsts()
	if len(want) != 3 || !want["E3"].Equal(at.Add(time.Second)) || !want["E1"].Before(at) {
		t.Fatalf("first events by PersonEvents after a bulk batch: %v", want)
	}
	check("store after a bulk batch", e.Store, want)
}
