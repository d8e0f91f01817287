// Package store is Patchboard's model: the domain types and rules of device
// registration (prerequisite and readiness checks, statuses, rings, group
// membership, roles) and their SQLite persistence.
//
// Each concept keeps its pure decision functions, which are table-tested
// without a database, beside the (*Store) methods that load state, apply the
// rule and write the outcome in one transaction. Every entry point of the
// program — page, CLI, scheduler, API — calls the same method.
//
// The package imports nothing else of Patchboard's and knows nothing of HTTP,
// templates or logging.
package store
