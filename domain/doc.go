// Package domain is careerledger's rule book: the vocabulary of the IT Skill
// Standard's Operations job category, the evidence a person accumulates, the
// catalogue that turns the standard into data, and the evaluator that judges
// levels over time.
//
// It imports only the standard library. Storage, transport and the event log
// live in other packages and depend on this one, never the other way round.
package domain
