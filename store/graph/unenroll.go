package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// RemoveUpdatePolicies deletes what Patchboard created in Intune (SPEC
// §13, unenrollment): the ring policies, the expedited quality update
// profiles and the feature update profile, found by Patchboard's names. A
// policy already gone (404) counts as removed, so a retry after a partial
// run finishes the work. The ring groups stay; their members are removed
// by WriteRings with empty rings.
func (g *Connector) RemoveUpdatePolicies(ctx context.Context) error {
	rings, err := g.ringConfigs(ctx)
	if err != nil {
		return fmt.Errorf("remove update ring policies: %w", err)
	}
	for name, c := range rings {
		if strings.HasPrefix(name, "Patchboard Ring - ") {
			if err := g.deletePolicy(ctx, deviceConfigsPath, c.ID); err != nil {
				return fmt.Errorf("remove update ring policy %s: %w", name, err)
			}
		}
	}
	for _, coll := range []struct{ path, prefix string }{
		{qualityProfilesPath, "Patchboard Expedite - "},
		{featureProfilesPath, "Patchboard Feature Update"},
	} {
		var ids []string
		_, err := g.client.pages(ctx, request{method: http.MethodGet, path: coll.path, permission: policyPermission}, func(items []json.RawMessage) error {
			for _, raw := range items {
				var p profile
				if json.Unmarshal(raw, &p) == nil && strings.HasPrefix(p.DisplayName, coll.prefix) {
					ids = append(ids, p.ID)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("remove update profiles: %w", err)
		}
		for _, id := range ids {
			if err := g.deletePolicy(ctx, coll.path, id); err != nil {
				return fmt.Errorf("remove update profile %s: %w", id, err)
			}
		}
	}
	return nil
}

func (g *Connector) deletePolicy(ctx context.Context, coll, id string) error {
	err := g.client.do(ctx, request{method: http.MethodDelete, path: coll + "/" + url.PathEscape(id), permission: policyPermission}, nil)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return nil
	}
	return err
}
