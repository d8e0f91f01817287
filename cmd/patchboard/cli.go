package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"patchboard/store"
)

// errUsageShown means the usage text was already printed; main only sets the
// exit status.
var errUsageShown = errors.New("usage shown")

// usageError is bad command-line input: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.Is(err, errUsageShown), errors.As(err, &ue):
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	return 1
}

// command is one subcommand.
type command struct {
	name    string // "import devices"
	args    string // "FILE.csv"
	summary string
	run     func(e *env, fs *flag.FlagSet, db *string) func(args []string) error
}

func commands() []command {
	return []command{
		{"serve", "", "serve the portal and run discovery on a schedule", cmdServe},
		{"demo", "", "create a demo directory, demo users, and run discovery", cmdDemo},
		{"discover", "", "run discovery now and print the run's counts", cmdDiscover},
		{"sync", "", "sync the directory from Microsoft Entra ID and Intune now (PATCHBOARD_DIRECTORY=entra)", cmdSync},
		{"import devices", "FILE.csv|-", "upsert inventory records from a CSV (all-or-nothing)", cmdImportDevices},
		{"import members", "FILE.csv|-", "add devices to a group from a CSV of device_id, serial_number or display_name", cmdImportMembers},
		{"group create", "NAME", "create an assigned group, or a dynamic one with --rule", cmdGroupCreate},
		{"group nest", "PARENT CHILD", "make group CHILD a member of group PARENT", cmdGroupNest},
		{"group list", "", "list groups with their nesting under the Device Registration group", cmdGroupList},
		{"export", "", "write a blade's devices as CSV to standard output", cmdExport},
		{"assign-ring", "DEVICE_ID…", "move Active devices to a ring", cmdAssignRing},
		{"deregister", "DEVICE_ID…", "exclude devices from registration", cmdDeregister},
		{"restore", "DEVICE_ID… | FILE", "clear the exclusion of devices; or, given a backup FILE, replace the database with it (refused while a server runs; the backup is checked first and the replaced database kept beside it)", cmdRestore},
		{"user add", "", "create a local user or change its role and password", cmdUserAdd},
		{"token create", "", "create an API token and print it (shown once)", cmdTokenCreate},
		{"token list", "", "list API tokens with their role, creation and last use", cmdTokenList},
		{"token revoke", "NAME", "revoke the API token in use with this name", cmdTokenRevoke},
		{"release add", "", "add a quality release (--name, --date, --build LINE.REVISION…)", cmdReleaseAdd},
		{"release import", "FILE.csv|-", "add releases from a CSV of name,date,classification,builds (all-or-nothing)", cmdReleaseImport},
		{"release list", "", "list releases with their dates and state in every ring", cmdReleaseList},
		{"release expedite", "NAME", "put a release on the expedited schedule in every ring", cmdReleaseExpedite},
		{"pause", "", "pause quality or feature updates in a ring or all rings (--reason)", cmdPause},
		{"resume", "", "end a ring's pause", cmdResume},
		{"schedule set", "", "change a ring's deferral, deadline, grace period or rollout gate", cmdScheduleSet},
		{"schedule list", "", "print the rings' schedules", cmdScheduleList},
		{"report", "quality|feature", "write the All devices update report as CSV to standard output", cmdReport},
		{"backup", "FILE", "write a consistent copy of the database", cmdBackup},
		{"counts", "", "print the three tabs' counts and the ring split", cmdCounts},
		{"unenroll request", "", "request unenrollment: every device is deregistered after 14 days (--confirm ORGANISATION)", cmdUnenrollRequest},
		{"unenroll cancel", "", "cancel the pending unenrollment", cmdUnenrollCancel},
		{"unenroll status", "", "say whether an unenrollment is pending, and when it is carried out", cmdUnenrollStatus},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: patchboard [--db PATH] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The database is --db, else $PATCHBOARD_DB, else patchboard.db.")
	fmt.Fprintln(w, "Run 'patchboard COMMAND --help' for a command's flags.")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	global := flag.NewFlagSet("patchboard", flag.ContinueOnError)
	global.SetOutput(stderr)
	db := global.String("db", defaultDB(getenv), "SQLite database file")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsageShown
	}
	rest := global.Args()
	if len(rest) == 0 {
		usage(stderr)
		return errUsageShown
	}
	if rest[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(rest) < len(words) || !equalWords(rest[:len(words)], words) {
			continue
		}
		fs := flag.NewFlagSet("patchboard "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		dbFlag := fs.String("db", *db, "SQLite database file")
		body := c.run(e, fs, dbFlag)
		fs.Usage = func() {
			fmt.Fprintf(stderr, "Usage: patchboard %s [flags] %s\n\n%s.\n\nFlags:\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		positional, err := parseInterspersed(fs, rest[len(words):])
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return errUsageShown
		}
		return body(positional)
	}
	// A known first word with a wrong second one gets that group's commands.
	var near []string
	for _, c := range commands() {
		if strings.HasPrefix(c.name, rest[0]+" ") {
			near = append(near, c.name)
		}
	}
	if len(near) > 0 {
		return usagef("unknown command %q; did you mean one of: %s", strings.Join(rest, " "), strings.Join(near, ", "))
	}
	return usagef("unknown command %q; run 'patchboard help'", rest[0])
}

// parseInterspersed parses flags wherever they stand among the arguments, as
// in "group create NAME --rule RULE"; after "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return append(positional, tail...), nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func equalWords(a, b []string) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func defaultDB(getenv func(string) string) string {
	if v := getenv("PATCHBOARD_DB"); v != "" {
		return v
	}
	return "patchboard.db"
}

// openStore opens the database named by the flags.
func openStore(e *env, path string) (*store.Store, error) {
	return store.Open(e.ctx, path)
}

// withStore opens the store, runs fn and closes it.
func withStore(e *env, path string, fn func(st *store.Store) error) error {
	st, err := openStore(e, path)
	if err != nil {
		return err
	}
	err = fn(st)
	if cerr := st.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	return err
}

// cliActor names the person at the terminal in audit entries.
func cliActor(e *env) string {
	if u := e.getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// openInput opens a file argument; "-" is standard input.
func openInput(e *env, name string) (io.Reader, func(), error) {
	if name == "-" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil // read only: everything was read or the read failed
}

func exactArgs(args []string, n int, what string) error {
	if len(args) != n {
		return usagef("expected %s, got %d argument(s)", what, len(args))
	}
	return nil
}

// printValidation writes every rejected row of a validation error, then
// returns a short error for main to print last.
func printValidation(e *env, err error) error {
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, fe := range ve.Errors {
		fmt.Fprintln(e.stderr, fe.Error())
	}
	n := len(ve.Errors) + ve.Truncated
	if ve.Truncated > 0 {
		fmt.Fprintf(e.stderr, "… and %d more\n", ve.Truncated)
	}
	return fmt.Errorf("%d row(s) rejected; nothing was written", n)
}

func cmdImportDevices(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	dryRun := fs.Bool("dry-run", false, "check the file and print what would change, write nothing")
	return func(args []string) error {
		if err := exactArgs(args, 1, "one FILE.csv (or - for standard input)"); err != nil {
			return err
		}
		r, closeFn, err := openInput(e, args[0])
		if err != nil {
			return err
		}
		defer closeFn()
		return withStore(e, *db, func(st *store.Store) error {
			start := time.Now()
			var res store.ImportResult
			var err error
			verb := "imported"
			if *dryRun {
				verb = "would import"
				res, err = st.PreviewDevices(e.ctx, r)
			} else {
				res, err = st.ImportDevices(e.ctx, r, args[0], cliActor(e))
			}
			if err != nil {
				return printValidation(e, err)
			}
			fmt.Fprintf(e.stdout, "%s %d rows: %d new, %d updated, %d unchanged (%s)\n",
				verb, res.Rows, res.Inserted, res.Updated, res.Unchanged, time.Since(start).Round(time.Millisecond))
			return nil
		})
	}
}

func cmdImportMembers(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	group := fs.String("group", store.RegistrationGroupName, "group to add the devices to")
	dryRun := fs.Bool("dry-run", false, "check the file and print what would change, write nothing")
	return func(args []string) error {
		if err := exactArgs(args, 1, "one FILE.csv (or - for standard input)"); err != nil {
			return err
		}
		r, closeFn, err := openInput(e, args[0])
		if err != nil {
			return err
		}
		defer closeFn()
		return withStore(e, *db, func(st *store.Store) error {
			res, err := st.ImportMembers(e.ctx, *group, r, args[0], cliActor(e), *dryRun)
			if err != nil {
				return printValidation(e, err)
			}
			verb := "added"
			if *dryRun {
				verb = "would add"
			}
			fmt.Fprintf(e.stdout, "%s: %d rows, %s %d, %d already members, %d duplicate rows\n",
				*group, res.Rows, verb, res.Added, res.Already, res.Duplicates)
			return nil
		})
	}
}

func cmdGroupCreate(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ruleSrc := fs.String("rule", "", "membership rule; makes the group dynamic")
	return func(args []string) error {
		if err := exactArgs(args, 1, "the group NAME"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			g, err := st.CreateGroup(e.ctx, args[0], *ruleSrc, cliActor(e))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created %s group %q\n", g.Kind, g.Name)
			return nil
		})
	}
}

func cmdGroupNest(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 2, "PARENT and CHILD group names"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			if err := st.NestGroup(e.ctx, args[0], args[1], cliActor(e)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "group %q is now a member of %q\n", args[1], args[0])
			groups, err := st.Groups(e.ctx)
			if err != nil {
				return err
			}
			for _, g := range groups {
				if strings.EqualFold(g.Name, args[1]) && g.Depth > 1 {
					fmt.Fprintf(e.stdout, "warning: %q sits %d levels under %s; its devices are not discovered\n",
						g.Name, g.Depth, store.RegistrationGroupName)
				}
			}
			return nil
		})
	}
}

func cmdGroupList(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			groups, err := st.Groups(e.ctx)
			if err != nil {
				return err
			}
			for _, g := range groups {
				line := fmt.Sprintf("%-32s %-8s devices=%d groups=%d", g.Name, g.Kind, g.Devices, g.Groups)
				if len(g.Parents) > 0 {
					line += " in=" + strings.Join(g.Parents, ",")
				}
				switch {
				case g.Depth > 1:
					line += fmt.Sprintf("  warning: nested %d levels deep; its devices are not discovered", g.Depth)
				case g.Kind == store.GroupDynamic:
					line += "  rule: " + g.Rule
				}
				fmt.Fprintln(e.stdout, line)
			}
			return nil
		})
	}
}

func cmdDiscover(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	dir := directoryFlags(e, fs)
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		conn, err := dir.connector()
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			dir.attach(st, conn) // with a connector, discovery syncs first
			run, err := st.Discover(e.ctx, store.TriggerCLI, cliActor(e), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "discovery run %d %s in %s: %s\n", run.ID, run.State,
				run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond), run.Summary())
			if st.DirectorySynced() {
				if sr, err := st.LastSyncRun(e.ctx, store.SyncRead); err == nil && sr.State == store.RunFailed {
					fmt.Fprintf(e.stdout, "directory sync failed (discovery ran on the last good data): %s\n", sr.Error)
				} else if err == nil {
					fmt.Fprintf(e.stdout, "directory sync run %d: %s\n", sr.ID, sr.Summary())
				}
			}
			return printCounts(e, st)
		})
	}
}

func cmdCounts(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		return withStore(e, *db, func(st *store.Store) error { return printCounts(e, st) })
	}
}

// printCounts prints the tab counts and the ring split.
func printCounts(e *env, st *store.Store) error {
	c, err := st.Counts(e.ctx)
	if err != nil {
		return err
	}
	for _, t := range store.Tabs {
		fmt.Fprintf(e.stdout, "%-15s %7d", t.Label(), c.Tab(t))
		var parts []string
		for _, s := range t.Statuses() {
			parts = append(parts, fmt.Sprintf("%s %d", s.Label(), c.Status[s]))
		}
		fmt.Fprintf(e.stdout, "  (%s)\n", strings.Join(parts, ", "))
	}
	total := c.Rings.Total()
	var parts []string
	for _, r := range store.Rings {
		share := 0.0
		if total > 0 {
			share = 100 * float64(c.Rings.Get(r)) / float64(total)
		}
		parts = append(parts, fmt.Sprintf("%s %d (%.1f%%)", r.Label(), c.Rings.Get(r), share))
	}
	fmt.Fprintf(e.stdout, "Rings           %s\n", strings.Join(parts, ", "))
	if min := store.TestRingMinimum(c.Registered()); c.Rings.Test < min {
		fmt.Fprintf(e.stdout, "warning: the Test ring has %d devices; at least %d are recommended for %d registered devices\n",
			c.Rings.Test, min, c.Registered())
	}
	return nil
}

func cmdExport(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	tab := fs.String("tab", "", "ready, not-ready or not-registered (required)")
	columns := fs.String("columns", "", "all, or comma-separated column keys (default: the standard export set)")
	status := fs.String("status", "", "only devices with this status")
	ring := fs.String("ring", "", "only devices in this ring")
	search := fs.String("search", "", "only devices whose name, serial number or ID contains this")
	sortKey := fs.String("sort", "display_name", "column key to sort by")
	desc := fs.Bool("desc", false, "sort descending")
	noBOM := fs.Bool("no-bom", false, "leave out the UTF-8 byte-order mark (Excel needs it to read names such as Müller right)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		q, cols, err := exportQuery(*tab, *columns, *status, *ring, *search, *sortKey, *desc)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			_, err := st.ExportCSV(e.ctx, e.stdout, q, cols, store.CSVOptions{NoBOM: *noBOM})
			return err
		})
	}
}

// exportQuery parses the export flags.
func exportQuery(tab, columns, status, ring, search, sortKey string, desc bool) (store.DeviceQuery, []store.Column, error) {
	if tab == "" {
		return store.DeviceQuery{}, nil, usagef("--tab is required: ready, not-ready or not-registered")
	}
	t, err := store.ParseTab(tab)
	if err != nil {
		return store.DeviceQuery{}, nil, err
	}
	q := store.DeviceQuery{Tab: t, Search: search, Sort: sortKey, Desc: desc}
	if status != "" {
		if q.Status, err = store.ParseStatus(status); err != nil {
			return q, nil, err
		}
	}
	if ring != "" {
		if q.Ring, err = store.ParseRing(ring); err != nil {
			return q, nil, err
		}
	}
	spec := columns
	if spec == "" {
		spec = strings.Join(store.ExportDefaultColumns, ",")
	}
	cols, err := store.ParseColumns(spec)
	return q, cols, err
}

// deviceAction is the shape of assign-ring, deregister and restore.
func deviceAction(e *env, db *string, args []string, verb string,
	act func(st *store.Store, ids []string) (store.ActionResult, error)) error {
	if len(args) == 0 {
		return usagef("name at least one DEVICE_ID")
	}
	return withStore(e, *db, func(st *store.Store) error {
		res, err := act(st, args)
		var refused *store.ActionRefusedError
		if errors.As(err, &refused) {
			for _, r := range refused.Refused {
				fmt.Fprintf(e.stderr, "%s: the device %s\n", r.Value, r.Reason)
			}
			return fmt.Errorf("cannot %s %d device(s); nothing was changed", refused.Action, len(refused.Refused))
		}
		if err != nil {
			return err
		}
		sort.Strings(res.Changed)
		fmt.Fprintf(e.stdout, "%s: %d changed, %d unchanged\n", verb, len(res.Changed), len(res.Unchanged))
		return nil
	})
}

func cmdAssignRing(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ring := fs.String("ring", "", "test, first, fast or broad (required)")
	return func(args []string) error {
		if *ring == "" {
			return usagef("--ring is required: test, first, fast or broad")
		}
		r, err := store.ParseRing(*ring)
		if err != nil {
			return err
		}
		return deviceAction(e, db, args, "assign ring "+r.Label(), func(st *store.Store, ids []string) (store.ActionResult, error) {
			return st.AssignRing(e.ctx, r, ids, cliActor(e))
		})
	}
}

func cmdDeregister(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		return deviceAction(e, db, args, "deregister", func(st *store.Store, ids []string) (store.ActionResult, error) {
			return st.Deregister(e.ctx, ids, cliActor(e))
		})
	}
}

func cmdRestore(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		// A device ID is a GUID and never the name of a file: one argument
		// naming a file is a backup to restore.
		if len(args) == 1 {
			if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
				return restoreDatabase(e, *db, args[0])
			}
		}
		return deviceAction(e, db, args, "restore", func(st *store.Store, ids []string) (store.ActionResult, error) {
			return st.Restore(e.ctx, ids, cliActor(e))
		})
	}
}

// restoreDatabase replaces the database with a backup.
func restoreDatabase(e *env, db, from string) error {
	kept, err := store.Restore(e.ctx, db, from)
	if err != nil {
		return err
	}
	if kept != "" {
		fmt.Fprintf(e.stdout, "restored %s from %s; the database it replaced is %s\n", db, from, kept)
	} else {
		fmt.Fprintf(e.stdout, "restored %s from %s\n", db, from)
	}
	return nil
}

func cmdUserAdd(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	email := fs.String("email", "", "the user's email address (required)")
	role := fs.String("role", "", "global-admin, intune-admin, service-admin or service-reader (required)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *email == "" || *role == "" {
			return usagef("--email and --role are required")
		}
		r, err := store.ParseRole(*role)
		if err != nil {
			return err
		}
		password, err := readPassword(e)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			u, err := st.AddUser(e.ctx, *email, r, password, cliActor(e))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s has the role %s\n", u.Email, u.Role.Label())
			return nil
		})
	}
}

// readPassword takes $PATCHBOARD_PASSWORD, else the first line of standard
// input. Never a flag: flags show up in process lists and shell history.
func readPassword(e *env) (string, error) {
	if p := e.getenv("PATCHBOARD_PASSWORD"); p != "" {
		return p, nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
	if err != nil {
		return "", err
	}
	p, _, _ := strings.Cut(string(b), "\n")
	p = strings.TrimRight(p, "\r")
	if p == "" {
		return "", usagef("no password: set PATCHBOARD_PASSWORD or write it on standard input")
	}
	return p, nil
}

func cmdBackup(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 1, "the backup FILE"); err != nil {
			return err
		}
		if _, err := os.Stat(args[0]); err == nil {
			return fmt.Errorf("backup: %s already exists", args[0])
		}
		return withStore(e, *db, func(st *store.Store) error {
			if err := st.Backup(e.ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s\n", args[0])
			return nil
		})
	}
}
