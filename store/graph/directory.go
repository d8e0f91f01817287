package graph

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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
	records, changed, cursor, full, err := g.entraDevices(ctx, prev)
	if err != nil {
		return read, err
	}
	read.Cursor, read.FullRead = cursor, full
	managed, err := g.managedDevices(ctx)
	if err != nil {
		return read, err
	}
	cloudPCs, err := g.cloudPCs(ctx)
	if err != nil {
		return read, err
	}
	// In object ID order, so that every sync sees the same one first where
	// two objects share a device ID.
	ids := make([]string, 0, len(records))
	for id := range records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	read.Count = len(ids)
	// Each device is mapped as the store takes it: a tenant's worth of
	// inventory records never sits in memory at once.
	read.Devices = func(each func(*store.DirectoryDevice) error) error {
		var dd store.DirectoryDevice
		for _, id := range ids {
			var head struct {
				DeviceID string `json:"deviceId"`
			}
			var ok bool
			if head.DeviceID, ok = stringProp(records[id], "deviceId"); !ok {
				if err := json.Unmarshal(records[id], &head); err != nil {
					return fmt.Errorf("device %s: %w", id, err)
				}
			}
			key := strings.ToLower(head.DeviceID)
			mr, cpc := managed[key], cloudPCs[key]
			dd = store.DirectoryDevice{ObjectID: id, Record: records[id], Changed: changed[id], Fingerprint: fingerprint(records[id], mr, cpc)}
			if prev, ok := prev.Fingerprints[id]; ok && prev == dd.Fingerprint && !dd.Changed {
				dd.Unchanged = true // nothing it is mapped from changed: not mapped again
			} else {
				var e entraDevice
				if err := json.Unmarshal(records[id], &e); err != nil {
					return fmt.Errorf("device %s: %w", id, err)
				}
				m, err := mr.decode()
				if err != nil {
					return err
				}
				d, ok := mapDevice(&e, m, cpc)
				if !ok {
					continue // no device ID: nothing Patchboard can identify it by
				}
				dd.Device = *d
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

// entraDevices runs the devices delta query. With a delta link it applies
// the changes to prev's records; without one, or when Graph answers that
// the link's state is gone (410 Gone, syncStateNotFound or
// resyncRequired), it reads every device. changed marks the records that
// differ from prev's.
func (g *Connector) entraDevices(ctx context.Context, prev store.DirectoryState) (records map[string][]byte, changed map[string]bool, cursor string, full bool, err error) {
	if prev.Cursor != "" {
		records, changed, cursor, err = g.deltaRound(ctx, prev.Cursor, prev.Records)
		if err == nil || !lostDeltaState(err) {
			return records, changed, cursor, false, err
		}
	}
	first := url.Values{"$select": {devicesSelect}}
	records, changed, cursor, err = g.deltaRound(ctx, devicesPath+"?"+first.Encode(), nil)
	if err != nil {
		return nil, nil, "", true, err
	}
	for id, rec := range records {
		if !bytes.Equal(rec, prev.Records[id]) {
			changed[id] = true
		}
	}
	return records, changed, cursor, true, nil
}

// deltaRound follows one delta round from link to its @odata.deltaLink,
// applying each page to base (nil: start from nothing).
func (g *Connector) deltaRound(ctx context.Context, link string, base map[string][]byte) (map[string][]byte, map[string]bool, string, error) {
	records := base
	if records == nil {
		records = make(map[string][]byte)
	}
	changed := make(map[string]bool)
	r := request{method: http.MethodGet, path: link, permission: devicesPermission,
		header: http.Header{"Prefer": {fmt.Sprintf("odata.maxpagesize=%d", pageSize)}}}
	deltaLink, err := g.client.pages(ctx, r, func(items []json.RawMessage) error {
		for _, raw := range items {
			var head struct {
				ID      string          `json:"id"`
				Removed json.RawMessage `json:"@removed"`
			}
			if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" {
				return fmt.Errorf("Microsoft Graph devices delta: an item without an id")
			}
			id := strings.ToLower(head.ID)
			switch {
			case head.Removed != nil:
				delete(records, id)
				delete(changed, id)
			case base != nil && records[id] != nil:
				// An updated object carries at least its changed properties.
				merged, err := mergeObject(records[id], raw)
				if err != nil {
					return fmt.Errorf("device %s: %w", id, err)
				}
				records[id], changed[id] = merged, true
			default:
				records[id], changed[id] = raw, true // decoding copied it
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	if deltaLink == "" {
		return nil, nil, "", errors.New("Microsoft Graph devices delta ended without an @odata.deltaLink")
	}
	return records, changed, deltaLink, nil
}

// fingerprint is the hash of everything a device is mapped from: its Entra
// record, its managed device, whether it is a Cloud PC, and the mapping
// itself (the inventory schema's fields and mappingVersion), so that a new
// field or a changed rule maps every device again.
func fingerprint(record []byte, m *managedRecord, cpc *cloudPC) int64 {
	h := fnv.New64a()
	h.Write(record)
	var extra [17]byte
	if m != nil {
		binary.LittleEndian.PutUint64(extra[:8], m.hash)
	}
	binary.LittleEndian.PutUint64(extra[8:16], mappingHash())
	if cpc != nil {
		extra[16] = 1
	}
	h.Write(extra[:])
	return int64(h.Sum64())
}

// mappingVersion changes whenever mapDevice maps something differently.
const mappingVersion = "1"

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

// managedDevices reads every Intune managed device, keyed by its Entra
// device ID (lower case).
func (g *Connector) managedDevices(ctx context.Context) (map[string]*managedRecord, error) {
	q := url.Values{"$select": {managedSelect}, "$top": {fmt.Sprint(pageSize)}}
	out := make(map[string]*managedRecord)
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
				if old := out[key]; old == nil || head.LastSyncDateTime > old.lastSync {
					out[key] = &managedRecord{raw: raw, hash: hashBytes(raw), lastSync: head.LastSyncDateTime}
				}
			}
			return nil
		})
	return out, err
}

// managedRecord is a managed device as read: it is decoded only when its
// device is mapped, which a delta sync does for the few that changed.
type managedRecord struct {
	raw      []byte
	hash     uint64
	lastSync string
}

func (r *managedRecord) decode() (*managedDevice, error) {
	if r == nil {
		return nil, nil
	}
	m := new(managedDevice)
	if err := json.Unmarshal(r.raw, m); err != nil {
		return nil, fmt.Errorf("Microsoft Graph managed device: %w", err)
	}
	return m, nil
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
