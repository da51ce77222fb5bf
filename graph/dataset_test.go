package graph_test

import (
	"testing"
	"time"
)

// Selections shared by the suite.
const (
	accomplishmentFields = `fragment A on Accomplishment {
  id kind personId position recordedAt amendedAt retracted retractionReason
  ... on Engagement { field title role startedOn completedOn outcome withinBudget peakHeadcount
    annualContractValueYen installationSites inquiriesPerYear complexity }
  ... on TechnologySuccession { successionKind title occurredOn fields }
  ... on SubordinateDevelopment { developmentKind occurredOn subordinateId }
  ... on ThemeAssessment { theme proficiency assessedOn }
}`
	standingFields = `fragment S on FieldStanding {
  field level attainedOn catalogueId catalogueVersion
  criteria { ...C }
  next { level criteria { ...C } }
}
fragment C on CriterionResult { criterion met evidence missing }`

	personPayload = `{ position person { id name joinedOn department memberships { department from to } standing { field level attainedOn } } }`
	accPayload    = `{ position accomplishmentId person { id department standing { field level attainedOn } } accomplishment { ...A } }`
)

// The mutations, each selecting its whole payload.
var (
	mRegister    = `mutation($in: RegisterPersonInput!) { registerPerson(input: $in) ` + personPayload + ` }`
	mTransfer    = `mutation($in: TransferPersonInput!) { transferPerson(input: $in) ` + personPayload + ` }`
	mDeparture   = `mutation($in: RecordDepartureInput!) { recordDeparture(input: $in) ` + personPayload + ` }`
	mEngagement  = `mutation($in: RecordEngagementInput!) { recordEngagement(input: $in) ` + accPayload + ` }` + accomplishmentFields
	mSuccession  = `mutation($in: RecordTechnologySuccessionInput!) { recordTechnologySuccession(input: $in) ` + accPayload + ` }` + accomplishmentFields
	mDevelopment = `mutation($in: RecordSubordinateDevelopmentInput!) { recordSubordinateDevelopment(input: $in) ` + accPayload + ` }` + accomplishmentFields
	mAssess      = `mutation($in: AssessThemeInput!) { assessTheme(input: $in) ` + accPayload + ` }` + accomplishmentFields
	mAmend       = `mutation($in: AmendAccomplishmentInput!) { amendAccomplishment(input: $in) ` + accPayload + ` }` + accomplishmentFields
	mRetract     = `mutation($in: RetractAccomplishmentInput!) { retractAccomplishment(input: $in) ` + accPayload + ` }` + accomplishmentFields
)

// mutationField is the payload field of each mutation above.
var mutationField = map[*string]string{
	&mRegister: "registerPerson", &mTransfer: "transferPerson", &mDeparture: "recordDeparture",
	&mEngagement: "recordEngagement", &mSuccession: "recordTechnologySuccession",
	&mDevelopment: "recordSubordinateDevelopment", &mAssess: "assessTheme",
	&mAmend: "amendAccomplishment", &mRetract: "retractAccomplishment",
}

// mutate runs a mutation as token, requires success and returns the
// response; with a label, the accomplishment it recorded is named so for
// golden comparison.
func (e *env) mutate(t *testing.T, token string, m *string, in map[string]any, label string) response {
	t.Helper()
	r := e.gql(t, token, *m, map[string]any{"in": in}).ok(t)
	if label != "" {
		id, _ := field(t, r.Data, mutationField[m]+".accomplishmentId").(string)
		if id == "" {
			t.Fatalf("no accomplishmentId in %s", r.Data)
		}
		e.label(id, label)
	}
	return r
}

// dataset is what buildDataset recorded.
type dataset struct {
	// ids of labelled accomplishments, by label
	acc map[string]string
	// knownAtBeforeAmend is an instant between E1001's evidence and the
	// amendment that lifted SYSTEM_OPERATION to level 5.
	knownAtBeforeAmend string
	// payloads of the first mutation of each kind, by mutation field
	payloads map[string]response
}

// buildDataset records a small organisation through the API, in a fixed
// order, as admin (and hr for a few):
//
//	Operations:  E1001 Aiko Sato   SYSTEM_OPERATION 5 (after an amendment), others 2
//	             E1002 Ben Tanaka  SYSTEM_OPERATION 3, others 2; transferred to Network on 2025-10-01
//	Network:     E1003 Chika Ito   NETWORK_OPERATION 4, others 2; one engagement retracted
//	             E1006 Fumi Abe    nothing recorded: level 0
//	ServiceDesk: E1004 Daichi Mori level 1 (ongoing engagement)
//	             E1005 Emi Kato    SERVICE_DESK 3; departed on 2025-12-31
func buildDataset(t *testing.T, e *env) *dataset {
	t.Helper()
	ds := &dataset{acc: map[string]string{}, payloads: map[string]response{}}
	adm, h := e.token(t, admin), e.token(t, hr)
	keep := func(name string, r response) {
		if _, ok := ds.payloads[name]; !ok {
			ds.payloads[name] = r
		}
	}
	rec := func(tok string, m *string, label string, in map[string]any) string {
		t.Helper()
		r := e.mutate(t, tok, m, in, label)
		keep(mutationField[m], r)
		id, _ := field(t, r.Data, mutationField[m]+".accomplishmentId").(string)
		if label != "" {
			ds.acc[label] = id
		}
		return id
	}
	register := func(id, name, dept, joined string) {
		rec(adm, &mRegister, "", map[string]any{"id": id, "name": name, "department": dept, "joinedOn": joined})
	}
	register("E1001", "Aiko Sato", "Operations", "2015-04-01")
	register("E1002", "Ben Tanaka", "Operations", "2018-10-01")
	register("E1003", "Chika Ito", "Network", "2017-07-01")
	register("E1004", "Daichi Mori", "ServiceDesk", "2020-01-06")
	register("E1005", "Emi Kato", "ServiceDesk", "2016-02-01")
	register("E1006", "Fumi Abe", "Network", "2024-04-01")

	// E1001: a large system-operation engagement, first recorded too small
	// for level 5 and amended later.
	rec(adm, &mEngagement, "ENG_SO_LEAD", map[string]any{
		"personId": "E1001", "field": "SYSTEM_OPERATION", "title": "Core banking operations", "role": "LEAD",
		"startedOn": "2019-04-01", "completedOn": "2021-03-31", "outcome": "SUCCESSFUL", "withinBudget": true,
		"peakHeadcount": 8, "annualContractValueYen": 50_000_000, "complexity": []string{"OPERATION_REQUIREMENTS", "OPERATION_SYSTEMS", "CONTRACT"},
	})
	rec(adm, &mAssess, "THEME_SOM", map[string]any{
		"personId": "E1001", "theme": "SYSTEM_OPERATION_MANAGEMENT", "proficiency": "GUIDES_OTHERS", "assessedOn": "2022-01-15"})
	rec(h, &mSuccession, "SUCC_BOOK", map[string]any{
		"personId": "E1001", "kind": "BOOK", "title": "Operating at scale", "occurredOn": "2020-06-01", "fields": []string{"SYSTEM_OPERATION"}})
	rec(h, &mSuccession, "SUCC_TALK", map[string]any{
		"personId": "E1001", "kind": "EXTERNAL_TALK", "title": "Keynote, OpsConf", "occurredOn": "2021-09-10", "fields": []string{"SYSTEM_OPERATION"}})
	rec(h, &mSuccession, "SUCC_PAPER", map[string]any{
		"personId": "E1001", "kind": "INTERNAL_PAPER", "title": "Runbooks that run", "occurredOn": "2022-03-01", "fields": []string{"SYSTEM_OPERATION", "SERVICE_DESK"}})
	rec(adm, &mDevelopment, "DEV_MENTOR", map[string]any{
		"personId": "E1001", "kind": "MENTORING", "occurredOn": "2021-05-01", "subordinateId": "E1002"})
	ds.knownAtBeforeAmend = e.Clock.Peek().UTC().Format(time.RFC3339)
	rec(adm, &mAmend, "", map[string]any{"accomplishmentId": ds.acc["ENG_SO_LEAD"], "peakHeadcount": 12})

	// E1002: level 2 on an ongoing service-desk engagement, level 3 in
	// system operation; then transferred.
	rec(adm, &mEngagement, "ENG_SD_ONGOING", map[string]any{
		"personId": "E1002", "field": "SERVICE_DESK", "title": "Helpdesk rota", "role": "PRACTITIONER",
		"startedOn": "2024-01-10", "outcome": "ONGOING", "withinBudget": true, "inquiriesPerYear": 1200, "complexity": []string{}})
	rec(adm, &mAssess, "THEME_SSM", map[string]any{
		"personId": "E1002", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2024-02-01"})
	rec(adm, &mEngagement, "ENG_SO_MEMBER", map[string]any{
		"personId": "E1002", "field": "SYSTEM_OPERATION", "title": "Batch migration", "role": "MEMBER",
		"startedOn": "2024-06-01", "completedOn": "2025-03-31", "outcome": "SUCCESSFUL", "withinBudget": false,
		"complexity": []string{"OPERATION_REQUIREMENTS", "APPLICATION_REQUIREMENTS"}})
	rec(adm, &mAssess, "THEME_STRESS", map[string]any{
		"personId": "E1002", "theme": "STRESS_MANAGEMENT", "proficiency": "PRACTICE", "assessedOn": "2025-04-15"})
	rec(adm, &mTransfer, "", map[string]any{"personId": "E1002", "department": "Network", "effectiveOn": "2025-10-01"})

	// E1003: network operation level 4; a mistaken engagement retracted.
	rec(adm, &mEngagement, "ENG_NO_LEAD", map[string]any{
		"personId": "E1003", "field": "NETWORK_OPERATION", "title": "Campus network", "role": "LEAD",
		"startedOn": "2022-01-10", "completedOn": "2023-12-31", "outcome": "SUCCESSFUL", "withinBudget": true,
		"peakHeadcount": 6, "installationSites": 40, "annualContractValueYen": 3_000_000_000, "complexity": []string{"NETWORK_REQUIREMENTS", "CONTRACT"}})
	rec(adm, &mAssess, "THEME_NOM", map[string]any{
		"personId": "E1003", "theme": "NETWORK_OPERATION_MANAGEMENT", "proficiency": "GUIDES_SUBORDINATES", "assessedOn": "2024-01-20"})
	rec(adm, &mAssess, "THEME_IAM", map[string]any{
		"personId": "E1003", "theme": "INFORMATION_ASSET_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2018-03-01"})
	rec(adm, &mSuccession, "SUCC_EXT_PAPER", map[string]any{
		"personId": "E1003", "kind": "EXTERNAL_PAPER", "title": "Routing at the edge", "occurredOn": "2023-05-05", "fields": []string{"NETWORK_OPERATION", "SYSTEM_OPERATION"}})
	rec(adm, &mDevelopment, "DEV_COACH", map[string]any{"personId": "E1003", "kind": "COACHING", "occurredOn": "2024-03-01"})
	rec(adm, &mEngagement, "ENG_WRONG", map[string]any{
		"personId": "E1003", "field": "SERVICE_DESK", "title": "Recorded for the wrong person", "role": "LEAD",
		"startedOn": "2020-01-01", "completedOn": "2020-12-31", "outcome": "SUCCESSFUL", "withinBudget": true,
		"complexity": []string{"SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS"}})
	rec(adm, &mRetract, "", map[string]any{"accomplishmentId": ds.acc["ENG_WRONG"], "reason": "recorded for the wrong person"})

	// E1004: level 1 from an ongoing engagement as a participant.
	rec(adm, &mEngagement, "ENG_SD_PARTICIPANT", map[string]any{
		"personId": "E1004", "field": "SERVICE_DESK", "title": "First-line support", "role": "PARTICIPANT",
		"startedOn": "2025-02-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}})
	rec(adm, &mAssess, "THEME_IAM_BASIC", map[string]any{
		"personId": "E1004", "theme": "INFORMATION_ASSET_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-03-01"})

	// E1005: service desk level 3, then departed.
	rec(adm, &mEngagement, "ENG_SD_MEMBER", map[string]any{
		"personId": "E1005", "field": "SERVICE_DESK", "title": "Multi-vendor desk", "role": "MEMBER",
		"startedOn": "2021-04-01", "completedOn": "2022-09-30", "outcome": "SUCCESSFUL", "withinBudget": true,
		"inquiriesPerYear": 2400, "complexity": []string{"SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS"}})
	rec(adm, &mAssess, "THEME_CS", map[string]any{
		"personId": "E1005", "theme": "CUSTOMER_SATISFACTION", "proficiency": "PRACTICE", "assessedOn": "2022-10-10"})
	rec(adm, &mDeparture, "", map[string]any{"personId": "E1005", "effectiveOn": "2025-12-31"})
	return ds
}
