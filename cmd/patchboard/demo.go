package main

import (
	"flag"
	"fmt"
	"time"

	"patchboard/store"
	"patchboard/store/demo"
)

func cmdDemo(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	devices := fs.Int("devices", 2000, "number of devices")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same fleet")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *devices < 1 || *devices > 5_000_000 {
			return usagef("--devices must be between 1 and 5000000")
		}
		return withStore(e, *db, func(st *store.Store) error {
			return loadDemo(e, st, *devices, *seed)
		})
	}
}

// loadDemo fills an empty database with the demo fleet and prints its counts.
func loadDemo(e *env, st *store.Store, devices int, seed int64) error {
	c, err := st.Counts(e.ctx)
	if err != nil {
		return err
	}
	if n := c.Tab(store.TabReady) + c.Tab(store.TabNotReady) + c.Tab(store.TabNotRegistered); n > 0 {
		return fmt.Errorf("the database already holds %d devices on the blades; use a new --db file for the demo", n)
	}
	now := time.Now()
	start := time.Now()
	fleet := demo.Generate(demo.Options{Devices: devices, Seed: seed, Now: now})
	run, err := demo.Load(e.ctx, st, fleet, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo fleet of %d devices (seed %d) loaded in %s; last discovery: %s\n",
		len(fleet.Devices), seed, time.Since(start).Round(time.Millisecond), run.Summary())
	rel, err := st.AddRelease(e.ctx, demoRelease(now), "demo", now)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "release %s of %s added: %s\n", rel.Name, rel.Date.Format(time.DateOnly), rel.BuildsText())
	for _, u := range demoUsers {
		if _, err := st.AddUser(e.ctx, u.email, u.role, u.password, "demo"); err != nil {
			return err
		}
	}
	printDemoUsers(e)
	return printCounts(e, st)
}

// demoUsers are the demo's accounts. Their passwords are fixed and published
// in the README: they exist only in demo databases.
var demoUsers = []struct {
	email, password string
	role            store.Role
}{
	{"admin@patchboard.demo", "demo-admin-password", store.RoleServiceAdmin},
	{"reader@patchboard.demo", "demo-reader-password", store.RoleServiceReader},
	{"global@patchboard.demo", "demo-global-password", store.RoleGlobalAdmin},
}

func printDemoUsers(e *env) {
	fmt.Fprintln(e.stdout, "demo accounts (this database only):")
	for _, u := range demoUsers {
		fmt.Fprintf(e.stdout, "  %-24s %-22s password: %s\n", u.email, u.role.Label(), u.password)
	}
}

// demoRelease is the month's Patch Tuesday release (the second Tuesday of
// the month, or of the month before until then) at the newest revisions of
// the demo fleet's build lines, so that the update reports show a release
// on its way through the rings.
func demoRelease(now time.Time) store.NewRelease {
	tuesday := func(y int, m time.Month) time.Time {
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return first.AddDate(0, 0, (int(time.Tuesday)-int(first.Weekday())+7)%7+7)
	}
	day := tuesday(now.Year(), now.Month())
	if day.After(now) {
		prev := now.AddDate(0, 0, -now.Day())
		day = tuesday(prev.Year(), prev.Month())
	}
	return store.NewRelease{Name: day.Format("2006-01") + " B", Date: day, Classification: store.ClassSecurity,
		Builds: []store.BuildRevision{{Build: 26100, Revision: 4202}, {Build: 22631, Revision: 5624}, {Build: 19045, Revision: 6093}}}
}
