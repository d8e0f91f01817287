package main

import (
	"flag"
	"fmt"
	"time"

	"patchboard/store"
)

// cmdTokenCreate makes an API token and prints it, once, on standard
// output: scripts read it from there, and the note goes to standard error.
func cmdTokenCreate(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	name := fs.String("name", "", "the token's name, shown in the token list and the audit log as token:NAME (required)")
	role := fs.String("role", "", "service-admin, service-reader or reporter (required)")
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		if *name == "" || *role == "" {
			return usagef("--name and --role are required")
		}
		r, err := store.ParseTokenRole(*role)
		if err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			t, value, err := st.CreateToken(e.ctx, *name, r, cliActor(e))
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, value)
			fmt.Fprintf(e.stderr, "created API token %q (%s); it is shown only this once: store it now\n", t.Name, t.Role.Label())
			return nil
		})
	}
}

func cmdTokenList(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 0, "no arguments"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			tokens, err := st.Tokens(e.ctx)
			if err != nil {
				return err
			}
			for _, t := range tokens {
				used, state := "never", "in use"
				if !t.LastUsedAt.IsZero() {
					used = t.LastUsedAt.Format(time.RFC3339)
				}
				if t.Revoked() {
					state = "revoked " + t.RevokedAt.Format(time.RFC3339) + " by " + t.RevokedBy
				}
				fmt.Fprintf(e.stdout, "%-32s %-15s %s…  created %s by %s  last used %s  %s\n",
					t.Name, t.Role, t.Prefix, t.CreatedAt.Format(time.RFC3339), t.CreatedBy, used, state)
			}
			return nil
		})
	}
}

func cmdTokenRevoke(e *env, fs *flag.FlagSet, db *string) func([]string) error {
	return func(args []string) error {
		if err := exactArgs(args, 1, "the token NAME"); err != nil {
			return err
		}
		return withStore(e, *db, func(st *store.Store) error {
			t, err := st.RevokeTokenByName(e.ctx, args[0], cliActor(e))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked API token %q\n", t.Name)
			return nil
		})
	}
}
