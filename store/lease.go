package store

import (
	"errors"
	"fmt"
	"os"
)

// errLeaseHeld says another process holds a lease.
var errLeaseHeld = errors.New("lease held by another process")

// lease is an exclusive lock on a file beside the database, held by one
// process at a time. The operating system releases it when the process
// ends, however it ends (SIGKILL, power loss of the process, OOM kill), so
// a restarted process takes it over at once instead of waiting for a
// heartbeat to go stale. It stays meaningful only on a local file system,
// which SQLite's WAL mode needs anyway.
type lease struct{ f *os.File }

// tryLease takes the lease on name without waiting; errLeaseHeld when
// another process (or another open lease in this one) holds it.
func tryLease(name string) (*lease, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return &lease{f: f}, nil
}

// release gives the lease up. The file stays: removing it would let a
// process that opened it just before take a lock on a name nobody else sees.
func (l *lease) release() error {
	if l == nil {
		return nil
	}
	return l.f.Close() // closing the descriptor drops the lock
}

// discoveryLeaseName is the lock file whose holder runs discovery.
func discoveryLeaseName(dbPath string) string { return dbPath + "-discovery.lock" }

// serverLeaseName is the lock file a serving process holds for its life, so
// that a restore never replaces a database under a running server.
func serverLeaseName(dbPath string) string { return dbPath + "-server.lock" }
