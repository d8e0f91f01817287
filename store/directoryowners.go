package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// The registration group's owners when the directory is synced (SPEC §7):
// they come from Microsoft Entra ID with the group, and a Patchboard
// account is one of them when it signed in with Entra ID as that user (its
// subject is the user's object ID) or its e-mail is the user's principal
// name.

// DirectoryOwner is an owner of the registration group in the directory.
type DirectoryOwner struct {
	ObjectID          string `json:"id"`
	UserPrincipalName string `json:"upn,omitempty"` // empty for a service principal
	DisplayName       string `json:"name,omitempty"`
}

// DirectoryOwnerAccount is a directory owner with the Patchboard account
// that is that owner, if any.
type DirectoryOwnerAccount struct {
	DirectoryOwner
	Account *User
}

// DirectoryOwners lists the directory's owners of the group with their
// accounts: empty unless the group is the registration group mirrored from
// the directory.
func (s *Store) DirectoryOwners(ctx context.Context, groupID int64) ([]DirectoryOwnerAccount, error) {
	out, _, err := s.directoryOwners(ctx, groupID)
	return out, err
}

// directoryOwners is DirectoryOwners; mirrored is false when the group is
// not the registration group mirrored from the directory (or no sync has
// read its owners yet): its owners are then Patchboard's own.
func (s *Store) directoryOwners(ctx context.Context, groupID int64) (out []DirectoryOwnerAccount, mirrored bool, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, `SELECT ds.value FROM directory_state ds, groups g JOIN directory_groups dg ON dg.group_id = g.id
			WHERE ds.key = ? AND g.id = ? AND g.builtin = 1`, ownersKey, groupID).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		mirrored = true
		var owners []DirectoryOwner
		if err := json.Unmarshal([]byte(raw), &owners); err != nil {
			return nil // unreadable: the next sync writes it again
		}
		for _, o := range owners {
			oa := DirectoryOwnerAccount{DirectoryOwner: o}
			u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users
				WHERE (issuer <> '' AND subject = ? COLLATE NOCASE) OR (? <> '' AND email = ? COLLATE NOCASE)
				ORDER BY issuer = '', id LIMIT 1`, o.ObjectID, o.UserPrincipalName, o.UserPrincipalName))
			switch {
			case err == nil:
				oa.Account = &u
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			out = append(out, oa)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("directory owners: %w", err)
	}
	return out, mirrored, nil
}

// isDirectoryOwner reports whether the account is one of the directory's
// owners of the group; mirrored is false when the directory does not hold
// the group's owners.
func (s *Store) isDirectoryOwner(ctx context.Context, groupID, userID int64) (owner, mirrored bool, err error) {
	owners, mirrored, err := s.directoryOwners(ctx, groupID)
	if err != nil || !mirrored {
		return false, mirrored, err
	}
	for _, o := range owners {
		if o.Account != nil && o.Account.ID == userID {
			return true, true, nil
		}
	}
	return false, true, nil
}
