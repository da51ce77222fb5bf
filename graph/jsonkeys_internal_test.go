package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// repeatedKeyByTokens is RepeatedKey as json.Decoder's tokens tell it: the
// reference the byte scan is held to.
func repeatedKeyByTokens(text []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	type frame struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{keys: map[string]bool{}, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
				if top == 0 {
					return "", false
				}
				if stack[top-1].keys != nil {
					stack[top-1].expectKey = true
				}
			}
			continue
		}
		if top < 0 {
			return "", false
		}
		if stack[top].keys == nil {
			continue
		}
		if stack[top].expectKey {
			k, _ := tok.(string)
			if stack[top].keys[k] {
				return k, true
			}
			stack[top].keys[k] = true
			stack[top].expectKey = false
			continue
		}
		stack[top].expectKey = true
	}
}

// randomJSON writes a value of random shape whose keys come from a few
// names, some escaped, some holding quotes, commas, colons and braces, so
// that repeats happen at every depth and strings look like structure.
func randomJSON(r *rand.Rand, b *strings.Builder, depth int) {
	names := []string{`a`, `b`, `\u0061`, `a\"b`, `{,}`, `:[`, `\\`, `personId`, `x y`, `é`, `\n`}
	switch k := r.IntN(7); {
	case depth > 3 || k < 2:
		fmt.Fprint(b, []string{`1`, `-2.5e3`, `true`, `null`, `"s,\"}{"`, `""`, `"\\"`}[r.IntN(7)])
	case k < 4:
		b.WriteString("[ ")
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteString(" , ")
			}
			randomJSON(r, b, depth+1)
		}
		b.WriteString("]")
	default:
		b.WriteString("{\n")
		n := r.IntN(5)
		if r.IntN(10) == 0 {
			n = 40 + r.IntN(40) // past the small object's bound
		}
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			if n > 10 {
				fmt.Fprintf(b, `"k%d":`, r.IntN(3*n))
			} else {
				fmt.Fprintf(b, `"%s" : `, names[r.IntN(len(names))])
			}
			randomJSON(r, b, depth+1)
		}
		b.WriteString("}")
	}
}

// TestRepeatedKeyByBytesAgreesWithTheTokens: the byte scan finds what
// json.Decoder's tokens find, the same key or none, in random JSON, in its
// prefixes (text cut short) and with text after it.
func TestRepeatedKeyByBytesAgreesWithTheTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	found := 0
	for range 20000 {
		var b strings.Builder
		randomJSON(r, &b, 0)
		text := b.String()
		if !json.Valid([]byte(text)) {
			t.Fatalf("the generator wrote no JSON: %s", text)
		}
		for _, in := range []string{text, text[:r.IntN(len(text)+1)], text + ` {"a":1,"a":2}`} {
			got, ok := RepeatedKey([]byte(in))
			want, wantOK := repeatedKeyByTokens([]byte(in))
			if got != want || ok != wantOK {
				t.Fatalf("%s: %q %v, want %q %v", in, got, ok, want, wantOK)
			}
			if ok {
				found++
			}
		}
	}
	if found < 1000 {
		t.Errorf("only %d texts with a repeated key: the comparison proves little", found)
	}
}

// BenchmarkRepeatedKeyStandingQuery: what the check costs every GraphQL
// POST, for the standing query's body.
func BenchmarkRepeatedKeyStandingQuery(b *testing.B) {
	body, _ := json.Marshal(map[string]any{
		"query":     `query Standing($id: ID!) { person(id: $id) { standing { field level attainedOn criteria { criterion met evidence missing } } } }`,
		"variables": map[string]string{"id": "P000123"}})
	b.ReportAllocs()
	for b.Loop() {
		RepeatedKey(body)
	}
}
