package projections

import "errors"

// ErrUnavailable is the error (wrapped) of a read of a read model that
// could not be reached: its server refused the connection, did not answer
// in time, was down or shutting down, or every connection to it was lost.
// It is the operator's to cure, not the request's, and the request is safe
// to send again once the read model is back. An error of the read itself
// (a statement refused, a row that cannot be decoded) is not one.
var ErrUnavailable = errors.New("the read model is unreachable")
