package store

import (
	"context"
	"database/sql"
	"time"
)

// exportPool is the reader pool that CSV exports read from, apart from the
// pages' pool. An export holds a connection for its whole walk, which lasts
// as long as its client takes to download it; on the pages' pool three
// exports once took every connection (each walker held one while its
// fetchers waited for more) and froze the portal. Here an export first
// takes one of exportSlots slots and then uses at most 1+exportFetchers
// connections of a pool sized for every slot, so exports never wait for a
// connection, and pages never wait for an export.
type exportPool struct {
	stmts stmtCache
	slots chan struct{}
	wait  time.Duration
}

const (
	// exportSlots is how many exports run at once. An export of 100,000
	// rows takes a fraction of a second of the server's time; more at
	// once only split the same two cores.
	exportSlots = 2
	// exportWait bounds how long an export waits for a slot before it is
	// refused as busy, so waiting requests do not pile up.
	exportWait = 15 * time.Second
)

func newExportPool(db *sql.DB) *exportPool {
	n := exportSlots * (1 + exportFetchers)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	return &exportPool{stmts: stmtCache{db: db}, slots: make(chan struct{}, exportSlots), wait: exportWait}
}

// acquire takes an export slot, waiting at most p.wait; release gives it
// back.
func (p *exportPool) acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return func() { <-p.slots }, nil
	case <-t.C:
		return nil, busyf("%d downloads are already being prepared; try again in a minute", exportSlots)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *exportPool) close() error {
	p.stmts.close()
	return p.stmts.db.Close()
}
