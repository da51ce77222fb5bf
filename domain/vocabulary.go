package domain

// The vocabulary below is fixed by the product's outer contract (the GraphQL
// enums). Which codes count toward which level, and every threshold, is data
// in the catalogue; these types only say which words exist and, where the
// standard orders them, in which order.

// Field is a specialty field of the Operations job category.
type Field string

// The specialty fields.
const (
	SystemOperation  Field = "SYSTEM_OPERATION"
	NetworkOperation Field = "NETWORK_OPERATION"
	ServiceDesk      Field = "SERVICE_DESK"
)

// Fields lists every specialty field in the contract's order.
var Fields = []Field{SystemOperation, NetworkOperation, ServiceDesk}

// Valid reports whether f is a known field.
func (f Field) Valid() bool { return indexOf(Fields, f) >= 0 }

// Role is a person's role on an engagement; roles are ordered and a higher
// role satisfies a lower requirement.
type Role string

// The roles, lowest first.
const (
	Participant  Role = "PARTICIPANT"
	Practitioner Role = "PRACTITIONER"
	Member       Role = "MEMBER"
	Lead         Role = "LEAD"
)

// Roles lists the roles, lowest first.
var Roles = []Role{Participant, Practitioner, Member, Lead}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return indexOf(Roles, r) >= 0 }

// Rank orders roles: PARTICIPANT is 1, LEAD is 4, unknown is 0.
func (r Role) Rank() int { return indexOf(Roles, r) + 1 }

// Outcome is how an engagement ended (or that it has not).
type Outcome string

// The outcomes.
const (
	Successful   Outcome = "SUCCESSFUL"
	Unsuccessful Outcome = "UNSUCCESSFUL"
	Ongoing      Outcome = "ONGOING"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Successful, Unsuccessful, Ongoing}

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool { return indexOf(Outcomes, o) >= 0 }

// Criterion is a complexity criterion code an engagement can meet.
type Criterion string

// The complexity criteria.
const (
	OperationRequirements   Criterion = "OPERATION_REQUIREMENTS"
	OperationSystems        Criterion = "OPERATION_SYSTEMS"
	SupportedSystem         Criterion = "SUPPORTED_SYSTEM"
	NetworkRequirements     Criterion = "NETWORK_REQUIREMENTS"
	ApplicationRequirements Criterion = "APPLICATION_REQUIREMENTS"
	Organization            Criterion = "ORGANIZATION"
	Contract                Criterion = "CONTRACT"
)

// Criteria lists every complexity criterion.
var Criteria = []Criterion{OperationRequirements, OperationSystems, SupportedSystem,
	NetworkRequirements, ApplicationRequirements, Organization, Contract}

// Valid reports whether c is a known criterion code.
func (c Criterion) Valid() bool { return indexOf(Criteria, c) >= 0 }

// Theme is a management theme whose proficiency is assessed.
type Theme string

// The themes.
const (
	ServiceSupportManagement   Theme = "SERVICE_SUPPORT_MANAGEMENT"
	ServiceLevelManagement     Theme = "SERVICE_LEVEL_MANAGEMENT"
	SystemOperationManagement  Theme = "SYSTEM_OPERATION_MANAGEMENT"
	NetworkOperationManagement Theme = "NETWORK_OPERATION_MANAGEMENT"
	StressManagement           Theme = "STRESS_MANAGEMENT"
	InformationAssetManagement Theme = "INFORMATION_ASSET_MANAGEMENT"
	CustomerSatisfaction       Theme = "CUSTOMER_SATISFACTION"
	SubcontractManagement      Theme = "SUBCONTRACT_MANAGEMENT"
	ContractManagement         Theme = "CONTRACT_MANAGEMENT"
)

// Themes lists every theme.
var Themes = []Theme{ServiceSupportManagement, ServiceLevelManagement, SystemOperationManagement,
	NetworkOperationManagement, StressManagement, InformationAssetManagement, CustomerSatisfaction,
	SubcontractManagement, ContractManagement}

// Valid reports whether t is a known theme.
func (t Theme) Valid() bool { return indexOf(Themes, t) >= 0 }

// Proficiency is an assessed proficiency in a theme, ordered.
type Proficiency string

// The proficiencies, lowest first.
const (
	Basic              Proficiency = "BASIC"
	Practice           Proficiency = "PRACTICE"
	GuidesSubordinates Proficiency = "GUIDES_SUBORDINATES"
	GuidesOthers       Proficiency = "GUIDES_OTHERS"
)

// Proficiencies lists the proficiencies, lowest first.
var Proficiencies = []Proficiency{Basic, Practice, GuidesSubordinates, GuidesOthers}

// Valid reports whether p is a known proficiency.
func (p Proficiency) Valid() bool { return indexOf(Proficiencies, p) >= 0 }

// Rank orders proficiencies: BASIC is 1, GUIDES_OTHERS is 4, unknown is 0.
func (p Proficiency) Rank() int { return indexOf(Proficiencies, p) + 1 }

// SuccessionKind is a kind of technology-succession item.
type SuccessionKind string

// The technology-succession kinds.
const (
	CommunityActivity  SuccessionKind = "COMMUNITY_ACTIVITY"
	Book               SuccessionKind = "BOOK"
	ExternalPaper      SuccessionKind = "EXTERNAL_PAPER"
	InternalPaper      SuccessionKind = "INTERNAL_PAPER"
	ExternalTalk       SuccessionKind = "EXTERNAL_TALK"
	InternalInstructor SuccessionKind = "INTERNAL_INSTRUCTOR"
	PatentApplication  SuccessionKind = "PATENT_APPLICATION"
)

// SuccessionKinds lists every technology-succession kind.
var SuccessionKinds = []SuccessionKind{CommunityActivity, Book, ExternalPaper, InternalPaper,
	ExternalTalk, InternalInstructor, PatentApplication}

// Valid reports whether k is a known kind.
func (k SuccessionKind) Valid() bool { return indexOf(SuccessionKinds, k) >= 0 }

// DevelopmentKind is a kind of subordinate development.
type DevelopmentKind string

// The subordinate-development kinds.
const (
	Mentoring DevelopmentKind = "MENTORING"
	Coaching  DevelopmentKind = "COACHING"
)

// DevelopmentKinds lists every subordinate-development kind.
var DevelopmentKinds = []DevelopmentKind{Mentoring, Coaching}

// Valid reports whether k is a known kind.
func (k DevelopmentKind) Valid() bool { return indexOf(DevelopmentKinds, k) >= 0 }

func indexOf[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}
