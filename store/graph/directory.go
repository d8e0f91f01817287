package graph

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"patchboard/store"
)

// The reads of a sync, each with the application permission it needs
// (least privilege; the README lists them for the app registration).
const (
	// Entra devices, by delta query (v1.0).
	devicesPath       = "v1.0/devices/delta"
	devicesSelect     = "id,deviceId,displayName,operatingSystem,operatingSystemVersion,trustType,accountEnabled,deviceOwnership,enrollmentProfileName,enrollmentType,manufacturer,model,physicalIds,profileType,systemLabels,extensionAttributes,deviceCategory,managementType,mdmAppId"
	devicesPermission = "Device.Read.All"

	// Intune managed devices. beta: v1.0 lacks the SKU, the processor
	// architecture and the Office workload of co-management.
	managedPath       = "beta/deviceManagement/managedDevices"
	managedSelect     = "id,azureADDeviceId,deviceName,managedDeviceOwnerType,managementAgent,lastSyncDateTime,operatingSystem,osVersion,serialNumber,manufacturer,model,skuFamily,skuNumber,processorArchitecture,configurationManagerClientEnabledFeatures"
	managedPermission = "DeviceManagementManagedDevices.Read.All"

	// Windows 365 Cloud PCs (v1.0).
	cloudPCsPath       = "v1.0/deviceManagement/virtualEndpoint/cloudPCs"
	cloudPCsSelect     = "id,aadDeviceId,managedDeviceId,displayName,provisioningType"
	cloudPCsPermission = "CloudPC.Read.All"

	// The registration group and the groups nested in it (v1.0).
	groupPermission = "GroupMember.Read.All"

	// pageSize is the largest page the directory serves ($top and
	// odata.maxpagesize allow up to 999).
	pageSize = 999
)

// ReadDirectory reads Entra devices (the changes since prev's delta link
// when there is one, merged into prev's records; everything otherwise or
// when Graph has lost the delta token), every Intune managed device and
// Cloud PC, and the registration group's tree, and maps each device to an
// inventory record.
func (g *Connector) ReadDirectory(ctx context.Context, prev store.DirectoryState) (store.DirectoryRead, error) {
	start := g.client.Requests()
	read, err := g.readDirectory(ctx, prev)
	read.Requests = g.client.Requests() - start
	return read, err
}

func (g *Connector) readDirectory(ctx context.Context, prev store.DirectoryState) (store.DirectoryRead, error) {
	var read store.DirectoryRead
	ents, err := g.entraDevices(ctx, prev)
	if err != nil {
		return read, err
	}
	read.Cursor, read.FullRead = ents.cursor, ents.full
	cloudPCs, err := g.cloudPCs(ctx)
	if err != nil {
		return read, err
	}
	managed, err := g.managedDevices(ctx, ents.needsMapping(prev, cloudPCs))
	if err != nil {
		return read, err
	}
	// In object ID order, so that every sync sees the same one first where
	// two objects share a device ID.
	ids := ents.objects(prev)
	read.Count = len(ids)
	if ents.full {
		// Every record was read again: the stored objects are not looked at
		// any more, and need not stay in memory while the store writes.
		prev.Objects = nil
	}
	// Each device is mapped as the store takes it: a tenant's worth of
	// inventory records never sits in memory at once. Each Entra record is
	// let go once passed (the store has written it then), so that a full
	// read's memory shrinks as the store writes: the devices are passed once.
	passed := false
	read.Devices = func(each func(*store.DirectoryDevice) error) error {
		if passed {
			return errors.New("Microsoft Graph directory read: its devices were passed already")
		}
		passed = true
		var dd store.DirectoryDevice
		for _, id := range ids {
			rec, changed := ents.records[id]
			key, err := ents.deviceKey(id, prev)
			if err != nil {
				return err
			}
			delete(ents.records, id)
			mr, cpc := managed[key], cloudPCs[key]
			dd = store.DirectoryDevice{ObjectID: id, Changed: changed, Fingerprint: fingerprint(mr, cpc)}
			if old, ok := prev.Objects[id]; ok && !changed && old.Fingerprint == dd.Fingerprint {
				dd.Unchanged = true // nothing it is mapped from changed: not mapped again
			} else {
				if !changed {
					// Its managed device or Cloud PC changed: map the stored record again.
					if rec, err = prev.Record(ctx, id); err != nil {
						return err
					}
					if rec == nil {
						continue // another process's sync removed it meanwhile: the next sync reads it
					}
				}
				var e entraDevice
				if err := json.Unmarshal(rec, &e); err != nil {
					return fmt.Errorf("device %s: %w", id, err)
				}
				m, err := mr.decoded()
				if err != nil {
					return err
				}
				d, ok := mapDevice(&e, m, cpc)
				if !ok {
					continue // no device ID: nothing Patchboard can identify it by
				}
				dd.Record, dd.Device = rec, *d
			}
			if err := each(&dd); err != nil {
				return err
			}
		}
		return nil
	}
	read.Groups, read.GroupCursor, read.GroupsChanged, err = g.registrationTree(ctx, prev)
	if err != nil {
		return read, err
	}
	read.Owners, err = g.registrationOwners(ctx)
	return read, err
}

// entraRead is what the devices delta query returned: the records of the
// objects that are new or changed (all of them in a full read) and the
// objects deleted.
type entraRead struct {
	records map[string][]byte
	removed map[string]bool
	cursor  string
	full    bool
}

// objects lists the object IDs the directory holds now, sorted: after a
// full read the records read, after a delta read the stored objects that
// were not deleted and the new ones.
func (r *entraRead) objects(prev store.DirectoryState) []string {
	ids := make([]string, 0, len(prev.Objects)+len(r.records))
	for id := range r.records {
		ids = append(ids, id)
	}
	if !r.full {
		for id := range prev.Objects {
			if _, ok := r.records[id]; !ok && !r.removed[id] {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// deviceKey is an object's device ID in lower case: from its record when
// it was read, else as stored.
func (r *entraRead) deviceKey(id string, prev store.DirectoryState) (string, error) {
	rec, ok := r.records[id]
	if !ok {
		return strings.ToLower(prev.Objects[id].DeviceID), nil
	}
	deviceID, ok := stringProp(rec, "deviceId")
	if !ok {
		var head struct {
			DeviceID string `json:"deviceId"`
		}
		if err := json.Unmarshal(rec, &head); err != nil {
			return "", fmt.Errorf("device %s: %w", id, err)
		}
		deviceID = head.DeviceID
	}
	return strings.ToLower(deviceID), nil
}

// needsMapping returns the test the managed devices read uses to decide
// whether to keep a managed device's record: only the devices that will
// be mapped again need it (all in a full read; in a delta read those whose
// Entra record changed, and those whose managed device or Cloud PC did).
// Every other managed device is kept as its hash.
func (r *entraRead) needsMapping(prev store.DirectoryState, cloudPCs map[string]*cloudPC) func(key string, hash uint64) bool {
	if r.full {
		return func(string, uint64) bool { return true }
	}
	stored := make(map[string][]int64, len(prev.Objects)) // device key -> fingerprints
	for id, o := range prev.Objects {
		if _, changed := r.records[id]; !changed && !r.removed[id] {
			key := strings.ToLower(o.DeviceID)
			stored[key] = append(stored[key], o.Fingerprint)
		}
	}
	for id := range r.records {
		if key, err := r.deviceKey(id, prev); err == nil {
			stored[key] = append(stored[key], 0) // mapped again whatever its fingerprint
		}
	}
	return func(key string, hash uint64) bool {
		fps, ok := stored[key]
		if !ok {
			return false // no Entra object has it: never mapped
		}
		want := fingerprint(&managedRecord{hash: hash}, cloudPCs[key])
		for _, fp := range fps {
			if fp != want {
				return true
			}
		}
		return false
	}
}

// entraDevices runs the devices delta query. With a delta link it reads
// the changes since; without one, or when Graph answers that the link's
// state is gone (410 Gone, syncStateNotFound or resyncRequired), it reads
// every device, and every record counts as changed.
func (g *Connector) entraDevices(ctx context.Context, prev store.DirectoryState) (*entraRead, error) {
	if prev.Cursor != "" {
		r, err := g.deltaRound(ctx, prev.Cursor, &prev)
		if err == nil || !lostDeltaState(err) {
			return r, err
		}
	}
	first := url.Values{"$select": {devicesSelect}}
	r, err := g.deltaRound(ctx, devicesPath+"?"+first.Encode(), nil)
	if err != nil {
		return nil, err
	}
	r.full = true
	return r, nil
}

// deltaRound follows one delta round from link to its @odata.deltaLink. A
// changed object's properties are merged into its record: the one read
// earlier in the round, else prev's stored one (nil prev: a full read).
func (g *Connector) deltaRound(ctx context.Context, link string, prev *store.DirectoryState) (*entraRead, error) {
	out := &entraRead{records: make(map[string][]byte), removed: make(map[string]bool)}
	r := request{method: http.MethodGet, path: link, permission: devicesPermission,
		header: http.Header{"Prefer": {fmt.Sprintf("odata.maxpagesize=%d", pageSize)}}}
	deltaLink, err := g.client.pages(ctx, r, func(items []json.RawMessage) error {
		for _, raw := range items {
			var head struct {
				ID      string          `json:"id"`
				Removed json.RawMessage `json:"@removed"`
			}
			var ok bool
			if head.ID, ok = stringProp(raw, "id"); !ok || bytes.Contains(raw, []byte(`"@removed"`)) {
				if err := json.Unmarshal(raw, &head); err != nil {
					return fmt.Errorf("Microsoft Graph devices delta: %w", err)
				}
			}
			if head.ID == "" {
				return fmt.Errorf("Microsoft Graph devices delta: an item without an id")
			}
			id := strings.ToLower(head.ID)
			if head.Removed != nil {
				delete(out.records, id)
				out.removed[id] = true
				continue
			}
			delete(out.removed, id)
			base := out.records[id]
			if base == nil && prev != nil {
				if _, known := prev.Objects[id]; known {
					var err error
					if base, err = prev.Record(ctx, id); err != nil {
						return err
					}
				}
			}
			var err error
			rec := []byte(raw)
			if base != nil {
				// An updated object carries at least its changed properties.
				rec, err = mergeObject(base, raw)
			}
			if err == nil {
				rec, err = compactRecord(rec)
			}
			if err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			out.records[id] = rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if deltaLink == "" {
		return nil, errors.New("Microsoft Graph devices delta ended without an @odata.deltaLink")
	}
	out.cursor = deltaLink
	return out, nil
}

// fingerprint is the hash of what a device is mapped from besides its
// Entra record (which a delta query says changed or not): its managed
// device, whether it is a Cloud PC, and the mapping itself (the inventory
// schema's fields and mappingVersion), so that a new field or a changed
// rule maps every device again.
func fingerprint(m *managedRecord, cpc *cloudPC) int64 {
	var b [17]byte
	if m != nil {
		binary.LittleEndian.PutUint64(b[:8], m.hash)
	}
	binary.LittleEndian.PutUint64(b[8:16], mappingHash())
	if cpc != nil {
		b[16] = 1
	}
	return int64(hashBytes(b[:]))
}

// mappingVersion changes whenever mapDevice maps something differently.
const mappingVersion = "2"

var mappingHash = sync.OnceValue(func() uint64 {
	h := fnv.New64a()
	h.Write([]byte(mappingVersion))
	for _, f := range store.InventoryFields {
		h.Write([]byte{0})
		h.Write([]byte(f.Key))
	}
	return h.Sum64()
})

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// lostDeltaState reports whether Graph no longer holds a delta link's state.
func lostDeltaState(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return false
	}
	return ge.Status == http.StatusGone || ge.Code == "syncStateNotFound" || ge.Code == "resyncRequired" ||
		ge.Code == "syncStateInvalid"
}

// mergeObject overlays the properties of change on base (both JSON objects).
func mergeObject(base, change []byte) ([]byte, error) {
	var m, c map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(change, &c); err != nil {
		return nil, err
	}
	for k, v := range c {
		m[k] = v
	}
	return json.Marshal(m)
}

// compactRecord re-encodes a device object with only the properties mapping
// reads that hold a value: a full read holds every device's record at once,
// and Graph sends each selected property, the null and empty ones too (most
// of the fifteen extension attributes are null). Decoding reads a property
// left out as an empty one.
func compactRecord(obj []byte) ([]byte, error) {
	var e entraDevice
	if err := json.Unmarshal(obj, &e); err != nil {
		return nil, err
	}
	maps.DeleteFunc(e.ExtensionAttributes, func(_, v string) bool { return v == "" })
	return json.Marshal(&e)
}

// managedDevices reads every Intune managed device, keyed by its Entra
// device ID (lower case).
// keep says whether a managed device's properties are kept (its device will
// be mapped); otherwise only its hash is.
func (g *Connector) managedDevices(ctx context.Context, keep func(key string, hash uint64) bool) (map[string]*managedRecord, error) {
	q := url.Values{"$select": {managedSelect}, "$top": {fmt.Sprint(pageSize)}}
	out := make(map[string]*managedRecord)
	lastSync := make(map[string]string) // by key, only to choose between a device's records
	kinds := make(map[managedKind]*managedKind)
	_, err := g.client.pages(ctx, request{method: http.MethodGet, path: managedPath + "?" + q.Encode(), permission: managedPermission},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				var head struct {
					AzureADDeviceID  string `json:"azureADDeviceId"`
					LastSyncDateTime string `json:"lastSyncDateTime"`
				}
				var ok bool
				if head.AzureADDeviceID, ok = stringProp(raw, "azureADDeviceId"); ok {
					head.LastSyncDateTime, ok = stringProp(raw, "lastSyncDateTime")
				}
				if !ok {
					if err := json.Unmarshal(raw, &head); err != nil {
						return fmt.Errorf("Microsoft Graph managed device: %w", err)
					}
				}
				key := strings.ToLower(head.AzureADDeviceID)
				if key == "" || key == "00000000-0000-0000-0000-000000000000" {
					continue // not registered in Entra ID
				}
				// Two records for one device (re-enrolment): the last sync
				// wins (RFC 3339 times in UTC sort as text).
				if old, ok := lastSync[key]; !ok || head.LastSyncDateTime > old {
					lastSync[key] = head.LastSyncDateTime
					r := &managedRecord{hash: hashBytes(raw)}
					if keep(key, r.hash) {
						var err error
						if r.device, err = decodeManaged(raw, kinds); err != nil {
							return err
						}
					}
					out[key] = r
				}
			}
			return nil
		})
	return out, err
}

// decodeManaged decodes a managed device. Its kind is shared with the
// devices decoded before it that are alike (kinds): a full read keeps a
// managed device per device, most of them of a few kinds. The cap bounds
// kinds for a tenant whose devices are all different.
func decodeManaged(raw []byte, kinds map[managedKind]*managedKind) (*managedDevice, error) {
	m := &managedDevice{managedKind: new(managedKind)}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("Microsoft Graph managed device: %w", err)
	}
	if k, ok := kinds[*m.managedKind]; ok {
		m.managedKind = k
	} else if len(kinds) < 10_000 {
		kinds[*m.managedKind] = m.managedKind
	}
	return m, nil
}

// managedRecord is a managed device as read. Only a device that will be
// mapped keeps its properties, decoded rather than as JSON: a full read
// keeps a tenant's worth, and the decoded form is a fraction of the size.
// Every other one is kept as its hash.
type managedRecord struct {
	device *managedDevice // nil when its device is not mapped again
	hash   uint64
}

// decoded returns the managed device to map; nil when there is none.
func (r *managedRecord) decoded() (*managedDevice, error) {
	if r == nil {
		return nil, nil
	}
	if r.device == nil {
		return nil, errors.New("Microsoft Graph managed device: its record was not kept for mapping")
	}
	return r.device, nil
}

// stringProp finds a string property of a compact JSON object without
// decoding it: "name":"value" with no escapes in the value. ok is false when
// it is not there in that form (the caller then decodes). An escaped quote
// inside another string cannot match, as it reads \".
func stringProp(obj []byte, name string) (string, bool) {
	key := make([]byte, 0, len(name)+4)
	key = append(append(append(key, '"'), name...), '"', ':')
	i := bytes.Index(obj, key)
	if i < 0 {
		return "", false
	}
	rest := obj[i+len(key):]
	if bytes.HasPrefix(rest, []byte("null")) {
		return "", true
	}
	if len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// cloudPCs reads the Windows 365 Cloud PCs, keyed by Entra device ID.
func (g *Connector) cloudPCs(ctx context.Context) (map[string]*cloudPC, error) {
	q := url.Values{"$select": {cloudPCsSelect}}
	out := make(map[string]*cloudPC)
	_, err := g.client.pages(ctx, request{method: http.MethodGet, path: cloudPCsPath + "?" + q.Encode(), permission: cloudPCsPermission},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				c := new(cloudPC)
				if err := json.Unmarshal(raw, c); err != nil {
					return fmt.Errorf("Microsoft Graph Cloud PC: %w", err)
				}
				if c.AADDeviceID != "" {
					out[strings.ToLower(c.AADDeviceID)] = c
				}
			}
			return nil
		})
	return out, err
}
