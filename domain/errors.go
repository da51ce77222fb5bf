package domain

import (
	"errors"
	"fmt"
)

// ErrorKind is the small closed set of failure classes that callers map to
// transport codes (GraphQL extensions, HTTP statuses, exit codes).
type ErrorKind int

// The error kinds. KindInternal is the zero value so that an unclassified
// error is never mistaken for the caller's fault.
const (
	KindInternal ErrorKind = iota
	KindInvalid
	KindNotFound
	KindConflict
	KindForbidden
	KindUnauthenticated
)

// String names the kind the way logs and transports spell it.
func (k ErrorKind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindForbidden:
		return "forbidden"
	case KindUnauthenticated:
		return "unauthenticated"
	default:
		return "internal"
	}
}

// Error is a classified domain error. Invalid errors name the input field and
// the rule it broke so that a user can correct the input.
type Error struct {
	Kind    ErrorKind
	Field   string // the offending input field, for KindInvalid
	Rule    string // the rule it broke, in plain words, for KindInvalid
	Message string // the whole sentence shown to users
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

// Invalid reports input that breaks a rule: field names the input field
// (e.g. "completedOn"), rule says what must hold.
func Invalid(field, rule string) *Error {
	return &Error{Kind: KindInvalid, Field: field, Rule: rule, Message: fmt.Sprintf("%s: %s", field, rule)}
}

// NotFound reports a missing person or accomplishment.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a lost race or a state that forbids the operation.
func Conflict(format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports an operation the caller's role does not allow.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) ErrorKind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return KindInternal
}
