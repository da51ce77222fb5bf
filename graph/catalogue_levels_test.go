package graph_test

import (
	"testing"
)

// TestMinLevelIsBoundedByTheCatalogue: levels.md makes the number of levels
// catalogue data, so a catalogue of three levels takes minLevel 0 to 3 and
// its refusal names that bound, not the built-in catalogue's 5.
func TestMinLevelIsBoundedByTheCatalogue(t *testing.T) {
	cat := editedCatalogue(t, func(doc map[string]any) {
		doc["levels"] = doc["levels"].([]any)[:3]
	})
	forEachBackend(t, options{catalogue: cat}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.gql(t, adm, `{ people(minLevel: 3) { totalCount } }`, nil).ok(t)
		r := e.gql(t, adm, `{ people(minLevel: 4) { totalCount } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "minLevel" ||
			r.Errors[0].rule() != "must be between 0 and 3" {
			t.Errorf("minLevel 4 of 3 levels: %s %+v, want BAD_USER_INPUT on minLevel: must be between 0 and 3", r.Data, r.Errors)
		}
	})
}
