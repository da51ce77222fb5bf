package domain_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/careerledger/careerledger/domain"
)

func ExampleDefaultCatalogue() {
	c := domain.DefaultCatalogue()
	fmt.Println(c.ID(), c.Version(), c.Fields())
	for _, l := range c.Levels() {
		fmt.Println("level", l.Level, "common:", l.Common)
	}
	// Output:
	// itss-operations 1 [SYSTEM_OPERATION NETWORK_OPERATION SERVICE_DESK]
	// level 1 common: true
	// level 2 common: true
	// level 3 common: false
	// level 4 common: false
	// level 5 common: false
}

func ExampleParseCatalogue() {
	doc := strings.Replace(string(domain.DefaultCatalogueJSON()), `"minRole": "LEAD"`, `"minRole": "BOSS"`, 1)
	_, err := domain.ParseCatalogue([]byte(doc))
	fmt.Println(err)
	// Output:
	// catalogue line 98: levels[3].fields.SYSTEM_OPERATION.engagement.minRole: unknown role "BOSS" (one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD)
}

func ExampleCatalogue_Evaluate() {
	ev := domain.Evidence{
		Engagements: []domain.Engagement{{ID: "e1", Field: domain.NetworkOperation, Title: "WAN refresh",
			Role: domain.Member, StartedOn: domain.MustDate("2021-04-01"), CompletedOn: domain.MustDate("2022-03-31"),
			Outcome: domain.Successful, Complexity: []domain.Criterion{domain.NetworkRequirements, domain.Organization}}},
		Assessments: []domain.ThemeAssessment{{ID: "a1", Theme: domain.NetworkOperationManagement,
			Proficiency: domain.Practice, AssessedOn: domain.MustDate("2022-01-15")}},
	}
	s := domain.DefaultCatalogue().Evaluate(ev, domain.MustDate("2024-06-30"))
	no, _ := s.Field(domain.NetworkOperation)
	fmt.Println(no.Field, "level", no.Level, "since", no.AttainedOn)
	for _, c := range no.Criteria {
		fmt.Println(" ", c.Criterion, c.Met, c.Evidence)
	}
	for _, c := range no.Next.Criteria {
		if !c.Met {
			fmt.Println("  level", no.Next.Level, c.Criterion+":", c.Missing)
		}
	}
	// Output:
	// NETWORK_OPERATION level 3 since 2022-03-31
	//   engagement true [e1]
	//   themes true [a1]
	//   level 4 engagement: needs a SUCCESSFUL engagement within budget in NETWORK_OPERATION as LEAD meeting >= 2 of: NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT, completed on or before 2024-06-30; closest: e1 "WAN refresh" lacks role LEAD (is MEMBER), being within budget
	//   level 4 themes: needs an assessment of one of SERVICE_LEVEL_MANAGEMENT, NETWORK_OPERATION_MANAGEMENT, STRESS_MANAGEMENT, INFORMATION_ASSET_MANAGEMENT at GUIDES_SUBORDINATES or higher (best: NETWORK_OPERATION_MANAGEMENT at PRACTICE)
	//   level 4 technologySuccession: needs a technology-succession item for NETWORK_OPERATION
	//   level 4 subordinateDevelopment: needs a subordinate-development record (MENTORING or COACHING)
}

func ExampleCatalogue_Timeline() {
	ev := domain.Evidence{
		Engagements: []domain.Engagement{{ID: "e1", Field: domain.ServiceDesk, Title: "help desk",
			Role: domain.Practitioner, StartedOn: domain.MustDate("2020-04-01"), Outcome: domain.Ongoing}},
		Assessments: []domain.ThemeAssessment{
			{ID: "a1", Theme: domain.ServiceSupportManagement, Proficiency: domain.Basic, AssessedOn: domain.MustDate("2020-06-01")},
		},
	}
	c := domain.DefaultCatalogue()
	for _, ch := range c.Timeline(ev) {
		fmt.Println(ch.On, ch.Field, ch.From, "->", ch.To)
	}
	fmt.Println(c.LevelOn(ev, domain.SystemOperation, domain.MustDate("2020-05-31")))
	// Output:
	// 2020-06-01 SYSTEM_OPERATION 0 -> 2
	// 2020-06-01 NETWORK_OPERATION 0 -> 2
	// 2020-06-01 SERVICE_DESK 0 -> 2
	// 0
}

func ExampleCatalogue_LevelPeriods() {
	ev := level5(domain.SystemOperation, nil)
	ev.Assessments = append(ev.Assessments, domain.ThemeAssessment{ID: "a2", Theme: domain.ServiceLevelManagement,
		Proficiency: domain.Practice, AssessedOn: domain.MustDate("2023-05-01")})
	for _, p := range domain.DefaultCatalogue().LevelPeriods(ev) {
		fmt.Printf("%s level %d from %s to %q\n", p.Field, p.Level, p.From, p.To)
	}
	// Output:
	// SYSTEM_OPERATION level 5 from 2022-06-01 to "2023-05-01"
	// SYSTEM_OPERATION level 3 from 2023-05-01 to ""
}

func ExampleCatalogue_ValidateAccomplishment() {
	e := domain.Engagement{ID: "e1", Field: domain.ServiceDesk, Title: "desk", Role: domain.Lead,
		StartedOn: domain.MustDate("2023-04-01"), CompletedOn: domain.MustDate("2023-03-01"), Outcome: domain.Successful}
	err := domain.DefaultCatalogue().ValidateAccomplishment(domain.Accomplishment{Engagement: &e}, domain.MustDate("2024-06-30"))
	var de *domain.Error
	if errors.As(err, &de) {
		fmt.Println(de.Field, "|", de.Rule)
	}
	// Output:
	// completedOn | must not be before startedOn
}
