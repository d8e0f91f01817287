package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"patchboard/store"
)

// Update management on the command line (SPEC §12): releases, pauses,
// ring schedules and the update reports. The same store calls as the
// portal and the API; the clock is the machine's.

// buildList is a repeatable --build LINE.REVISION flag.
type buildList []store.BuildRevision

func (b *buildList) String() string { return fmt.Sprint(*b) }

func (b *buildList) Set(v string) error {
	br, err := store.ParseBuildRevision(v)
	if err != nil {
		return err
	}
	*b = append(*b, br)
	return nil
}

func cmdReleaseAdd(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	name := fs.String("name", "", "release name, such as \"2026-12 B\" (required)")
	date := fs.String("date", "", "release date YYYY-MM-DD (required)")
	class := fs.String("classification", "security", "security, non-security or out-of-band")
	var builds buildList
	fs.Var(&builds, "build", "build line and target revision, such as 26100.7462 (repeat for each line)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *name == "" || *date == "" || len(builds) == 0 {
			return usagef("--name, --date and at least one --build are required")
		}
		d, err := store.ParseDay(*date)
		if err != nil {
			return err
		}
		c, err := store.ParseClassification(*class)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			rel, err := st.AddRelease(e.ctx, store.NewRelease{Name: *name, Date: d, Classification: c, Builds: builds}, cliActor(e), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added release %s (%s, %s): %s\n", rel.Name, rel.Date.Format(time.DateOnly), rel.Classification, rel.BuildsText())
			return nil
		})
	}
}

// cmdReleaseImport adds releases from a CSV with the header
// name,date,classification,builds (builds separated by spaces), all or
// nothing.
func cmdReleaseImport(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 1, "one CSV file (or -)"); err != nil {
			return err
		}
		in, closeIn, err := openInput(e, args[0])
		if err != nil {
			return err
		}
		defer closeIn()
		return withStore(e, *db, func(st *store.Store) error {
			added, err := st.ImportReleases(e.ctx, in, cliActor(e), time.Now())
			if err != nil {
				return printValidation(e, err)
			}
			fmt.Fprintf(e.stdout, "added %d release(s)\n", len(added))
			return nil
		})
	}
}

func cmdReleaseList(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			b, err := st.ReleaseBoard(e.ctx, time.Now())
			if err != nil {
				return err
			}
			for _, p := range b.Pauses {
				fmt.Fprintf(e.stdout, "PAUSED %s %s: Customer paused by %s on %s: %s (until %s)\n", p.Ring.Label(), p.Kind,
					p.By, p.At.Format("2006-01-02 15:04"), p.Reason, p.Until.Format(time.DateOnly))
			}
			for _, r := range b.Releases {
				exp := ""
				if !r.ExpeditedAt.IsZero() {
					exp = ", expedited " + r.ExpeditedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(e.stdout, "%s  %s  %s%s  %s\n", r.Name, r.Date.Format(time.DateOnly), r.Classification, exp, r.BuildsText())
				for _, o := range r.Rings {
					line := fmt.Sprintf("  %-6s %-9s offer %s  due %s  restart %s", o.Ring.Label(), o.State,
						o.OfferAt.Format("2006-01-02 15:04"), o.DueAt.Format("2006-01-02 15:04"), o.RestartAt.Format("2006-01-02 15:04"))
					if o.Waiting != "" {
						line += "  (" + o.Waiting + ")"
					}
					fmt.Fprintln(e.stdout, line)
				}
			}
			return nil
		})
	}
}

func cmdReleaseExpedite(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 1, "the release's name"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			rel, err := st.ExpediteRelease(e.ctx, args[0], cliActor(e), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "expedited %s: every ring is offered it now, due in a day\n", rel.Name)
			return nil
		})
	}
}

// pauseFlags are --ring and --kind of pause and resume.
func pauseFlags(fs *flag.FlagSet) (ring, kind *string) {
	return fs.String("ring", "", "test, first, fast, broad or all (required)"), fs.String("kind", "quality", "quality or feature")
}

func parsePauseFlags(ring, kind string) ([]store.Ring, store.UpdateKind, error) {
	if ring == "" {
		return nil, "", usagef("--ring is required: test, first, fast, broad or all")
	}
	rings, err := store.ParseRings(ring)
	if err != nil {
		return nil, "", err
	}
	k, err := store.ParseUpdateKind(kind)
	return rings, k, err
}

func cmdPause(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ring, kind := pauseFlags(fs)
	reason := fs.String("reason", "", "why the rings are paused (required)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		rings, k, err := parsePauseFlags(*ring, *kind)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			ps, err := st.PauseRings(e.ctx, rings, k, *reason, cliActor(e), time.Now())
			if err != nil {
				return err
			}
			for _, p := range ps {
				fmt.Fprintf(e.stdout, "paused %s updates in the %s ring until %s\n", p.Kind, p.Ring.Label(), p.Until.Format(time.DateOnly))
			}
			return nil
		})
	}
}

func cmdResume(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ring, kind := pauseFlags(fs)
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		rings, k, err := parsePauseFlags(*ring, *kind)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			ps, err := st.ResumeRings(e.ctx, rings, k, cliActor(e), time.Now())
			if err != nil {
				return err
			}
			for _, p := range ps {
				fmt.Fprintf(e.stdout, "resumed %s updates in the %s ring\n", p.Kind, p.Ring.Label())
			}
			return nil
		})
	}
}

func cmdScheduleSet(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ring := fs.String("ring", "", "test, first, fast or broad (required)")
	deferral := fs.Int("deferral", -1, "quality update deferral in days (default: unchanged)")
	deadline := fs.Int("deadline", -1, "deadline in days after the offer (default: unchanged)")
	grace := fs.Int("grace", -1, "grace period in days after the deadline (default: unchanged)")
	feature := fs.Int("feature-deferral", -1, "feature update deferral in days (default: unchanged)")
	gate := fs.String("gate", "", "rollout gate: off, or the share in percent the ring before must reach (default: unchanged)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *ring == "" {
			return usagef("--ring is required: test, first, fast or broad")
		}
		r, err := store.ParseRing(*ring)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			scs, err := st.Schedules(e.ctx)
			if err != nil {
				return err
			}
			sc := scs[0]
			for _, s := range scs {
				if s.Ring == r {
					sc = s
				}
			}
			for _, f := range []struct {
				v   int
				dst *int
			}{{*deferral, &sc.QualityDeferral}, {*deadline, &sc.QualityDeadline}, {*grace, &sc.QualityGrace}, {*feature, &sc.FeatureDeferral}} {
				if f.v >= 0 {
					*f.dst = f.v
				}
			}
			switch g := strings.TrimSuffix(strings.TrimSpace(*gate), "%"); g {
			case "":
			case "off":
				sc.GateEnabled = false
			default:
				var n int
				if _, err := fmt.Sscanf(g, "%d", &n); err != nil {
					return usagef("--gate is off or a share in percent, such as 90")
				}
				sc.GateEnabled, sc.GatePercent = true, n
			}
			if err := st.SetSchedule(e.ctx, sc, cliActor(e), time.Now()); err != nil {
				return err
			}
			return printSchedules(e, st)
		})
	}
}

func cmdScheduleList(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error { return printSchedules(e, st) })
	}
}

func printSchedules(e *env, st *store.Store) error {
	scs, err := st.Schedules(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ring   deferral deadline grace feature-deferral gate")
	for _, sc := range scs {
		gate := "off"
		if sc.GateEnabled {
			gate = fmt.Sprintf("%d%%", sc.GatePercent)
		}
		fmt.Fprintf(e.stdout, "%-6s %8d %8d %5d %16d %s\n", sc.Ring, sc.QualityDeferral, sc.QualityDeadline, sc.QualityGrace, sc.FeatureDeferral, gate)
	}
	return nil
}

func cmdReport(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	ring := fs.String("ring", "", "only devices in this ring")
	status := fs.String("status", "", "only devices with this update status: up-to-date, not-up-to-date, ineligible, not-ready")
	sub := fs.String("sub-status", "", "only devices with this sub-status, such as overdue or paused")
	search := fs.String("search", "", "only devices whose name, serial number or ID contains this")
	noBOM := fs.Bool("no-bom", false, "leave out the UTF-8 byte-order mark (Excel needs it to read names such as Müller right)")
	return func(args []string) error {
		if err := exactArgs(args, 1, "quality or feature"); err != nil {
			return err
		}
		kind, err := store.ParseUpdateKind(args[0])
		if err != nil || args[0] == "" {
			return usagef("report quality or report feature")
		}
		q := store.UpdateQuery{Kind: kind, Search: *search}
		if *ring != "" {
			if q.Ring, err = store.ParseRing(*ring); err != nil {
				return err
			}
		}
		if *status != "" {
			if q.Status, err = store.ParseUpdateStatus(*status); err != nil {
				return err
			}
		}
		if q.Sub, err = store.ParseUpdateSubStatus(*sub); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			_, err := st.ExportUpdateReport(e.ctx, e.stdout, q, store.CSVOptions{NoBOM: *noBOM})
			return err
		})
	}
}
