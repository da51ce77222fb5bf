// Package projections folds the event log into read models that answer the
// API's queries: people and their departments over valid time, their
// accomplishments, their level in every field over valid time, and the
// department skill distribution; a standing's explanation, for any date and
// any knownAt, is evaluated on read from the person's stored events.
//
// Two stores implement the same read model: memory (the embedded default,
// rebuilt from the log at start) and PostgreSQL (production). One Projector
// drives either store; one contract test suite runs against both.
package projections
