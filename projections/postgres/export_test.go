package postgres

// DropIfAbandoned lets tests drive one step of DropAbandoned with a list
// they read before other sessions moved on.
var DropIfAbandoned = dropIfAbandoned

// LockActive lets tests hold a deployment's registry row as a sweep does.
var LockActive = lockActive
