package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// The directory sync (SPEC §11). With a DirectorySource set, the directory is
// a mirror of Microsoft Entra ID and Intune: each sync reads the source,
// merges what changed into the devices and the registration group, and
// commits it in one transaction, so that a failed or interrupted sync leaves
// the last good data as it was. Discovery then runs on the mirror as on a
// local directory, and, with a RingWriter set, the rings are written back to
// the source's ring groups.

// DirectorySource reads a directory Patchboard mirrors. The Graph connector
// (store/graph) implements it.
type DirectorySource interface {
	// ReadDirectory reads the directory's devices and the registration group.
	// prev is what the last good read left (empty on the first): the source
	// may read only the changes since it (a delta query) and merge them into
	// prev's records. An error means nothing of the read may be applied.
	ReadDirectory(ctx context.Context, prev DirectoryState) (DirectoryRead, error)
}

// RingWriter keeps the source's ring groups equal to the rings.
type RingWriter interface {
	// WriteRings makes each ring group's device members exactly want[ring]
	// (object IDs), changing only the difference. It is idempotent, so an
	// interrupted write is finished by the next one.
	WriteRings(ctx context.Context, want map[Ring][]string) (RingWriteResult, error)
}

// DirectoryState is what the last good sync left for the source.
type DirectoryState struct {
	// Cursor is the source's own resume point (for Graph, the delta link);
	// empty for a full read.
	Cursor string
	// Objects are the devices' objects the last good sync stored, by object
	// ID. Their records are not loaded with them (a tenant's worth would sit
	// in memory): Record reads one, for a delta read to merge changes into.
	Objects map[string]DirectoryObject
	Record  func(ctx context.Context, objectID string) ([]byte, error)
	// GroupCursor is the source's resume point for the registration group's
	// tree (for Graph, its groups delta links), and Groups the tree the last
	// good read returned; a delta read applies the changes since to it.
	GroupCursor string
	Groups      []DirectoryGroup
}

// DirectoryObject is a device's object as the last good sync stored it.
type DirectoryObject struct {
	DeviceID string // as mapped (normalized)
	// Fingerprint is DirectoryDevice.Fingerprint as the source gave it.
	Fingerprint int64
}

// DirectoryRead is one complete read of the directory: every device it holds
// now (a delta read merged into the previous records is complete too).
// Stored devices that are not in Devices have left the directory.
type DirectoryRead struct {
	Cursor string
	// FullRead is true when the source read everything rather than the
	// changes since the cursor (a first sync, or a lost delta token).
	FullRead bool
	// Devices passes every device to each, in the same order at every
	// read; Count is how many there are. It may be called once only: the
	// source may let each device's record go once passed.
	Devices func(each func(*DirectoryDevice) error) error
	Count   int
	// Groups are the registration group (first, Depth 0), the groups nested
	// in it (Depth 1, members read) and the groups nested in those (Depth 2,
	// members not read: their devices are not discovered).
	Groups []DirectoryGroup
	// Owners are the registration group's owners in the directory.
	Owners []DirectoryOwner
	// GroupCursor resumes the next read of the groups; GroupsChanged is
	// false when the source reports the tree as the last read left it.
	GroupCursor   string
	GroupsChanged bool
	// Requests counts the requests the read made.
	Requests int
}

// DirectoryDevice is one device of a read.
type DirectoryDevice struct {
	ObjectID string
	// Record is the source's own copy of the object, handed back in the next
	// DirectoryState.
	Record []byte
	// Changed is true when Record may differ from the previous read's (a
	// full read marks every record changed).
	Changed bool
	// Fingerprint is the source's hash of what Device was mapped from
	// besides Record (the source's other data on the device, the mapping).
	Fingerprint int64
	// Unchanged is true when neither Record nor Fingerprint changed: the
	// source did not map the device again (Device and Record are empty),
	// and the stored one stands.
	Unchanged bool
	// Device is the inventory record mapped from the source. Readiness
	// signals are not the directory's: they are kept as reported.
	Device Device
}

// DirectoryGroup is one group of the registration group's tree.
type DirectoryGroup struct {
	ObjectID string `json:"id"`
	Name     string `json:"name"`
	Depth    int    `json:"depth"`
	// Devices and Groups are the object IDs of the direct device and group
	// members.
	Devices []string `json:"devices,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// RingWriteResult counts what a ring write-back did.
type RingWriteResult struct {
	Wanted   int // memberships the rings call for
	Added    int
	Removed  int
	Requests int
}

// directory is the store's connection to its source; zero when the
// directory is local.
type directory struct {
	src   DirectorySource
	rings RingWriter
	// policies, when set, writes the update ring policies with the rings.
	policies UpdatePolicyWriter
	catalog  ReleaseCatalog       // when set, each sync reads releases from it
	onDone   func(SyncRun, error) // told of every finished run (the server logs them)
	mu       sync.Mutex           // one sync or write-back at a time in this process
}

// SetDirectory makes src the source of the directory and, when rings is not
// nil, writes the rings back to it after every discovery. Call it once,
// before the store serves anything.
func (s *Store) SetDirectory(src DirectorySource, rings RingWriter) {
	s.dir.src, s.dir.rings = src, rings
}

// OnSyncDone makes fn be told of every finished sync and write-back,
// whatever started it (the server logs them). Call it with SetDirectory.
func (s *Store) OnSyncDone(fn func(SyncRun, error)) { s.dir.onDone = fn }

// DirectorySynced reports whether the directory is mirrored from a source.
func (s *Store) DirectorySynced() bool { return s.dir.src != nil }

// SyncKind says what a sync run did.
type SyncKind string

// Sync kinds.
const (
	SyncRead      SyncKind = "sync"
	SyncWriteBack SyncKind = "write-back"
)

// SyncRun is the record of one directory sync or ring write-back.
type SyncRun struct {
	ID         int64
	Kind       SyncKind
	Trigger    Trigger
	Actor      string
	State      RunState // running, completed or failed
	StartedAt  time.Time
	FinishedAt time.Time
	FullRead   bool
	// Read counts the devices read (sync) or the ring memberships wanted
	// (write-back).
	Read     int
	Added    int
	Updated  int
	Removed  int
	Requests int
	Error    string
}

// Summary is the one-line account of a run for the log, CLI and blade.
func (r SyncRun) Summary() string {
	if r.Kind == SyncWriteBack {
		return fmt.Sprintf("%d ring memberships: %d added, %d removed, %d requests", r.Read, r.Added, r.Removed, r.Requests)
	}
	mode := "delta"
	if r.FullRead {
		mode = "full"
	}
	return fmt.Sprintf("%s read of %d devices: %d new, %d updated, %d removed, %d requests",
		mode, r.Read, r.Added, r.Updated, r.Removed, r.Requests)
}

const cursorKey = "cursor"

// SyncDirectory reads the directory source and applies what changed in one
// transaction. Without a source it is refused. A failed sync is recorded
// with its error and changes nothing else.
func (s *Store) SyncDirectory(ctx context.Context, trigger Trigger, actor string) (SyncRun, error) {
	if s.dir.src == nil {
		return SyncRun{}, invalidf("the directory is local (PATCHBOARD_DIRECTORY=local): there is nothing to sync")
	}
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	run, err := s.beginSyncRun(ctx, SyncRead, trigger, actor)
	if err != nil {
		return SyncRun{}, err
	}
	err = s.syncDirectory(ctx, &run)
	return s.finishSyncRun(ctx, run, err)
}

func (s *Store) syncDirectory(ctx context.Context, run *SyncRun) error {
	prev, err := s.directoryState(ctx)
	if err != nil {
		return err
	}
	read, err := s.dir.src.ReadDirectory(ctx, prev)
	run.Requests = read.Requests
	if err != nil {
		return err
	}
	prev = DirectoryState{} // the records are in read now
	if read.FullRead {
		// A full read leaves a tenant's worth of decoded pages behind,
		// garbage the collector would otherwise let pile up under the
		// store's writes: collected now, the sync's peak is what it holds
		// (a tenth less at 100,000 devices) for one collection's CPU.
		runtime.GC()
	}
	run.FullRead, run.Read = read.FullRead, read.Count
	now := time.Now().UTC()
	catalog, err := s.readCatalog(ctx, now)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		moved, err := applyDirectoryDevices(ctx, tx, read, run)
		if err != nil {
			return err
		}
		// The groups' device members are mapped to devices by object ID: an
		// unchanged tree needs applying again only when objects came, went
		// or changed device.
		if read.GroupsChanged || moved {
			if err := applyDirectoryGroups(ctx, tx, read.Groups); err != nil {
				return err
			}
		}
		owners, err := json.Marshal(read.Owners)
		if err != nil {
			return err
		}
		if err := applyCatalog(ctx, tx, catalog, now); err != nil {
			return err
		}
		state := map[string]string{cursorKey: read.Cursor, groupCursorKey: read.GroupCursor, ownersKey: string(owners)}
		if read.GroupsChanged {
			tree, err := json.Marshal(read.Groups)
			if err != nil {
				return err
			}
			state[groupsKey] = string(tree)
		}
		for k, v := range state {
			if _, err := tx.ExecContext(ctx, `INSERT INTO directory_state (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Keys of directory_state besides cursorKey: the groups delta links and the
// registration group's tree as the last good read returned it (JSON).
const (
	groupCursorKey = "group_cursor"
	groupsKey      = "groups"
	ownersKey      = "owners"
)

// directoryState loads what the last good sync left.
func (s *Store) directoryState(ctx context.Context) (DirectoryState, error) {
	st := DirectoryState{Objects: make(map[string]DirectoryObject), Record: s.directoryRecord}
	err := s.read(ctx, func(tx *sql.Tx) error {
		var tree string
		for key, into := range map[string]*string{cursorKey: &st.Cursor, groupCursorKey: &st.GroupCursor, groupsKey: &tree} {
			err := tx.QueryRowContext(ctx, `SELECT value FROM directory_state WHERE key = ?`, key).Scan(into)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if tree != "" {
			if err := json.Unmarshal([]byte(tree), &st.Groups); err != nil {
				// A tree that cannot be read is read again in full.
				st.GroupCursor, st.Groups = "", nil
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT object_id, device_id, source_hash FROM directory_devices`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var o DirectoryObject
			if err := rows.Scan(&id, &o.DeviceID, &o.Fingerprint); err != nil {
				return err
			}
			st.Objects[id] = o
		}
		return rows.Err()
	})
	if err != nil {
		return DirectoryState{}, fmt.Errorf("load directory state: %w", err)
	}
	return st, nil
}

// directoryRecord reads the stored record of a device's object; nil when
// there is none.
func (s *Store) directoryRecord(ctx context.Context, objectID string) ([]byte, error) {
	var rec []byte
	err := s.r.QueryRowContext(ctx, `SELECT record FROM directory_devices WHERE object_id = ?`, objectID).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("directory record %s: %w", objectID, err)
	}
	return rec, nil
}

// directoryHash is the hash of the fields a source fills: what a sync
// compares to skip unchanged devices.
func directoryHash(d *Device) int64 {
	h := fnv.New64a()
	for _, f := range InventoryFields {
		if readinessSignal(f.Key) {
			continue
		}
		h.Write([]byte(f.Value(d)))
		h.Write([]byte{0})
	}
	return int64(h.Sum64())
}

// readinessSignal reports whether an inventory field is reported by devices
// (the signals API) rather than read from the directory.
func readinessSignal(key string) bool {
	switch key {
	case "wu_policy_source", "office_policy_source", "unreachable_endpoints", "internet_connected", "update_alerts":
		return true
	}
	return false
}

type storedObject struct {
	deviceID string
	hash     int64 // of the inventory record written
	fp       int64 // the source's fingerprint
}

// applyDirectoryDevices upserts the devices that changed, keeping their
// readiness signals, and removes the devices the read no longer lists.
// moved reports whether an object came, went or changed its device ID (the
// groups' members then map to other devices).
func applyDirectoryDevices(ctx context.Context, tx *sql.Tx, read DirectoryRead, run *SyncRun) (moved bool, err error) {
	stored := make(map[string]storedObject)
	rows, err := tx.QueryContext(ctx, `SELECT object_id, device_id, hash, source_hash FROM directory_devices`)
	if err != nil {
		return false, err
	}
	for rows.Next() {
		var id string
		var o storedObject
		if err := rows.Scan(&id, &o.deviceID, &o.hash, &o.fp); err != nil {
			rows.Close()
			return false, err
		}
		stored[id] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}

	u, err := newDeviceUpserter(ctx, tx, time.Now())
	if err != nil {
		return false, err
	}
	defer u.close()
	signals, err := tx.PrepareContext(ctx, `SELECT wu_policy_source, office_policy_source, unreachable_endpoints, internet_connected,
		update_alerts FROM devices WHERE device_id = ?`)
	if err != nil {
		return false, err
	}
	defer signals.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO directory_devices (object_id, device_id, record, hash, source_hash) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (object_id) DO UPDATE SET device_id = excluded.device_id, record = excluded.record, hash = excluded.hash,
			source_hash = excluded.source_hash`)
	if err != nil {
		return false, err
	}
	defer put.Close()
	putRecord := func(dd *DirectoryDevice, h int64) error {
		_, err := put.ExecContext(ctx, dd.ObjectID, dd.Device.DeviceID, dd.Record, h, dd.Fingerprint)
		return err
	}

	listed := make(map[string]bool, read.Count) // device IDs
	err = read.Devices(func(dd *DirectoryDevice) error {
		if dd.Unchanged {
			// (Not stored only if another process's sync removed it meanwhile:
			// then it stays out until the next sync reads it.)
			if old, ok := stored[dd.ObjectID]; ok {
				delete(stored, dd.ObjectID)
				listed[old.deviceID] = true
			}
			return nil
		}
		d := &dd.Device
		d.DeviceID = NormalizeDeviceID(d.DeviceID)
		if errs := ValidateDevice(d); len(errs) > 0 {
			return fmt.Errorf("directory device %s: %w", dd.ObjectID, &ValidationError{Errors: errs})
		}
		h := directoryHash(d)
		old, known := stored[dd.ObjectID]
		delete(stored, dd.ObjectID)
		if !known || old.deviceID != d.DeviceID {
			moved = true
		}
		if listed[d.DeviceID] {
			// A second Entra object with the same device ID (a stale
			// registration): the first one read is the device; this one's
			// record is kept so that later syncs still know it.
			return putRecord(dd, h)
		}
		listed[d.DeviceID] = true
		if known && old.hash == h && old.deviceID == d.DeviceID {
			if dd.Changed || dd.Fingerprint != old.fp {
				return putRecord(dd, h)
			}
			return nil
		}
		if err := keepSignals(ctx, signals, d); err != nil {
			return err
		}
		if err := u.upsert(ctx, d); err != nil {
			return err
		}
		return putRecord(dd, h)
	})
	if err != nil {
		return false, err
	}
	res, err := u.result(ctx)
	if err != nil {
		return false, err
	}
	run.Added, run.Updated = res.Inserted, res.Updated

	// What is left of stored has left the directory: deleted in Entra, or
	// missing from a complete read.
	var gone []AuditDevice
	for id, o := range stored {
		moved = true
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_devices WHERE object_id = ?`, id); err != nil {
			return false, err
		}
		if listed[o.deviceID] {
			continue // another object holds the same device ID
		}
		var serial string
		err := tx.QueryRowContext(ctx, `DELETE FROM devices WHERE device_id = ? RETURNING serial_number`, o.deviceID).Scan(&serial)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return false, err
		}
		gone = append(gone, AuditDevice{DeviceID: o.deviceID, SerialNumber: serial})
	}
	run.Removed = len(gone)
	if len(gone) > 0 {
		sort.Slice(gone, func(i, j int) bool { return gone[i].DeviceID < gone[j].DeviceID })
		return moved, recordAudit(ctx, tx, AuditEntry{Actor: syncActor, Action: ActionDirectoryRemove, Target: "entra",
			Outcome: OutcomeSuccess, Detail: fmt.Sprintf("%d devices left the directory", len(gone))}, gone)
	}
	return moved, nil
}

// keepSignals copies the readiness signals and update alerts the device has
// reported into d, which the directory left empty.
func keepSignals(ctx context.Context, stmt *sql.Stmt, d *Device) error {
	var wu, office, endpoints, alerts string
	var internet sql.NullInt64
	err := stmt.QueryRowContext(ctx, d.DeviceID).Scan(&wu, &office, &endpoints, &internet, &alerts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	d.WUPolicySource, d.OfficePolicySource = wu, office
	d.UnreachableEndpoints, d.InternetConnected = splitList(endpoints), signalFromNull(internet)
	d.UpdateAlerts = splitList(alerts)
	return nil
}

const syncActor = "directory sync"

// applyDirectoryGroups mirrors the registration group's tree: the built-in
// group takes the source's registration group, nested groups are created,
// renamed or removed, and each group's members become exactly the read's.
func applyDirectoryGroups(ctx context.Context, tx *sql.Tx, groups []DirectoryGroup) error {
	if len(groups) == 0 || groups[0].Depth != 0 {
		return errors.New("directory read has no registration group")
	}
	now := time.Now().Unix()
	ids := make(map[string]int64, len(groups)) // object ID -> group row
	for _, g := range groups {
		if g.Depth == 0 {
			var id int64
			if err := tx.QueryRowContext(ctx, `UPDATE groups SET kind = 'assigned', rule = '', updated_at = ?
				WHERE builtin = 1 RETURNING id`, now).Scan(&id); err != nil {
				return fmt.Errorf("registration group: %w", err)
			}
			if err := setGroupObject(ctx, tx, id, g.ObjectID); err != nil {
				return err
			}
			ids[g.ObjectID] = id
			continue
		}
		id, err := mirrorGroup(ctx, tx, g, now)
		if err != nil {
			return err
		}
		ids[g.ObjectID] = id
	}
	// Mirrored groups that left the tree are gone from Patchboard too.
	rows, err := tx.QueryContext(ctx, `SELECT g.id, dg.object_id FROM groups g JOIN directory_groups dg ON dg.group_id = g.id WHERE g.builtin = 0`)
	if err != nil {
		return err
	}
	var stale []int64
	for rows.Next() {
		var id int64
		var oid string
		if err := rows.Scan(&id, &oid); err != nil {
			rows.Close()
			return err
		}
		if _, ok := ids[oid]; !ok {
			stale = append(stale, id)
		}
	}
	rows.Close()
	for _, id := range stale {
		if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id); err != nil {
			return err
		}
	}

	devicePKs, err := directoryDevicePKs(ctx, tx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		want := make(map[[2]int64]bool)
		for _, oid := range g.Devices {
			if pk, ok := devicePKs[oid]; ok {
				want[[2]int64{pk, 0}] = true
			}
		}
		for _, oid := range g.Groups {
			if id, ok := ids[oid]; ok && id != ids[g.ObjectID] {
				want[[2]int64{0, id}] = true
			}
		}
		if err := setGroupMembers(ctx, tx, ids[g.ObjectID], want, now); err != nil {
			return fmt.Errorf("members of group %s: %w", g.Name, err)
		}
	}
	return nil
}

// mirrorGroup creates or renames the row of a mirrored group. A local group
// may hold the name already: the mirrored one is then told apart by the
// start of its object ID.
func mirrorGroup(ctx context.Context, tx *sql.Tx, g DirectoryGroup, now int64) (int64, error) {
	name := strings.TrimSpace(g.Name)
	if name == "" || len(name) > maxGroupName {
		name = "Entra group " + g.ObjectID
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT group_id FROM directory_groups WHERE object_id = ?`, g.ObjectID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	known := id != 0
	for _, n := range []string{name, fmt.Sprintf("%s (%.8s)", name, g.ObjectID)} {
		if known {
			_, err = tx.ExecContext(ctx, `UPDATE groups SET name = ?, updated_at = ? WHERE id = ? AND name <> ?`, n, now, id, n)
		} else {
			err = tx.QueryRowContext(ctx, `INSERT INTO groups (name, kind, created_at, updated_at)
				VALUES (?, 'assigned', ?, ?) RETURNING id`, n, now, now).Scan(&id)
		}
		if !isUniqueViolation(err) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", g.ObjectID, err)
	}
	if !known {
		if err := setGroupObject(ctx, tx, id, g.ObjectID); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// setGroupObject records that group id mirrors the directory's objectID.
func setGroupObject(ctx context.Context, tx *sql.Tx, id int64, objectID string) error {
	// Another row may have mirrored it before (as a nested group, when the
	// registration group was another): that mirror goes.
	if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE builtin = 0 AND id IN
		(SELECT group_id FROM directory_groups WHERE object_id = ? AND group_id <> ?)`, objectID, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO directory_groups (group_id, object_id) VALUES (?, ?)
		ON CONFLICT (group_id) DO UPDATE SET object_id = excluded.object_id`, id, objectID)
	return err
}

// directoryDevicePKs maps the object ID of each mirrored device to its row.
func directoryDevicePKs(ctx context.Context, tx *sql.Tx) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT dd.object_id, d.id FROM directory_devices dd JOIN devices d ON d.device_id = dd.device_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pks := make(map[string]int64)
	for rows.Next() {
		var oid string
		var pk int64
		if err := rows.Scan(&oid, &pk); err != nil {
			return nil, err
		}
		pks[oid] = pk
	}
	return pks, rows.Err()
}

// setGroupMembers makes the group's members exactly want ({device, 0} or
// {0, group}), writing only the difference.
func setGroupMembers(ctx context.Context, tx *sql.Tx, groupID int64, want map[[2]int64]bool, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT coalesce(device_pk, 0), coalesce(member_group_id, 0) FROM group_members WHERE group_id = ?`, groupID)
	if err != nil {
		return err
	}
	var drop [][2]int64
	for rows.Next() {
		var m [2]int64
		if err := rows.Scan(&m[0], &m[1]); err != nil {
			rows.Close()
			return err
		}
		if want[m] {
			delete(want, m)
		} else {
			drop = append(drop, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range drop {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND device_pk IS ? AND member_group_id IS ?`,
			groupID, nullID(m[0]), nullID(m[1])); err != nil {
			return err
		}
	}
	add, err := tx.PrepareContext(ctx, `INSERT INTO group_members (group_id, device_pk, member_group_id, added_at, added_by) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer add.Close()
	for m := range want {
		if _, err := add.ExecContext(ctx, groupID, nullID(m[0]), nullID(m[1]), now, syncActor); err != nil {
			return err
		}
	}
	return nil
}

// WriteBackRings makes the source's ring groups' members equal to the
// rings: every registered device in a ring that the directory holds.
func (s *Store) WriteBackRings(ctx context.Context, trigger Trigger, actor string) (SyncRun, error) {
	if s.dir.rings == nil {
		return SyncRun{}, invalidf("ring write-back is off (PATCHBOARD_GRAPH_WRITE_BACK=on turns it on)")
	}
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	run, err := s.beginSyncRun(ctx, SyncWriteBack, trigger, actor)
	if err != nil {
		return SyncRun{}, err
	}
	want, err := s.ringMembers(ctx)
	if err == nil {
		for _, ids := range want {
			run.Read += len(ids)
		}
		var res RingWriteResult
		res, err = s.dir.rings.WriteRings(ctx, want)
		run.Added, run.Removed, run.Requests = res.Added, res.Removed, res.Requests
	}
	if err == nil && s.dir.policies != nil {
		// An unenrolled tenant's update policies were deleted: none are
		// written again.
		var gone bool
		if gone, err = s.Unenrolled(ctx); err == nil && !gone {
			_, err = s.syncUpdatePolicies(ctx, time.Now().UTC())
		}
	}
	return s.finishSyncRun(ctx, run, err)
}

// ringMembers lists the object IDs of the mirrored devices in each ring.
func (s *Store) ringMembers(ctx context.Context) (map[Ring][]string, error) {
	want := make(map[Ring][]string, len(Rings))
	for _, r := range Rings {
		want[r] = nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.ring, dd.object_id FROM devices d
			JOIN directory_devices dd ON dd.device_id = d.device_id WHERE d.ring IS NOT NULL ORDER BY dd.object_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r Ring
			var oid string
			if err := rows.Scan(&r, &oid); err != nil {
				return err
			}
			want[r] = append(want[r], oid)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("ring members: %w", err)
	}
	return want, nil
}

func (s *Store) beginSyncRun(ctx context.Context, kind SyncKind, trigger Trigger, actor string) (SyncRun, error) {
	run := SyncRun{Kind: kind, Trigger: trigger, Actor: actor, State: RunRunning, StartedAt: time.Now().UTC().Truncate(time.Second)}
	err := s.write(ctx, func(tx *sql.Tx) error {
		// A run left running by a process that died failed.
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET state = 'failed', finished_at = started_at,
			error = 'interrupted: the process stopped during the run' WHERE state = 'running' AND kind = ?`, kind); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO sync_runs (kind, trigger, actor, state, started_at) VALUES (?, ?, ?, 'running', ?) RETURNING id`,
			kind, trigger, actor, run.StartedAt.Unix()).Scan(&run.ID)
	})
	if err != nil {
		return SyncRun{}, fmt.Errorf("start %s: %w", kind, err)
	}
	return run, nil
}

// finishSyncRun records the run's outcome (also when ctx is done) and
// returns it with runErr.
func (s *Store) finishSyncRun(ctx context.Context, run SyncRun, runErr error) (SyncRun, error) {
	run.FinishedAt = time.Now().UTC().Truncate(time.Second)
	run.State = RunCompleted
	if runErr != nil {
		run.State, run.Error = RunFailed, runErr.Error()
	}
	err := s.write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sync_runs SET state = ?, finished_at = ?, full_read = ?, read = ?, added = ?,
			updated = ?, removed = ?, requests = ?, error = ? WHERE id = ?`,
			run.State, run.FinishedAt.Unix(), run.FullRead, run.Read, run.Added, run.Updated, run.Removed, run.Requests, run.Error, run.ID)
		if err != nil {
			return err
		}
		outcome := OutcomeSuccess
		if runErr != nil {
			outcome = OutcomeFailure
		}
		detail := fmt.Sprintf("run %d %s: %s", run.ID, run.State, run.Summary())
		if run.Error != "" {
			detail += "; error: " + run.Error
		}
		if err := recordConnectorFault(ctx, tx, run, runErr); err != nil {
			return err
		}
		return recordAudit(ctx, tx, AuditEntry{At: run.FinishedAt, Actor: run.Actor, Action: syncAction(run.Kind),
			Target: string(run.Trigger), Outcome: outcome, Detail: detail}, nil)
	})
	// The connector's alerts follow every run (as discovery's do); a failed
	// evaluation is retried by the next run or the alert timer.
	_ = s.EvaluateAlerts(context.WithoutCancel(ctx), run.FinishedAt, false)
	if runErr == nil {
		runErr = err
	}
	if runErr != nil {
		runErr = fmt.Errorf("directory %s run %d: %w", run.Kind, run.ID, runErr)
	}
	if s.dir.onDone != nil {
		s.dir.onDone(run, runErr)
	}
	return run, runErr
}

func syncAction(k SyncKind) string {
	if k == SyncWriteBack {
		return ActionDirectoryWriteBack
	}
	return ActionDirectorySync
}

type syncStatus struct {
	last     *SyncRun
	lastGood time.Time
}

// syncStatus reads the last sync and when the last good one finished.
func (s *Store) syncStatus(ctx context.Context) (syncStatus, error) {
	var st syncStatus
	last, err := s.LastSyncRun(ctx, SyncRead)
	if errors.Is(err, ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.last = &last
	var good sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(finished_at) FROM sync_runs WHERE kind = 'sync' AND state = 'completed'`).Scan(&good); err != nil {
		return st, fmt.Errorf("last good sync: %w", err)
	}
	st.lastGood = fromUnix(good)
	return st, nil
}

// LastSyncRun returns the latest record of the kind; ErrNotFound when there
// is none.
func (s *Store) LastSyncRun(ctx context.Context, kind SyncKind) (SyncRun, error) {
	var r SyncRun
	var started int64
	var finished sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT id, kind, trigger, actor, state, started_at, finished_at, full_read, read,
		added, updated, removed, requests, error FROM sync_runs WHERE kind = ? ORDER BY id DESC LIMIT 1`, kind).
		Scan(&r.ID, &r.Kind, &r.Trigger, &r.Actor, &r.State, &started, &finished, &r.FullRead, &r.Read,
			&r.Added, &r.Updated, &r.Removed, &r.Requests, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return SyncRun{}, notFoundf("no directory %s has run yet", kind)
	}
	if err != nil {
		return SyncRun{}, fmt.Errorf("last %s: %w", kind, err)
	}
	r.StartedAt, r.FinishedAt = time.Unix(started, 0).UTC(), fromUnix(finished)
	return r, nil
}
