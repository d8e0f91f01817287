package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Where a device's record comes from, as its detail shows it.
const (
	OriginEntra  = "entra"  // read from Microsoft Entra ID by the directory sync
	OriginImport = "import" // a CSV import (portal or CLI)
	OriginAPI    = "api"    // PUT /api/v1/devices
	OriginLocal  = "local"  // created before Patchboard recorded origins
)

// DeviceSource is where a device's record comes from.
type DeviceSource struct {
	Kind string // one of the Origin constants
	// For OriginEntra: the Entra object ID, whether Intune manages the device
	// (a managed device was read with it) and whether it is a Windows 365
	// Cloud PC; LastSynced is when the last good sync finished (each one
	// reads the whole directory, this device included).
	ObjectID   string
	Intune     bool
	CloudPC    bool
	LastSynced time.Time
	// For OriginImport and OriginAPI: the file name or API route, who
	// created the device, and when.
	Source string
	Actor  string
	At     time.Time
}

// Label names the sources in words: "Microsoft Entra ID, Intune, Windows
// 365", "CSV import", "API".
func (s DeviceSource) Label() string {
	switch s.Kind {
	case OriginEntra:
		l := "Microsoft Entra ID"
		if s.Intune {
			l += ", Intune"
		}
		if s.CloudPC {
			l += ", Windows 365"
		}
		return l
	case OriginImport:
		return "CSV import"
	case OriginAPI:
		return "API"
	}
	return "Local (before sources were recorded)"
}

// DeviceSource reads where a device's record comes from.
func (s *Store) DeviceSource(ctx context.Context, deviceID string) (DeviceSource, error) {
	id := NormalizeDeviceID(deviceID)
	var src DeviceSource
	err := s.read(ctx, func(tx *sql.Tx) error {
		var management, kind string
		err := tx.QueryRowContext(ctx, `SELECT dd.object_id, d.management, d.device_kind FROM directory_devices dd
			JOIN devices d ON d.device_id = dd.device_id WHERE dd.device_id = ? ORDER BY dd.object_id LIMIT 1`, id).
			Scan(&src.ObjectID, &management, &kind)
		switch {
		case err == nil:
			src.Kind, src.Intune, src.CloudPC = OriginEntra, management != ManagementNone, kind == KindCloudPC
			var good sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT max(finished_at) FROM sync_runs WHERE kind = 'sync' AND state = 'completed'`).Scan(&good); err != nil {
				return err
			}
			src.LastSynced = fromUnix(good)
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var at int64
		err = tx.QueryRowContext(ctx, `SELECT o.kind, o.source, o.actor, o.at FROM device_origins o
			JOIN devices d ON d.id = o.device_pk WHERE d.device_id = ?`, id).Scan(&src.Kind, &src.Source, &src.Actor, &at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			src.Kind = OriginLocal
			return nil
		case err != nil:
			return err
		}
		src.At = time.Unix(at, 0).UTC()
		return nil
	})
	if err != nil {
		return DeviceSource{}, fmt.Errorf("device source %s: %w", deviceID, err)
	}
	return src, nil
}
