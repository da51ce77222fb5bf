package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The demo generator: a realistic IT operations organisation as bulk
// import lines, deterministic for a seed and a day.

// demoConfig sizes the organisation.
type demoConfig struct {
	People, Departments, Years int
	Seed                       uint64
	Today                      time.Time // the last day anything may happen on
}

// demoLine is one command of the demo. Ref >= 0 marks an amendment or a
// retraction of the accomplishment recorded by line Ref: its
// accomplishmentId is known only once the server has answered that line.
type demoLine struct {
	Op    string
	Input map[string]any
	Ref   int

	on time.Time // when it happened, for ordering
}

// Vocabulary of levels.md.
const (
	fieldSO = "SYSTEM_OPERATION"
	fieldNO = "NETWORK_OPERATION"
	fieldSD = "SERVICE_DESK"
)

var (
	demoFields = []string{fieldSO, fieldNO, fieldSD}
	roles      = []string{"PARTICIPANT", "PRACTITIONER", "MEMBER", "LEAD"}
	// fieldCriteria are the complexity codes each field may use.
	fieldCriteria = map[string][]string{
		fieldSO: {"OPERATION_REQUIREMENTS", "OPERATION_SYSTEMS", "APPLICATION_REQUIREMENTS", "ORGANIZATION", "CONTRACT"},
		fieldNO: {"NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS", "ORGANIZATION", "CONTRACT"},
		fieldSD: {"SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS", "ORGANIZATION", "CONTRACT"},
	}
	commonThemes = []string{"SERVICE_SUPPORT_MANAGEMENT", "SYSTEM_OPERATION_MANAGEMENT", "INFORMATION_ASSET_MANAGEMENT"}
	// fieldThemes are the themes that count for levels 3-5 of each field.
	fieldThemes = map[string][]string{
		fieldSO: {"SERVICE_LEVEL_MANAGEMENT", "SYSTEM_OPERATION_MANAGEMENT", "STRESS_MANAGEMENT", "INFORMATION_ASSET_MANAGEMENT"},
		fieldNO: {"SERVICE_LEVEL_MANAGEMENT", "NETWORK_OPERATION_MANAGEMENT", "STRESS_MANAGEMENT"},
		fieldSD: {"STRESS_MANAGEMENT", "CUSTOMER_SATISFACTION", "SUBCONTRACT_MANAGEMENT", "CONTRACT_MANAGEMENT"},
	}
	proficiencies = []string{"BASIC", "PRACTICE", "GUIDES_SUBORDINATES", "GUIDES_OTHERS"}
	// successionKinds with how often each is produced.
	successionKinds = []struct {
		kind   string
		weight int
	}{
		{"INTERNAL_PAPER", 30}, {"INTERNAL_INSTRUCTOR", 20}, {"EXTERNAL_TALK", 15}, {"COMMUNITY_ACTIVITY", 15},
		{"EXTERNAL_PAPER", 10}, {"PATENT_APPLICATION", 6}, {"BOOK", 4},
	}
)

// demoDepartments are IT operations departments with the field their
// work is mostly in.
var demoDepartments = []struct{ name, field string }{
	{"Data Center Operations", fieldSO},
	{"Network Operations Center", fieldNO},
	{"Service Desk Tokyo", fieldSD},
	{"Mainframe Operations", fieldSO},
	{"WAN Engineering", fieldNO},
	{"Service Desk Osaka", fieldSD},
	{"Cloud Platform Operations", fieldSO},
	{"Branch Network Services", fieldNO},
	{"End User Support", fieldSD},
	{"Batch Operations Center", fieldSO},
	{"Security Operations Center", fieldSO},
	{"Service Desk Fukuoka", fieldSD},
	{"Database Operations", fieldSO},
	{"Data Center Network Team", fieldNO},
	{"IT Helpdesk Shinjuku", fieldSD},
	{"Backup and Storage Operations", fieldSO},
	{"Network Operations Nagoya", fieldNO},
	{"Customer Support Center Sapporo", fieldSD},
	{"Core Banking Systems Operations", fieldSO},
	{"Infrastructure Operations Osaka", fieldSO},
	{"Service Desk Sendai", fieldSD},
	{"Campus Network Services", fieldNO},
	{"ERP Operations", fieldSO},
	{"Multilingual Service Desk Yokohama", fieldSD},
	{"Monitoring Center Hiroshima", fieldSO},
	{"Mobile Network Operations", fieldNO},
	{"Payment Systems Operations", fieldSO},
	{"Service Desk Naha", fieldSD},
}

var (
	familyNames = []string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato",
		"Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu", "Yamazaki",
		"Mori", "Abe", "Ikeda", "Hashimoto", "Yamashita", "Ishikawa", "Nakajima", "Maeda", "Fujita", "Ogawa",
		"Goto", "Okada", "Hasegawa", "Murakami", "Kondo", "Ishii", "Saito", "Sakamoto", "Endo", "Aoki",
		"Fujii", "Nishimura", "Fukuda", "Ota", "Miura", "Fujiwara", "Okamoto", "Matsuda", "Nakagawa", "Nakano"}
	givenNames = []string{"Haruto", "Yuto", "Sota", "Yuki", "Hayato", "Haruki", "Ryusei", "Koki", "Sora", "Sosuke",
		"Riku", "Kaito", "Takumi", "Ren", "Daiki", "Kenta", "Hiroshi", "Takashi", "Makoto", "Satoshi",
		"Kazuya", "Tomoya", "Shota", "Naoki", "Akira", "Yui", "Aoi", "Hina", "Sakura", "Yuna",
		"Mio", "Rin", "Akari", "Emi", "Yoko", "Keiko", "Naomi", "Ayaka", "Misaki", "Haruka",
		"Nanami", "Mai", "Kana", "Saki", "Tomoko", "Yumi", "Kaori", "Megumi", "Noriko", "Aiko"}
	systems = map[string][]string{
		fieldSO: {"Core banking", "Billing platform", "ERP", "Payroll", "Logistics", "Point-of-sale", "E-commerce", "Data warehouse",
			"Mainframe batch", "Customer portal", "HR system", "Reservation system", "Insurance claims", "Trading platform"},
		fieldNO: {"WAN for 120 branches", "Campus LAN", "SD-WAN", "Data center network", "Firewall cluster", "Remote-access VPN",
			"Store network", "Factory network", "Wi-Fi for 40 offices", "MPLS backbone", "DNS and DHCP", "Load balancers"},
		fieldSD: {"a regional bank", "a city office", "a retail chain", "a university", "a hospital group", "a logistics company",
			"an insurance company", "a car manufacturer", "a ministry", "a railway company", "an airline", "a telecom carrier"},
	}
	workKinds = map[string][]string{
		fieldSO: {"operations", "24x7 monitoring", "migration to the new data center", "capacity management", "backup and DR operations",
			"patch management", "job scheduling", "operations automation", "availability improvement"},
		fieldNO: {"operations", "monitoring", "rollout", "renewal", "incident response", "configuration management", "security hardening"},
		fieldSD: {"service desk", "PC lifecycle support", "password and account desk", "VIP support", "onsite support", "incident desk"},
	}
	topics = []string{"incident management", "runbook automation", "capacity planning", "change management", "monitoring design",
		"SLA reporting", "zero-downtime maintenance", "IPv6 migration", "knowledge base design", "shift handover", "root cause analysis",
		"vendor management", "security operations", "backup verification", "ITIL in practice"}
)

// demoPerson is one simulated employee.
type demoPerson struct {
	id, name      string
	dept          int
	joined, left  time.Time // left is zero unless the person departs
	careerStart   time.Time // before joined when experience was brought along
	talent        float64   // 0..1: how fast the career goes and how far
	themes        []string  // the themes the person is assessed on
	profs         map[string]int
	transfers     []time.Time
	transferDepts []int
	field         string
}

type demoGen struct {
	cfg   demoConfig
	r     *rand.Rand
	today time.Time
	start time.Time
	depts []struct{ name, field string }
	ppl   []*demoPerson
	lines []demoLine
}

// generateDemo returns the demo's lines in sending order: registrations,
// then everything else by date, then amendments and retractions (Ref set).
func generateDemo(cfg demoConfig) []demoLine {
	today := cfg.Today.UTC().Truncate(24 * time.Hour)
	g := &demoGen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x5ca1ab1e)), today: today,
		start: today.AddDate(-cfg.Years, 0, 0)}
	g.departments()
	g.people()
	regs := make([]demoLine, 0, len(g.ppl))
	for _, p := range g.ppl {
		regs = append(regs, demoLine{Op: "registerPerson", Ref: -1, on: p.joined, Input: map[string]any{
			"id": p.id, "name": p.name, "department": g.depts[p.dept].name, "joinedOn": date(p.joined)}})
	}
	for _, p := range g.ppl {
		g.career(p)
	}
	slices.SortStableFunc(g.lines, func(a, b demoLine) int { return a.on.Compare(b.on) })
	lines := append(regs, g.lines...)
	lines = append(lines, g.corrections(lines)...)
	// Keys do not depend on the day: the same demo run again, even on
	// another day, records nothing new.
	key := fmt.Sprintf("demo-s%d-p%d-d%d-y%d-", cfg.Seed, cfg.People, cfg.Departments, cfg.Years)
	for i := range lines {
		lines[i].Input["idempotencyKey"] = key + strconv.Itoa(i+1)
	}
	return lines
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

// between returns a uniformly random day in [from, to]; from if to < from.
func (g *demoGen) between(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.r.IntN(days+1))
}

func (g *demoGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *demoGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *demoGen) departments() {
	n := max(g.cfg.Departments, 1)
	for i := range n {
		d := demoDepartments[i%len(demoDepartments)]
		if i >= len(demoDepartments) {
			d.name += " " + strconv.Itoa(i/len(demoDepartments)+1)
		}
		g.depts = append(g.depts, d)
	}
}

func (g *demoGen) people() {
	last := g.today.AddDate(0, 0, -30)
	for range g.cfg.People {
		p := &demoPerson{profs: map[string]int{}}
		p.joined = g.between(g.start, last)
		// Bigger departments first: the first ones get more people.
		p.dept = int(float64(len(g.depts)) * math.Pow(g.r.Float64(), 1.3))
		p.field = g.depts[p.dept].field
		p.name = g.pick(familyNames) + " " + g.pick(givenNames)
		p.talent = (g.r.Float64() + g.r.Float64()) / 2
		p.careerStart = p.joined
		if g.chance(0.3) { // experience brought from elsewhere
			prior := p.joined.AddDate(0, -g.r.IntN(96)-6, 0)
			if prior.Before(g.start) {
				prior = g.start
			}
			p.careerStart = prior
		}
		tenure := g.today.Sub(p.joined).Hours() / 24 / 365.25
		if tenure > 2 && g.chance(0.12) {
			p.left = g.between(p.joined.AddDate(1, 0, 0), g.today.AddDate(0, 0, -30))
		}
		end := g.end(p)
		if g.chance(0.15) && end.Sub(p.joined) > 2*365*24*time.Hour {
			n := 1
			if g.chance(0.2) {
				n = 2
			}
			at := p.joined
			for range n {
				at = g.between(at.AddDate(1, 0, 0), end.AddDate(0, 0, -60))
				if !at.Before(end) {
					break
				}
				p.transfers = append(p.transfers, at)
				p.transferDepts = append(p.transferDepts, g.otherDept(p))
			}
		}
		commonTheme := commonThemes[g.r.IntN(len(commonThemes))]
		if p.field == fieldSO && g.chance(0.5) {
			commonTheme = "SYSTEM_OPERATION_MANAGEMENT"
		}
		p.themes = []string{commonTheme}
		ft := fieldThemes[p.field]
		for _, i := range g.r.Perm(len(ft))[:1+g.r.IntN(2)] {
			if !slices.Contains(p.themes, ft[i]) {
				p.themes = append(p.themes, ft[i])
			}
		}
		g.ppl = append(g.ppl, p)
	}
	// Employee numbers follow the joining order.
	slices.SortStableFunc(g.ppl, func(a, b *demoPerson) int { return a.joined.Compare(b.joined) })
	for i, p := range g.ppl {
		p.id = fmt.Sprintf("E%06d", 100001+i)
	}
}

// otherDept picks a department to transfer to, mostly in the same field.
func (g *demoGen) otherDept(p *demoPerson) int {
	for range 20 {
		d := g.r.IntN(len(g.depts))
		if d != p.dept && (g.depts[d].field == p.field || g.chance(0.2)) {
			return d
		}
	}
	return (p.dept + 1) % len(g.depts)
}

// end is the last day of a person's career here.
func (g *demoGen) end(p *demoPerson) time.Time {
	if !p.left.IsZero() {
		return p.left
	}
	return g.today
}

func (g *demoGen) add(p *demoPerson, op string, on time.Time, input map[string]any) {
	if op != "transferPerson" && op != "recordDeparture" {
		input["personId"] = p.id
	}
	g.lines = append(g.lines, demoLine{Op: op, Input: input, Ref: -1, on: on})
}

// years is the experience a person has on day t, scaled by talent.
func (p *demoPerson) years(t time.Time) float64 {
	y := t.Sub(p.careerStart).Hours() / 24 / 365.25
	return y * (0.55 + 0.9*p.talent)
}

// career simulates a person's engagements, assessments, succession items
// and mentoring from the start of their career to today or departure.
func (g *demoGen) career(p *demoPerson) {
	end := g.end(p)
	for i, at := range p.transfers {
		g.lines = append(g.lines, demoLine{Op: "transferPerson", Ref: -1, on: at, Input: map[string]any{
			"personId": p.id, "department": g.depts[p.transferDepts[i]].name, "effectiveOn": date(at)}})
	}
	if !p.left.IsZero() {
		g.lines = append(g.lines, demoLine{Op: "recordDeparture", Ref: -1, on: p.left, Input: map[string]any{
			"personId": p.id, "effectiveOn": date(p.left)}})
	}
	// Engagements, one after another with short gaps.
	t := p.careerStart.AddDate(0, 0, g.r.IntN(60))
	for t.Before(end) {
		t = g.engagement(p, t, end)
	}
	// Theme assessments every 10 to 20 months after joining.
	for t := p.joined.AddDate(0, 3+g.r.IntN(6), 0); !t.After(end); t = t.AddDate(0, 10+g.r.IntN(11), 0) {
		g.assess(p, t)
	}
	// Technology succession, once experienced.
	for t := p.careerStart.AddDate(4, g.r.IntN(12), 0); !t.After(end); t = t.AddDate(0, 8+g.r.IntN(10), 0) {
		if g.chance(0.03 + 0.35*p.talent*p.talent) {
			g.succession(p, t)
		}
	}
	// Mentoring and coaching, once a team member.
	for t := p.joined.AddDate(2, g.r.IntN(12), 0); !t.After(end); t = t.AddDate(0, 9+g.r.IntN(12), 0) {
		if p.years(t) >= 4.5 && g.chance(0.6) {
			g.develop(p, t)
		}
	}
}

// roleAt is a person's role in an engagement starting on t.
func (g *demoGen) roleAt(p *demoPerson, t time.Time) int {
	y := p.years(t) + g.r.NormFloat64()*0.7
	switch {
	case y < 1.5:
		return 0
	case y < 4:
		return 1
	case y < 9 || p.talent < 0.5:
		return 2
	default:
		return 3
	}
}

// engagement records one engagement starting on t and returns the start of
// the next one.
func (g *demoGen) engagement(p *demoPerson, t, end time.Time) time.Time {
	role := g.roleAt(p, t)
	field := p.field
	if g.chance(0.12) {
		field = g.pick(demoFields)
	}
	months := 3 + g.r.IntN(16) + role*3
	completed := t.AddDate(0, months, -g.r.IntN(20))
	in := map[string]any{
		"field": field, "role": roles[role], "startedOn": date(t),
		"title": g.pick(systems[field]) + " " + g.pick(workKinds[field]),
	}
	if field == fieldSD {
		in["title"] = "Service desk for " + g.pick(systems[field])
	}
	if completed.After(end) && end.Before(g.today) {
		completed = end // the last engagement before leaving
	}
	switch {
	case completed.After(g.today):
		in["outcome"] = "ONGOING"
	default:
		in["completedOn"] = date(completed)
		in["outcome"] = "SUCCESSFUL"
		if g.chance(0.09 - 0.05*p.talent) {
			in["outcome"] = "UNSUCCESSFUL"
		}
	}
	in["withinBudget"] = g.chance(0.8 + 0.15*p.talent)
	// Complexity grows with the role.
	codes := fieldCriteria[field]
	n := min(len(codes), max(0, role-1+g.r.IntN(3)))
	crit := []string{}
	for _, i := range g.r.Perm(len(codes))[:n] {
		crit = append(crit, codes[i])
	}
	slices.SortFunc(crit, func(a, b string) int { return slices.Index(codes, a) - slices.Index(codes, b) })
	in["complexity"] = crit
	// Sizes: bigger for senior roles; not always recorded.
	scale := []float64{0.4, 0.7, 1, 1.6}[role]
	if g.chance(0.85) {
		in["peakHeadcount"] = int64(max(1, math.Round(math.Exp(g.r.NormFloat64()*0.8+1.3)*scale)))
	}
	if g.chance(0.7) {
		yen := math.Exp(g.r.NormFloat64()*1.2+17.6) * scale // median about 44 million yen
		in["annualContractValueYen"] = int64(min(5e9, math.Round(yen/1e5)*1e5))
	}
	if field == fieldNO && g.chance(0.7) {
		in["installationSites"] = int64(max(1, math.Round(math.Exp(g.r.NormFloat64()*1.1+3.2)*scale)))
	}
	if field == fieldSD && g.chance(0.75) {
		in["inquiriesPerYear"] = int64(max(50, math.Round(math.Exp(g.r.NormFloat64()*0.9+7.3)*scale/10)*10))
	}
	g.add(p, "recordEngagement", t, in)
	next := completed.AddDate(0, 0, g.r.IntN(75))
	if in["outcome"] == "ONGOING" {
		return g.today.AddDate(0, 0, 1)
	}
	return next
}

// assess records an assessment of one or two of the person's themes.
func (g *demoGen) assess(p *demoPerson, t time.Time) {
	themes := p.themes
	if len(themes) > 1 && g.chance(0.5) {
		themes = []string{themes[g.r.IntN(len(themes))]}
	}
	for _, th := range themes {
		score := p.years(t) + g.r.NormFloat64()
		prof := 0
		switch {
		case score >= 13 && p.talent > 0.7:
			prof = 3
		case score >= 9.5 && p.talent > 0.35:
			prof = 2
		case score >= 2.5:
			prof = 1
		}
		prev, seen := p.profs[th]
		switch {
		case seen && prev > 0 && g.chance(0.05):
			prof = prev - 1 // a reassessment going down
		case seen && prof < prev && g.chance(0.8):
			prof = prev
		}
		p.profs[th] = prof
		g.add(p, "assessTheme", t, map[string]any{"theme": th, "proficiency": proficiencies[prof], "assessedOn": date(t)})
	}
}

func (g *demoGen) succession(p *demoPerson, t time.Time) {
	total := 0
	for _, k := range successionKinds {
		total += k.weight
	}
	n := g.r.IntN(total)
	kind := successionKinds[0].kind
	for _, k := range successionKinds {
		if n < k.weight {
			kind = k.kind
			break
		}
		n -= k.weight
	}
	fields := []string{p.field}
	if g.chance(0.2) {
		if f := g.pick(demoFields); f != p.field {
			fields = append(fields, f)
		}
	}
	topic := g.pick(topics)
	title := map[string]string{
		"INTERNAL_PAPER": "Internal report: " + topic, "INTERNAL_INSTRUCTOR": "In-house course on " + topic,
		"EXTERNAL_TALK": "Conference talk: " + topic, "COMMUNITY_ACTIVITY": "Study group on " + topic,
		"EXTERNAL_PAPER": "Paper: lessons in " + topic, "PATENT_APPLICATION": "Patent application: method for " + topic,
		"BOOK": "Book: a practical guide to " + topic,
	}[kind]
	g.add(p, "recordTechnologySuccession", t, map[string]any{"kind": kind, "title": title, "occurredOn": date(t), "fields": fields})
}

func (g *demoGen) develop(p *demoPerson, t time.Time) {
	in := map[string]any{"kind": "MENTORING", "occurredOn": date(t)}
	if g.chance(0.3) {
		in["kind"] = "COACHING"
	}
	if g.chance(0.7) {
		// Someone who joined the same department before t.
		for range 10 {
			q := g.ppl[g.r.IntN(len(g.ppl))]
			if q != p && q.dept == p.dept && q.joined.Before(t) {
				in["subordinateId"] = q.id
				break
			}
		}
	}
	g.add(p, "recordSubordinateDevelopment", t, in)
}

// corrections amends about 1% of the engagements and retracts about 0.3%
// of all accomplishments, referring to the lines that recorded them.
func (g *demoGen) corrections(lines []demoLine) []demoLine {
	var out []demoLine
	for i, l := range lines {
		switch l.Op {
		case "recordEngagement":
			if g.chance(0.01) {
				in := map[string]any{}
				if hc, ok := l.Input["peakHeadcount"].(int64); ok && g.chance(0.5) {
					in["peakHeadcount"] = hc + 1 + int64(g.r.IntN(5))
				} else {
					in["title"] = l.Input["title"].(string) + " (phase 2)"
				}
				out = append(out, demoLine{Op: "amendAccomplishment", Ref: i, Input: in})
				continue
			}
		case "assessTheme", "recordTechnologySuccession", "recordSubordinateDevelopment":
		default:
			continue
		}
		if g.chance(0.003) {
			reasons := []string{"recorded twice by mistake", "recorded for the wrong person", "not confirmed by the manager"}
			out = append(out, demoLine{Op: "retractAccomplishment", Ref: i, Input: map[string]any{"reason": g.pick(reasons)}})
		}
	}
	return out
}
