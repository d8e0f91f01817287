package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"patchboard/store"
)

// Actor is who the demo's writes are recorded as in the audit log.
const Actor = "demo"

// batchSize bounds how many devices one store call writes, so that loading a
// million devices holds one batch of work at a time.
const batchSize = 10_000

// Backdate is how long before now the first discovery run of Load happens,
// so that the fleet has devices registered a month ago.
const Backdate = 30 * 24 * time.Hour

// Load writes f into st, which should be a new, empty store, and runs
// discovery the way a month of operation would have:
//
//  1. the devices (except the hardware-repair replacements) in batches,
//     the groups, their nesting and their memberships;
//  2. a discovery run at now − 30 days, which registers the healthy
//     devices and the old records of repaired devices;
//  3. the replacements and their memberships (the repairs happened since);
//  4. a discovery run at now: devices that stopped checking in become
//     Inactive and the replacements fail hardware-identity because the old
//     record still holds their serial number;
//  5. the deregistrations and the Test ring assignments of f.
//
// It returns the record of the second discovery run. now should be the Now
// f was generated with.
func Load(ctx context.Context, st *store.Store, f Fleet, now time.Time) (store.DiscoveryRun, error) {
	if now.IsZero() {
		return store.DiscoveryRun{}, fmt.Errorf("load demo: %w: now is required", store.ErrInvalid)
	}
	later := make(map[string]bool, len(f.Replacements))
	for _, id := range f.Replacements {
		later[store.NormalizeDeviceID(id)] = true
	}
	isLater := func(id string) bool { return later[store.NormalizeDeviceID(id)] }

	first, rest := split(f.Devices, func(d *store.Device) bool { return isLater(d.DeviceID) })
	if err := upsert(ctx, st, first); err != nil {
		return store.DiscoveryRun{}, err
	}
	for _, g := range f.Groups {
		if isRegistrationGroup(g.Name) {
			continue // built in
		}
		if _, err := st.CreateGroup(ctx, g.Name, g.Rule, Actor); err != nil {
			return store.DiscoveryRun{}, fmt.Errorf("load demo: %w", err)
		}
	}
	for _, g := range f.Groups {
		if g.Parent == "" {
			continue
		}
		if err := st.NestGroup(ctx, g.Parent, g.Name, Actor); err != nil {
			return store.DiscoveryRun{}, fmt.Errorf("load demo: %w", err)
		}
	}
	if err := addMembers(ctx, st, f.Groups, func(id string) bool { return !isLater(id) }); err != nil {
		return store.DiscoveryRun{}, err
	}

	if _, err := st.Discover(ctx, store.TriggerSchedule, Actor, now.Add(-Backdate)); err != nil {
		return store.DiscoveryRun{}, fmt.Errorf("load demo: first discovery: %w", err)
	}

	if len(rest) > 0 {
		if err := upsert(ctx, st, rest); err != nil {
			return store.DiscoveryRun{}, err
		}
		if err := addMembers(ctx, st, f.Groups, isLater); err != nil {
			return store.DiscoveryRun{}, err
		}
	}
	run, err := st.Discover(ctx, store.TriggerCLI, Actor, now)
	if err != nil {
		return store.DiscoveryRun{}, fmt.Errorf("load demo: second discovery: %w", err)
	}

	for ids := range slices.Chunk(f.Deregister, batchSize) {
		if _, err := st.Deregister(ctx, ids, Actor); err != nil {
			return store.DiscoveryRun{}, fmt.Errorf("load demo: %w", err)
		}
	}
	for ids := range slices.Chunk(f.TestRing, batchSize) {
		if _, err := st.AssignRing(ctx, store.RingTest, ids, Actor); err != nil {
			return store.DiscoveryRun{}, fmt.Errorf("load demo: %w", err)
		}
	}
	return run, nil
}

func isRegistrationGroup(name string) bool {
	return strings.EqualFold(strings.TrimSpace(name), store.RegistrationGroupName)
}

// split divides devs into those for which later is false and those for
// which it is true, keeping their order.
func split(devs []*store.Device, later func(*store.Device) bool) (first, rest []*store.Device) {
	first = make([]*store.Device, 0, len(devs))
	for _, d := range devs {
		if later(d) {
			rest = append(rest, d)
		} else {
			first = append(first, d)
		}
	}
	return first, rest
}

func upsert(ctx context.Context, st *store.Store, devs []*store.Device) error {
	for part := range slices.Chunk(devs, batchSize) {
		if _, err := st.UpsertDevices(ctx, part, "demo fleet", Actor); err != nil {
			return fmt.Errorf("load demo: %w", err)
		}
	}
	return nil
}

// addMembers adds the members of every assigned group for which keep holds.
func addMembers(ctx context.Context, st *store.Store, groups []GroupPlan, keep func(id string) bool) error {
	for _, g := range groups {
		if g.Rule != "" {
			continue
		}
		var ids []string
		for _, id := range g.Members {
			if keep(id) {
				ids = append(ids, id)
			}
		}
		for part := range slices.Chunk(ids, batchSize) {
			if _, err := st.AddGroupDevices(ctx, g.Name, part, Actor); err != nil {
				return fmt.Errorf("load demo: members of %s: %w", g.Name, err)
			}
		}
	}
	return nil
}
