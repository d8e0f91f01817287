package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Releases read from the Windows Update catalog (SPEC §12, issue 12). With
// the Graph connector on, every directory sync reads the quality update
// entries of the catalog and adds each new one as a release, in the sync's
// transaction. An entry is read once: the release it became is never
// rewritten by a later sync, and an entry whose name an administrator's
// release already holds leaves that release as it was entered.

// CatalogActor is who the audit log names for a release read from the
// catalog.
const CatalogActor = "Windows Update catalog"

// CatalogWindow is how far back the catalog is read: older releases no
// longer decide any device's status (a build line is supported while a
// release of the last 60 days names it), so they would only fill the
// release page.
const CatalogWindow = 90 * day

// CatalogRelease is one quality update entry of the catalog, mapped onto a
// release by the source.
type CatalogRelease struct {
	CatalogID string // the entry's ID in the catalog
	NewRelease
}

// ReleaseCatalog reads quality releases from the Windows Update catalog.
// The Graph connector (store/graph) implements it.
type ReleaseCatalog interface {
	// QualityReleases lists the catalog's quality updates released on or
	// after since.
	QualityReleases(ctx context.Context, since time.Time) ([]CatalogRelease, error)
}

// SetReleaseCatalog makes every directory sync read releases from c. Call
// it with SetDirectory; nil leaves the releases to the administrators.
func (s *Store) SetReleaseCatalog(c ReleaseCatalog) { s.dir.catalog = c }

// readCatalog reads the catalog when one is set (nil entries otherwise).
// It runs before the sync's transaction: a failed read fails the sync, and
// nothing of it is applied.
func (s *Store) readCatalog(ctx context.Context, now time.Time) ([]CatalogRelease, error) {
	if s.dir.catalog == nil {
		return nil, nil
	}
	rels, err := s.dir.catalog.QualityReleases(ctx, now.Add(-CatalogWindow).Truncate(day))
	if err != nil {
		return nil, fmt.Errorf("read the Windows Update catalog: %w", err)
	}
	return rels, nil
}

// applyCatalog adds the entries not seen before as releases and recomputes
// the update status when it added any. An
// entry that is not a usable release (no build line Patchboard can read)
// is skipped and read again at the next sync.
func applyCatalog(ctx context.Context, tx *sql.Tx, entries []CatalogRelease, now time.Time) error {
	var added []AuditEntry
	for _, e := range entries {
		var seen int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM release_catalog WHERE catalog_id = ?`, e.CatalogID).Scan(&seen); err != nil {
			return err
		}
		if seen > 0 || e.CatalogID == "" {
			continue
		}
		r := e.NewRelease
		if r.normalize() != nil {
			continue
		}
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM releases WHERE name = ?`, r.Name).Scan(&id)
		switch {
		case err == nil: // an administrator's release of that name stands
			if _, err := tx.ExecContext(ctx, `INSERT INTO release_catalog (catalog_id, release_id, adopted, read_at) VALUES (?, ?, 0, ?)`,
				e.CatalogID, id, now.Unix()); err != nil {
				return err
			}
			continue
		case !errNoRows(err):
			return err
		}
		rel, err := insertRelease(ctx, tx, r, CatalogActor, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO release_catalog (catalog_id, release_id, adopted, read_at) VALUES (?, ?, 1, ?)`,
			e.CatalogID, rel.ID, now.Unix()); err != nil {
			return err
		}
		added = append(added, releaseAdded(rel, now))
	}
	if len(added) == 0 {
		return nil
	}
	return updatesChanged(ctx, tx, now, added...)
}
