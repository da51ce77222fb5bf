// Package events is careerledger's event contract and event log.
//
// The contract: one struct per fact (PersonRegistered, EngagementRecorded,
// ...), each with a type name and a schema version; Encode and Decode turn
// them into JSON bodies and back, upcasting bodies written under older
// versions. An AccomplishmentAmended nests another event's body (its
// engagement is an EngagementRecorded body): a new version of that event
// gives the amendment a new version too, whose upcaster lifts the nested
// body through that event's own upcasters (amendedNests, codec.go), so an
// engagement amended and one recorded are read alike. The bodies of a fixed example of every type at its current version
// live in testdata/ as golden files: the log is forever, so an accidental
// change to a stored shape must fail a test. Bodies are read and written
// without reflection (fastjson.go), exactly as encoding/json would: the
// reader hands anything outside the strict form the log holds to
// encoding/json, and fuzz tests hold both directions to it.
//
// The log: one JetStream stream (default CAREER), one subject per person
// (career.person.<id>), the event type, version, recorded time and
// idempotency key in headers. Appends carry the expected last sequence of the
// person's subject, which makes every command an optimistic-concurrency
// transaction; the Recorder decides against the fold it remembers, appends,
// and on a lost race catches the person up from the log and decides again.
// RecordBatch runs many commands the same way with asynchronous publishing.
// A person the Recorder does not know is read from its History (careerd's
// read model) up to the History's position and from the log after it; the
// log alone decides when the log's count of the person's events is not
// what was read, and again whenever an append conflicts or a command is
// refused.
//
// Embedded runs a JetStream server in-process for the zero-setup default and
// for tests.
package events
