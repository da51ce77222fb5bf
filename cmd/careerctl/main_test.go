package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/graph"
)

func TestTokenRoundTrip(t *testing.T) {
	var out, errb bytes.Buffer
	env := map[string]string{"CAREER_AUTH_SECRET": "s3cret"}
	code := run([]string{"token", "--subject", "kato", "--role", "manager", "--department", "Network"},
		func(k string) string { return env[k] }, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	tokens, _ := graph.NewTokens("s3cret")
	p, err := tokens.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "kato" || !p.Has(graph.RoleManager) || p.Department != "Network" {
		t.Errorf("principal = %+v", p)
	}
	other, _ := graph.NewTokens("another")
	if _, err := other.Verify(strings.TrimSpace(out.String())); err == nil {
		t.Error("a token verified with the wrong secret")
	}
}

func TestTokenRefusals(t *testing.T) {
	cases := map[string][]string{
		"no secret":           {"token", "--subject", "a", "--role", "admin"},
		"unknown role":        {"token", "--subject", "a", "--role", "king", "--secret", "x"},
		"manager without dep": {"token", "--subject", "a", "--role", "manager", "--secret", "x"},
		"manager of spaces":   {"token", "--subject", "a", "--role", "manager", "--department", "   ", "--secret", "x"},
		"employee w/o person": {"token", "--subject", "a", "--role", "employee", "--secret", "x"},
		"no subject":          {"token", "--role", "admin", "--secret", "x"},
	}
	for name, args := range cases {
		var out, errb bytes.Buffer
		if code := run(args, func(string) string { return "" }, nil, &out, &errb); code == 0 || out.Len() > 0 {
			t.Errorf("%s: exit %d, printed %q", name, code, out.String())
		}
	}
}

// TestTokenWarnsOfSpacesAroundADepartment: a manager's department with
// spaces around it is minted as given (an earlier release may have
// recorded it so) with a warning naming the department recorded since.
func TestTokenWarnsOfSpacesAroundADepartment(t *testing.T) {
	for dept, warned := range map[string]bool{"Ops ": true, " Ops": true, "Ops": false, "QA Dept": false} {
		var out, errb bytes.Buffer
		code := run([]string{"token", "--subject", "m", "--role", "manager", "--department", dept, "--secret", "x"}, func(string) string { return "" }, nil, &out, &errb)
		if code != 0 || out.Len() == 0 {
			t.Fatalf("%q: exit %d, stderr %q", dept, code, errb.String())
		}
		want := fmt.Sprintf("warning: --department %q has spaces around it; departments are recorded without them (%q)", dept, strings.TrimSpace(dept))
		if got := strings.Contains(errb.String(), want); got != warned {
			t.Errorf("%q: stderr %q, want the warning: %v", dept, errb.String(), warned)
		}
		tokens, _ := graph.NewTokens("x")
		if p, err := tokens.Verify(strings.TrimSpace(out.String())); err != nil || p.Department != dept {
			t.Errorf("%q: the token says %+v, %v; want the department as given", dept, p, err)
		}
	}
}

// TestHelpHidesSecrets: -h names the variables a token and the signing key
// come from, never their values (a help screen ends up in screen shares and
// CI logs); a value from the environment still takes effect.
func TestHelpHidesSecrets(t *testing.T) {
	env := map[string]string{"CAREER_TOKEN": "tok-value-1234", "CAREER_AUTH_SECRET": "key-value-5678"}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{{"person", "-h"}, {"import", "-h"}, {"token", "-h"}} {
		var out, errb bytes.Buffer
		run(args, getenv, nil, &out, &errb)
		help := out.String() + errb.String()
		if !strings.Contains(help, "$CAREER_") {
			t.Errorf("%v: no help printed: %q", args, help)
		}
		for _, v := range env {
			if strings.Contains(help, v) {
				t.Errorf("%v: the help shows %q:\n%s", args, v, help)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"token", "--subject", "a", "--role", "admin"}, getenv, nil, &out, &errb); code != 0 {
		t.Fatalf("a token with the key from the environment: exit %d: %s", code, errb.String())
	}
	tokens, _ := graph.NewTokens("key-value-5678")
	if _, err := tokens.Verify(strings.TrimSpace(out.String())); err != nil {
		t.Errorf("the token is not signed with the key from the environment: %v", err)
	}
}

// TestUsageErrorsExit2: a command used wrongly exits 2, as the docs say;
// a command that ran and failed exits 1.
func TestUsageErrorsExit2(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"CAREER_TOKEN": "t", "CAREER_SERVER": "http://127.0.0.1:1"}[k]
	}
	for _, args := range [][]string{
		{"import", "a", "b"}, {"people", "--bogus"}, {"person"}, {"token", "--subject", "a", "--role", "admin", "--secret", "x", "--ttl", "soon"},
		{"distribution"}, {"import", "f.ndjson", "--chunk", "20000"}, {"token", "--role", "admin", "--secret", "x"},
		{"record-departure", "--personId", "E1", "--effectiveOn", "yesterday"},
		{"record-engagement", "--personId", "E1", "--withinBudget=maybe"}, {"amend-accomplishment", "--accomplishmentId", "X", "--clear", "title"},
		{"import", "f.ndjson", "--format", "xml"}, {"export", "extra"}, {"register-person", "E1"}, {},
		{"health", "extra"}, {"token", "--role", "admin", "--subject", "a", "--secret", "x", "extra"},
		{"token", "--subject", "a", "--role", "boss", "--secret", "x"}, {"token", "--subject", "a", "--role", "admin,Boss", "--secret", "x"},
		{"token", "--subject", "a", "--role", "manager", "--secret", "x"}, {"token", "--subject", "a", "--role", "employee", "--secret", "x"},
		{"token", "--subject", "a", "--role", "employee", "--person", "a b", "--secret", "x"},
		{"token", "--subject", "a", "--role", "manager", "--department", "Ops", "--person", "E1.X", "--secret", "x"},
		{"token", "--subject", "a", "--role", "admin"}, {"token", "--subject", "a", "--role", "admin", "--secret", ""},
		// A --server that is no URL careerd could be at is refused before
		// anything is tried (import and demo retried it for half a minute).
		{"import", "f.ndjson", "--server", "http//127.0.0.1:8080"}, {"health", "--server", "127.0.0.1:8080"},
		{"person", "E1", "--server", "notaurl"}, {"demo", "--server", "ftp://127.0.0.1:8080"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, env, nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	// Asked for, the usage is no error.
	for _, args := range [][]string{{"-h"}, {"help"}, {"person", "-h"}, {"import", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, env, nil, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage") {
			t.Errorf("%v: exit %d, want 0 and the usage (%s)", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"person", "E1"}, env, nil, &out, &errb); code != 1 {
		t.Errorf("an unreachable server: exit %d, want 1 (%s)", code, errb.String())
	}
}

// TestABadValueListsTheValuesTaken: a role or an enum value a flag does not
// take is a usage error (exit 2), refused before anything is sent, in words
// that list the values it takes; a known value in lower case passes (and
// here fails to reach the server: exit 1).
func TestABadValueListsTheValuesTaken(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"CAREER_TOKEN": "t", "CAREER_SERVER": "http://127.0.0.1:1"}[k]
	}
	const fields = "must be one of SYSTEM_OPERATION, NETWORK_OPERATION, SERVICE_DESK"
	engagement := []string{"record-engagement", "--personId", "E1", "--title", "t", "--role", "LEAD", "--startedOn", "2024-01-01", "--outcome", "ONGOING"}
	// Each want starts with ": --": the flag is named once, with two dashes
	// ("careerctl record-engagement: --field: ...", not "----field").
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "--subject", "a", "--role", "boss", "--secret", "x"}, 2, `: --role: "boss" is not a role; must be one of admin, hr, manager, employee`},
		{append(slices.Clone(engagement), "--field", "NETWORK"), 2, `: --field: "NETWORK" is not a valid SpecialtyField; ` + fields},
		{append(slices.Clone(engagement), "--field", "service_desk", "--complexity", "organization,BOGUS"), 2,
			`: --complexity: "BOGUS" is not a valid ComplexityCriterion; must be one of OPERATION_REQUIREMENTS, OPERATION_SYSTEMS, SUPPORTED_SYSTEM, NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT`},
		{[]string{"assess-theme", "--personId", "E1", "--theme", "STRESS_MANAGEMENT", "--proficiency", "EXPERT", "--assessedOn", "2024-01-01"}, 2,
			`: --proficiency: "EXPERT" is not a valid Proficiency; must be one of BASIC, PRACTICE, GUIDES_SUBORDINATES, GUIDES_OTHERS`},
		{[]string{"distribution", "--field", "NETWORK"}, 2, `: --field: "NETWORK" is not a valid SpecialtyField; ` + fields},
		{[]string{"people", "--field", "net", "--min-level", "2"}, 2, `: --field: "net" is not a valid SpecialtyField; ` + fields},
		{[]string{"people", "--min-level", "-3"}, 2, `: --min-level: -3 is not a level: must be between 0 and the highest level of careerd's catalogue (5 in the built-in one; no catalogue has more than 9)`},
		{[]string{"people", "--min-level", "10"}, 2, `: --min-level: 10 is not a level: must be between 0 and the highest level of careerd's catalogue`},
		{[]string{"people", "--min-level", "9"}, 1, "127.0.0.1:1"},
		// A whole number too long for what careerd takes is told by that
		// rule, not as "not a whole number".
		{append(slices.Clone(engagement), "--field", "service_desk", "--annualContractValueYen", "99999999999999999999"), 2,
			`: --annualContractValueYen: "99999999999999999999" must be at most 2^53 (9007199254740992) in absolute value`},
		{append(slices.Clone(engagement), "--field", "service_desk", "--peakHeadcount", "99999999999999999999"), 2,
			`: --peakHeadcount: "99999999999999999999" must be from -2147483648 to 2147483647 (a 32-bit integer)`},
		{append(slices.Clone(engagement), "--field", "service_desk", "--peakHeadcount", "1.5"), 2, `: --peakHeadcount: "1.5" is not a whole number`},
		{[]string{"migrate", "--database-url", "postgres://u@127.0.0.1:1/x", "--schema", "careerledger "}, 2, `: --schema must name a read model as careerd's --schema does, without spaces around it or control characters, not "careerledger "`},
		{[]string{"migrate", "--database-url", "postgres://u@127.0.0.1:1/x", "--schema", strings.Repeat("s", 64)}, 2, `: --schema must be at most 63 bytes, as careerd's --schema`},
		{append(slices.Clone(engagement), "--field", "service_desk", "--complexity", "organization"), 1, "127.0.0.1:1"},
		{[]string{"distribution", "--field", "network_operation"}, 1, "127.0.0.1:1"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, env, nil, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d %q, want %d saying %s", c.args, code, errb.String(), c.code, c.want)
		}
	}
}

// TestABadFlagIsOneLine: a flag's value of the wrong kind, or an unknown
// flag, is one line naming the flag and the rule, without the command's
// usage printed around it; -h prints the usage once.
func TestABadFlagIsOneLine(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"CAREER_TOKEN": "t", "CAREER_SERVER": "http://127.0.0.1:1", "CAREER_AUTH_SECRET": "x"}[k]
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--subject", "a", "--role", "admin", "--ttl", "1d"}, `careerctl token: --ttl: "1d" is not a duration (such as 30s, 2m or 1h30m)`},
		{[]string{"import", "f.ndjson", "--chunk", "many"}, `careerctl import: --chunk: "many" is not a whole number in range`},
		{[]string{"health", "--ready=nah"}, `careerctl health: --ready: "nah" is not true or false (1, t, TRUE, 0, f, FALSE...)`},
		{[]string{"person", "E1", "--bogus"}, `careerctl person: flag provided but not defined: -bogus (careerctl person -h lists its flags)`},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, env, nil, &out, &errb); code != 2 || errb.String() != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q alone", tc.args, code, errb.String(), tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"token", "-h"}, "-ttl duration"}, {[]string{"person", "-h"}, "usage: careerctl person"},
		{[]string{"people", "-h"}, "usage: careerctl people [flags]"}, {[]string{"register-person", "-h"}, "usage: careerctl register-person [flags]"}} {
		var out, errb bytes.Buffer
		if code := run(tc.args, env, nil, &out, &errb); code != 0 || strings.Count(errb.String(), tc.want) != 1 {
			t.Errorf("%v: exit %d, want 0 and the usage once, showing %q:\n%s", tc.args, code, tc.want, errb.String())
		}
	}
}
