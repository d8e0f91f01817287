package main

import (
	"flag"
	"fmt"
	"time"

	"patchboard/store"
)

// The unenrollment commands do what the portal's /tenant/unenroll does, on
// the same store methods: a running server carries out a due request on its
// next check (at start-up and on every discovery tick).

func cmdUnenrollRequest(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	confirm := fs.String("confirm", "", "the organisation's name, typed to confirm (required)")
	org := fs.String("organisation", "", "set the organisation's name first (when it is not set yet, or to change it)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *confirm == "" {
			return usagef("--confirm is required: type the organisation's name")
		}
		return withStore(e, *db, func(st *store.Store) error {
			if *org != "" {
				if err := st.SetOrganisationName(e.ctx, *org, cliActor(e), time.Now()); err != nil {
					return err
				}
			}
			u, err := st.RequestUnenrollment(e.ctx, *confirm, cliActor(e), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "unenrollment requested: every device is deregistered on %s UTC unless a Global Administrator cancels (patchboard unenroll cancel)\n",
				u.DueAt.Format("2006-01-02 15:04"))
			return nil
		})
	}
}

func cmdUnenrollCancel(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			if err := st.CancelUnenrollment(e.ctx, cliActor(e), time.Now()); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "unenrollment cancelled; nothing was removed")
			return nil
		})
	}
}

func cmdUnenrollStatus(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			u, err := st.Unenrollment(e.ctx)
			if err != nil {
				return err
			}
			const at = "2006-01-02 15:04 UTC"
			switch {
			case u.Completed():
				fmt.Fprintf(e.stdout, "unenrolled on %s: %d devices deregistered (requested by %s)\n", u.CompletedAt.Format(at), u.Devices, u.RequestedBy)
				if u.RemoteError != "" {
					fmt.Fprintf(e.stdout, "removing the ring groups' members and update policies has not worked yet: %s\n", u.RemoteError)
				}
			case u.Pending():
				fmt.Fprintf(e.stdout, "pending: requested by %s on %s; every device is deregistered on %s\n",
					u.RequestedBy, u.RequestedAt.Format(at), u.DueAt.Format(at))
			case !u.CancelledAt.IsZero():
				fmt.Fprintf(e.stdout, "no unenrollment is pending: the last request (by %s) was cancelled by %s on %s\n",
					u.RequestedBy, u.CancelledBy, u.CancelledAt.Format(at))
			default:
				fmt.Fprintln(e.stdout, "no unenrollment was requested")
			}
			return nil
		})
	}
}
