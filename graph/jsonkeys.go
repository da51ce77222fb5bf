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
	// A scan of the bytes, not json.Decoder's tokens: every GraphQL POST
	// body passes here, and the tokens cost a standing query's body 44
	// allocations. A string is a key when it follows an object's '{' or
	// a ',' inside an object. The keys of the objects open so far are
	// kept in one list, each object's from its frame's start; an object
	// past smallObject keys looks them up in a map of its own.
	const smallObject = 32
	type frame struct {
		object bool
		start  int             // its first key in keys
		many   map[string]bool // its keys, once past smallObject
	}
	var (
		frameSpace [8]frame
		keySpace   [16][]byte
		frames     = frameSpace[:0]
		keys       = keySpace[:0]
		prev       byte // the last of '{', '[', ',', ':' or a value's end ('v')
	)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case ' ', '\t', '\n', '\r':
		case '{', '[':
			frames = append(frames, frame{object: c == '{', start: len(keys)})
			prev = c
		case '}', ']':
			if len(frames) == 0 {
				return "", false
			}
			top := frames[len(frames)-1]
			frames = frames[:len(frames)-1]
			keys = keys[:top.start]
			if len(frames) == 0 {
				return "", false // the first value ends: what follows is not its
			}
			prev = 'v'
		case ',', ':':
			prev = c
		case '"':
			end, escaped := stringEnd(text, i)
			if end < 0 || len(frames) == 0 {
				return "", false // cut short, or a scalar, not an object
			}
			isKey := frames[len(frames)-1].object && (prev == '{' || prev == ',')
			raw := text[i+1 : end]
			i = end
			prev = 'v'
			if !isKey {
				continue
			}
			k := raw
			if escaped {
				var s string
				if json.Unmarshal(text[i-len(raw)-1:i+1], &s) != nil {
					return "", false
				}
				k = []byte(s)
			}
			f := &frames[len(frames)-1]
			if f.many != nil {
				if f.many[string(k)] {
					return string(k), true
				}
				f.many[string(k)] = true
				continue
			}
			for _, seen := range keys[f.start:] {
				if bytes.Equal(seen, k) {
					return string(k), true
				}
			}
			keys = append(keys, k)
			if len(keys)-f.start > smallObject {
				f.many = make(map[string]bool, 2*smallObject)
				for _, seen := range keys[f.start:] {
					f.many[string(seen)] = true
				}
			}
		default:
			if len(frames) == 0 {
				return "", false // a scalar, not an object
			}
			prev = 'v' // a number, true, false or null: nothing to find in it
		}
	}
	return "", false
}

// stringEnd is the index of the quote that ends the JSON string whose
// opening quote is text[i], -1 if none does, and whether it holds an
// escape.
func stringEnd(text []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}
