package graph

import (
	"bytes"
	"encoding/json"
)

// RepeatedKeyRule is why a line that gives a key twice is refused.
const RepeatedKeyRule = "is given more than once on the line: give each key once"

// RepeatedKeyInRequestRule is why a GraphQL request body that gives a key
// twice in one of its objects (a variable's input, say) is refused.
const RepeatedKeyInRequestRule = "is given more than once in an object of the request: give each key once"

// RepeatedKey reports the first key that an object in the JSON text gives
// twice, at any depth. encoding/json keeps the last of them without a
// word, so an import line {"personId": "E1", ..., "personId": "E2"} would
// record for E2 whatever its writer meant; a line that says two things is
// refused instead, as a CSV header naming a column twice is. Callers
// decode the text first: what is not JSON is told by that decoding (the
// scan stops at the first error, reporting what it found before it).
func RepeatedKey(text []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	// One frame per open object or array: an object's keys seen so far
	// (nil for an array), and whether its next token is a key.
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
			return "", false // a scalar, not an object
		}
		if stack[top].keys == nil {
			continue // an array's value
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
		stack[top].expectKey = true // a scalar value ends the member
	}
}
