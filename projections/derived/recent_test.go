package derived

import "testing"

func TestRecentForgetsTheOldestFirst(t *testing.T) {
	r := newRecent(2)
	for _, step := range []struct {
		id  string
		new bool
	}{
		{"a", true}, {"b", true}, {"a", false}, {"b", false},
		{"c", true},  // forgets a
		{"b", false}, // still remembered
		{"a", true},  // forgotten, so new again; forgets b
		{"c", false}, {"b", true},
	} {
		if got := r.add(step.id); got != step.new {
			t.Errorf("add(%q) = %v, want %v", step.id, got, step.new)
		}
	}
}
