package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Ring assigners.
const (
	RingByService = "service"
	RingByAdmin   = "admin"
)

// Registration is a device's registration state: its status on the blades
// and, once registered, its ring and who set it.
type Registration struct {
	Status        Status    // "" when the device is on no blade
	Reasons       []CheckID // failing checks of the last evaluation, primary first
	Ring          Ring      // "" when not registered
	RingBy        string    // RingByService or RingByAdmin
	RingActor     string    // who assigned the ring, for RingByAdmin
	RingAt        time.Time
	RegisteredAt  time.Time
	EvaluatedAt   time.Time
	DiscoveredVia string // the group the device was found through
}

// DeviceRow is a device with its registration: one row of a blade.
type DeviceRow struct {
	Device
	Registration
	// MemberOf are the object IDs of the assigned groups that hold the
	// device, read only for rules that test device.memberOf.
	MemberOf []string

	sortValue any // the row's value in the query's sort order, for cursors
}

// DeviceRecord is everything the detail view shows of one device.
type DeviceRecord struct {
	DeviceRow
	// Failures are the stored failing checks of the last evaluation.
	Failures []CheckResult
}

// Checks returns every check of the device's last evaluation: the
// prerequisites for a device that is not registered, the readiness checks
// for a registered one. Checks without a stored failure passed.
func (r *DeviceRecord) Checks() []CheckResult {
	ids := PrerequisiteChecks
	if r.Status.Registered() {
		ids = ReadinessChecks
	}
	failed := make(map[CheckID]CheckResult, len(r.Failures))
	for _, f := range r.Failures {
		failed[f.Check] = f
	}
	// Not-reported flags come from the current fields.
	var current map[CheckID]CheckResult
	if r.Status.Registered() {
		current = make(map[CheckID]CheckResult)
		for _, c := range Readiness(&r.Device, time.Now()) {
			current[c.Check] = c
		}
	}
	out := make([]CheckResult, 0, len(ids))
	for _, id := range ids {
		if f, ok := failed[id]; ok {
			out = append(out, f)
			continue
		}
		out = append(out, CheckResult{Check: id, Passed: true, NotReported: current[id].NotReported})
	}
	return out
}

// extensionSep joins the extension attributes in their one column
// (migration 0030).
const extensionSep = "\x1d"

// packExtensionAttributes joins the attributes, leaving out trailing empty
// ones, so that a device without any stores "".
func packExtensionAttributes(a *ExtensionAttributes) string {
	if a == nil {
		return ""
	}
	n := len(a)
	for n > 0 && a[n-1] == "" {
		n--
	}
	if n == 0 {
		return ""
	}
	return strings.Join(a[:n], extensionSep)
}

// unpackExtensionAttributes is the inverse of packExtensionAttributes.
func unpackExtensionAttributes(s string) *ExtensionAttributes {
	if s == "" {
		return nil
	}
	a := new(ExtensionAttributes)
	for i := 0; s != "" && i < len(a); i++ {
		a[i], s, _ = strings.Cut(s, extensionSep)
	}
	return a
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ";")
}

func signalFromNull(v sql.NullInt64) Signal {
	switch {
	case !v.Valid:
		return SignalUnknown
	case v.Int64 != 0:
		return SignalTrue
	}
	return SignalFalse
}

func signalToNull(s Signal) any {
	switch s {
	case SignalTrue:
		return 1
	case SignalFalse:
		return 0
	}
	return nil
}

// NormalizeDeviceID returns the stored form of a device ID: trimmed,
// lower-case, without braces.
func NormalizeDeviceID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "{"), "}")
	return strings.ToLower(id)
}

// Device returns one device with its registration and stored check results.
func (s *Store) Device(ctx context.Context, deviceID string) (DeviceRecord, error) {
	var rec DeviceRecord
	err := s.read(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, "SELECT "+deviceCols+" FROM devices d WHERE d.device_id = ?", NormalizeDeviceID(deviceID))
		if err := newDeviceScanner().scan(row, &rec.DeviceRow); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFoundf("device %s was not found", deviceID)
			}
			return err
		}
		rows, err := tx.QueryContext(ctx,
			`SELECT check_id, reason, remediation FROM check_results WHERE device_pk = ? ORDER BY position`, rec.PK)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c CheckResult
			if err := rows.Scan(&c.Check, &c.Reason, &c.Remediation); err != nil {
				return err
			}
			rec.Failures = append(rec.Failures, c)
		}
		return rows.Err()
	})
	if err != nil {
		return DeviceRecord{}, fmt.Errorf("device %s: %w", deviceID, err)
	}
	return rec, nil
}

// ImportResult counts what an inventory import did.
type ImportResult struct {
	Rows      int
	Inserted  int
	Updated   int
	Unchanged int
}

// upsertColumns are the devices columns an upsert writes, in the order
// deviceUpserter.upsert binds them; the inventory columns lie between
// device_id and created_at.
var upsertColumns = []string{"device_id", "display_name", "serial_number", "manufacturer", "model", "os",
	"os_version", "os_build", "edition", "architecture", "join_type", "ownership", "management",
	"workload_windows_update", "workload_device_configuration", "workload_office_c2r", "last_checkin",
	"device_kind", "account_enabled", "wu_policy_source", "office_policy_source", "unreachable_endpoints",
	"internet_connected", "object_id", "physical_ids", "enrollment_profile_name", "device_category",
	"profile_type", "management_type", "management_app_id", "system_labels", "is_rooted",
	"extension_attributes", "update_alerts", "created_at", "updated_at"}

// upsertDeviceSQL inserts rows of devices, or updates their inventory fields. An
// update that changes nothing is skipped (no version bump, no write), so
// re-importing the same file leaves discovery with nothing to do.
func upsertDeviceSQL(rows int) string {
	tuple := "(?" + strings.Repeat(", ?", len(upsertColumns)-1) + ")"
	values := strings.Repeat(tuple+",\n", rows-1) + tuple
	inventory := upsertColumns[1 : len(upsertColumns)-2]
	set := make([]string, len(inventory))
	changed := make([]string, len(inventory))
	for i, c := range inventory {
		set[i] = c + " = excluded." + c
		changed[i] = "devices." + c + " IS NOT excluded." + c
	}
	return `
INSERT INTO devices (` + strings.Join(upsertColumns, ", ") + `)
VALUES ` + values + `
ON CONFLICT (device_id) DO UPDATE SET
	` + strings.Join(set, ", ") + `,
	updated_at = excluded.updated_at, version = devices.version + 1
WHERE ` + strings.Join(changed, "\n\tOR ")
}

// upsertBatch is how many records one upsert statement writes. A
// statement's fixed cost (the calls through modernc to bind, step and reset
// it) is then paid once per batch: measured, about a third off the cost of
// an upserted record. The batch has no duplicate device IDs: every caller
// rejects them first.
const upsertBatch = 32

// upsertArgs is how many values one record binds.
var upsertArgs = len(upsertColumns)

// deviceUpserter writes inventory records inside one transaction, a batch
// of records per statement.
type deviceUpserter struct {
	tx      *sql.Tx
	one     *sql.Stmt // one record
	batch   *sql.Stmt // upsertBatch records, prepared on first use
	now     int64
	maxPK   int64 // the highest row key before the first write
	rows    int
	written int // inserted or changed

	pending  []any // the values of the records not written yet
	firstID  string
	npending int

	// synced, when set, finds the directory hash of a device mirrored from
	// the directory source (see guardSynced).
	synced *sql.Stmt
	// origin, when set, is recorded for the devices the upserter creates.
	origin *deviceOrigin
}

// deviceOrigin says where the devices an import creates come from (table
// device_origins): kind is OriginImport or OriginAPI.
type deviceOrigin struct {
	kind, source, actor string
}

// guardSynced makes the upserter refuse changes to the directory's fields
// of devices mirrored from Microsoft Entra ID: the sync owns them. A record
// that repeats them and changes only readiness signals passes.
func (u *deviceUpserter) guardSynced(ctx context.Context) error {
	var exists bool
	if err := u.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM directory_devices)`).Scan(&exists); err != nil || !exists {
		return err
	}
	stmt, err := u.tx.PrepareContext(ctx, `SELECT hash FROM directory_devices WHERE device_id = ?`)
	u.synced = stmt
	return err
}

// checkSynced refuses d when it changes a mirrored device's directory fields.
func (u *deviceUpserter) checkSynced(ctx context.Context, d *Device) error {
	var h int64
	err := u.synced.QueryRowContext(ctx, d.DeviceID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && h == directoryHash(d)) {
		return nil
	}
	if err != nil {
		return err
	}
	return &ValidationError{Errors: []FieldError{{Field: "device_id", Value: d.DeviceID,
		Reason: fmt.Sprintf("device %s is synced from Microsoft Entra ID and Intune: its inventory fields are read-only here (change them in Entra ID or Intune); only readiness signals may be reported", d.DeviceID)}}}
}

func newDeviceUpserter(ctx context.Context, tx *sql.Tx, now time.Time) (*deviceUpserter, error) {
	u := &deviceUpserter{tx: tx, now: now.Unix(), pending: make([]any, 0, upsertBatch*upsertArgs)}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM devices`).Scan(&u.maxPK); err != nil {
		return nil, fmt.Errorf("count devices: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, upsertDeviceSQL(1))
	if err != nil {
		return nil, fmt.Errorf("prepare upsert: %w", err)
	}
	u.one = stmt
	return u, nil
}

// upsert queues d's record; it is written with its batch, or by result.
// The record's values are copied: d may change once upsert returns.
func (u *deviceUpserter) upsert(ctx context.Context, d *Device) error {
	if u.synced != nil {
		if err := u.checkSynced(ctx, d); err != nil {
			return err
		}
	}
	if u.npending == 0 {
		u.firstID = d.DeviceID
	}
	u.pending = append(u.pending, d.DeviceID, d.DisplayName, d.SerialNumber, d.Manufacturer,
		d.Model, d.OS, d.OSVersion, OSBuild(d.OSVersion), d.Edition, d.Architecture, d.JoinType,
		d.Ownership, d.Management, d.WorkloadWindowsUpdate, d.WorkloadDeviceConfiguration,
		d.WorkloadOfficeC2R, unix(d.LastCheckin), d.DeviceKind, d.AccountEnabled, d.WUPolicySource,
		d.OfficePolicySource, strings.Join(d.UnreachableEndpoints, ";"), signalToNull(d.InternetConnected),
		d.ObjectID, strings.Join(d.PhysicalIDs, ";"), d.EnrollmentProfileName, d.DeviceCategory,
		d.ProfileType, d.ManagementType, d.ManagementAppID, strings.Join(d.SystemLabels, ";"),
		signalToNull(d.IsRooted), packExtensionAttributes(d.ExtensionAttributes), strings.Join(d.UpdateAlerts, ";"),
		u.now, u.now)
	u.npending++
	u.rows++
	if u.npending == upsertBatch {
		return u.flush(ctx)
	}
	return nil
}

// flush writes the queued records: a full batch in one statement, a
// shorter tail one record at a time.
func (u *deviceUpserter) flush(ctx context.Context) error {
	if u.npending == 0 {
		return nil
	}
	exec := func(stmt *sql.Stmt, args []any) error {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		u.written += int(n) // records already identical count 0
		return err
	}
	var err error
	if u.npending == upsertBatch {
		if u.batch == nil {
			u.batch, err = u.tx.PrepareContext(ctx, upsertDeviceSQL(upsertBatch))
		}
		if err == nil {
			err = exec(u.batch, u.pending)
		}
	} else {
		for i := 0; i < len(u.pending) && err == nil; i += upsertArgs {
			err = exec(u.one, u.pending[i:i+upsertArgs])
		}
	}
	if err != nil {
		return fmt.Errorf("upsert devices from %s on: %w", u.firstID, err)
	}
	u.pending, u.npending = u.pending[:0], 0
	return nil
}

// result writes what is queued and counts new, changed and unchanged
// records. New ones are the rows with keys above the highest key before the
// first write (SQLite gives a new row the next key; nothing is deleted
// meanwhile): an upsert statement reports an affected row either way, and
// asking per row would double the statements.
func (u *deviceUpserter) result(ctx context.Context) (ImportResult, error) {
	if err := u.flush(ctx); err != nil {
		return ImportResult{}, err
	}
	var inserted int
	if err := u.tx.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE id > ?`, u.maxPK).Scan(&inserted); err != nil {
		return ImportResult{}, fmt.Errorf("count devices: %w", err)
	}
	if o := u.origin; o != nil && inserted > 0 {
		if _, err := u.tx.ExecContext(ctx, `INSERT OR IGNORE INTO device_origins (device_pk, kind, source, actor, at)
			SELECT id, ?, ?, ?, ? FROM devices WHERE id > ?`, o.kind, o.source, o.actor, u.now, u.maxPK); err != nil {
			return ImportResult{}, fmt.Errorf("record device origins: %w", err)
		}
	}
	return ImportResult{Rows: u.rows, Inserted: inserted, Updated: u.written - inserted, Unchanged: u.rows - u.written}, nil
}

// close releases the statements; their errors surfaced at Exec.
func (u *deviceUpserter) close() {
	if u.synced != nil {
		_ = u.synced.Close()
	}
	_ = u.one.Close()
	if u.batch != nil {
		_ = u.batch.Close()
	}
}

// ImportDevices reads an inventory CSV (SPEC §1 columns) and upserts every
// row in one transaction. It is all-or-nothing: when any row is rejected the
// error is a *ValidationError naming every bad row, and nothing is written.
func (s *Store) ImportDevices(ctx context.Context, r io.Reader, source, actor string) (ImportResult, error) {
	var res ImportResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Rows are written as they are read so that memory stays flat; a
		// rejected row anywhere rolls the whole transaction back.
		var err error
		res, err = upsertAll(ctx, tx, &deviceOrigin{kind: OriginImport, source: source, actor: actor},
			func(write func(*Device) error) error { return pipeInventory(ctx, r, write) })
		if err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{
			Actor: actor, Action: ActionImportDevice, Target: source, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d rows: %d new, %d updated, %d unchanged", res.Rows, res.Inserted, res.Updated, res.Unchanged),
		}, nil)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import devices: %w", err)
	}
	return res, nil
}

// upsertAll writes every device feed passes to write through one upserter
// in tx, and counts what it did.
func upsertAll(ctx context.Context, tx *sql.Tx, origin *deviceOrigin, feed func(write func(*Device) error) error) (ImportResult, error) {
	u, err := newDeviceUpserter(ctx, tx, time.Now())
	if err != nil {
		return ImportResult{}, err
	}
	u.origin = origin
	defer u.close()
	if err := u.guardSynced(ctx); err != nil {
		return ImportResult{}, err
	}
	if err := feed(func(d *Device) error { return u.upsert(ctx, d) }); err != nil {
		return ImportResult{}, err
	}
	return u.result(ctx)
}

// pipeInventory parses the CSV on its own goroutine while write stores the
// rows already parsed, so parsing overlaps the SQLite work on a second core.
// Both stop at the first error of either side.
func pipeInventory(ctx context.Context, r io.Reader, write func(*Device) error) error {
	return pipeDevices(ctx, 512, func(each func(*Device) error) error {
		_, err := ReadInventoryCSV(r, each)
		return err
	}, write)
}

// pipeDevices runs read on its own goroutine and hands the devices it
// passes to each over to write, chunk by chunk, on this one. Both stop at
// the first error of either side; read's error wins.
func pipeDevices(ctx context.Context, chunk int, read func(each func(*Device) error) error, write func(*Device) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*Device, 8)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		buf := make([]*Device, 0, chunk)
		send := func() error {
			select {
			case batches <- buf:
				buf = make([]*Device, 0, chunk)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := read(func(d *Device) error {
			if buf = append(buf, d); len(buf) == chunk {
				return send()
			}
			return nil
		})
		if err == nil && len(buf) > 0 {
			err = send()
		}
		readErr <- err
	}()
	var writeErr error
	for b := range batches {
		for _, d := range b {
			if writeErr == nil {
				writeErr = write(d)
			}
		}
		if writeErr != nil {
			cancel() // the reader stops at its next send; drain until it closes
		}
	}
	if err := <-readErr; err != nil && writeErr == nil {
		return err
	}
	return writeErr
}

// UpsertDevices validates and writes a batch of inventory records in one
// transaction; all-or-nothing. Validation errors name the item by its index
// as a JSON pointer ("/3").
func (s *Store) UpsertDevices(ctx context.Context, devs []*Device, source, actor string) (ImportResult, error) {
	verr := &ValidationError{}
	seen := make(map[string]int, len(devs))
	normalized := make([]*Device, len(devs))
	for i, orig := range devs {
		d := *orig // the caller's records are left as they were
		d.DeviceID = NormalizeDeviceID(d.DeviceID)
		normalized[i] = &d
		item := fmt.Sprintf("/%d", i)
		for _, fe := range ValidateDevice(&d) {
			fe.Item = item
			verr.add(fe)
		}
		if j, dup := seen[d.DeviceID]; dup && d.DeviceID != "" {
			verr.add(FieldError{Item: item, Field: "device_id", Value: d.DeviceID,
				Reason: fmt.Sprintf("device %s appears twice in the batch (also at /%d)", d.DeviceID, j)})
		}
		seen[d.DeviceID] = i
	}
	if !verr.empty() {
		return ImportResult{}, fmt.Errorf("upsert devices: %w", verr)
	}
	var res ImportResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := newDeviceUpserter(ctx, tx, time.Now())
		if err != nil {
			return err
		}
		defer u.close()
		u.origin = &deviceOrigin{kind: OriginAPI, source: source, actor: actor}
		if err := u.guardSynced(ctx); err != nil {
			return err
		}
		for _, d := range normalized {
			if err := u.upsert(ctx, d); err != nil {
				return err
			}
		}
		if res, err = u.result(ctx); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{
			Actor: actor, Action: ActionImportDevice, Target: source, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("%d records: %d new, %d updated, %d unchanged", res.Rows, res.Inserted, res.Updated, res.Unchanged),
		}, nil)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("upsert devices: %w", err)
	}
	return res, nil
}
