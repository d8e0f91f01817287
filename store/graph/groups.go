package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"patchboard/store"
)

// The registration group's tree is read by groups delta queries (v1.0),
// filtered to the registration group and the groups nested in it, selecting
// their members (members@delta): an unchanged tenant costs one request per
// round. Both reads need GroupMember.Read.All.
const (
	groupsDeltaPath   = "v1.0/groups/delta"
	groupsDeltaSelect = "id,displayName,members"
	// maxFilterIDs is how many IDs one groups delta $filter may name.
	maxFilterIDs = 50
)

// trackedGroup is a group whose members a delta round follows.
type trackedGroup struct {
	name            string
	devices, groups map[string]bool
}

func newTracked(name string) *trackedGroup {
	return &trackedGroup{name: name, devices: make(map[string]bool), groups: make(map[string]bool)}
}

// groupTree is the registration group and the groups nested in it, as
// delta rounds leave them.
type groupTree map[string]*trackedGroup

// treeFrom rebuilds the tracked groups of a tree a previous read returned.
func treeFrom(groups []store.DirectoryGroup) (groupTree, map[string]string) {
	tree := make(groupTree)
	deeper := make(map[string]string) // depth-2 group -> name
	for _, g := range groups {
		if g.Depth == 2 {
			deeper[g.ObjectID] = g.Name
			continue
		}
		t := newTracked(g.Name)
		for _, id := range g.Devices {
			t.devices[id] = true
		}
		for _, id := range g.Groups {
			t.groups[id] = true
		}
		tree[g.ObjectID] = t
	}
	return tree, deeper
}

// registrationTree reads the registration group, its members and the
// members of the groups nested in it: the changes since prev's delta links
// when prev has them, else everything. A group nested or un-nested since
// (the groups the rounds follow change) and a lost delta token make a full
// read. Groups nested deeper are listed with no members read: discovery
// does not follow them, and the portal says so.
func (g *Connector) registrationTree(ctx context.Context, prev store.DirectoryState) (groups []store.DirectoryGroup, cursor string, changed bool, err error) {
	reg := g.cfg.RegistrationGroup
	tree, deeper := treeFrom(prev.Groups)
	var links []string
	if prev.GroupCursor != "" && tree[reg] != nil {
		links, changed, err = g.groupRounds(ctx, strings.Split(prev.GroupCursor, "\n"), tree)
		switch {
		case err != nil && !lostDeltaState(err):
			return nil, "", false, err
		case err == nil && tree[reg] != nil && slices.Equal(tree.followed(), slices.Sorted(slices.Values(tree.wanted(reg)))):
			// The rounds follow exactly the groups of the tree.
		default:
			links = nil
		}
	}
	if links == nil {
		changed = true
		if tree, links, err = g.readTree(ctx); err != nil {
			return nil, "", false, err
		}
	}
	groups, err = g.treeGroups(ctx, tree, deeper)
	if err != nil {
		return nil, "", false, err
	}
	if !changed && len(groups) != len(prev.Groups) {
		changed = true // a group nested two levels down came or went
	}
	return groups, strings.Join(links, "\n"), changed, nil
}

// readTree reads the tree in full: a round for the registration group,
// then rounds for the groups nested in it, up to maxFilterIDs a round.
func (g *Connector) readTree(ctx context.Context) (groupTree, []string, error) {
	reg := g.cfg.RegistrationGroup
	tree := make(groupTree)
	links, _, err := g.groupRounds(ctx, []string{groupsDeltaLink([]string{reg})}, tree)
	if err != nil {
		return nil, nil, err
	}
	if tree[reg] == nil {
		return nil, nil, fmt.Errorf("the registration group %s (PATCHBOARD_GRAPH_REGISTRATION_GROUP) does not exist in the tenant", reg)
	}
	nested := tree.wanted(reg)[1:]
	var firsts []string
	for len(nested) > 0 {
		n := min(maxFilterIDs, len(nested))
		firsts = append(firsts, groupsDeltaLink(nested[:n]))
		nested = nested[n:]
	}
	more, _, err := g.groupRounds(ctx, firsts, tree)
	if err != nil {
		return nil, nil, err
	}
	return tree, append(links, more...), nil
}

// groupsDeltaLink is the first request of a round following these groups.
func groupsDeltaLink(ids []string) string {
	terms := make([]string, len(ids))
	for i, id := range ids {
		terms[i] = "id eq '" + id + "'"
	}
	q := url.Values{"$select": {groupsDeltaSelect}, "$filter": {strings.Join(terms, " or ")}}
	return groupsDeltaPath + "?" + q.Encode()
}

// followed lists the groups the tree holds, sorted.
func (t groupTree) followed() []string {
	ids := make([]string, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// wanted lists the groups the tree must follow: the registration group
// first, then the groups nested in it, sorted.
func (t groupTree) wanted(reg string) []string {
	var nested []string
	if r := t[reg]; r != nil {
		for id := range r.groups {
			if id != reg {
				nested = append(nested, id)
			}
		}
	}
	sort.Strings(nested)
	return append([]string{reg}, nested...)
}

// groupRounds runs one delta round from each link, applying the changes to
// tree, and returns the next links and whether anything changed.
func (g *Connector) groupRounds(ctx context.Context, links []string, tree groupTree) (next []string, changed bool, err error) {
	for _, link := range links {
		r := request{method: http.MethodGet, path: link, permission: groupPermission,
			header: http.Header{"Prefer": {fmt.Sprintf("odata.maxpagesize=%d", pageSize)}}}
		deltaLink, err := g.client.pages(ctx, r, func(items []json.RawMessage) error {
			for _, raw := range items {
				changed = true
				if err := tree.apply(raw); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		if deltaLink == "" {
			return nil, false, errors.New("Microsoft Graph groups delta ended without an @odata.deltaLink")
		}
		next = append(next, deltaLink)
	}
	return next, changed, nil
}

// apply applies one item of a groups delta round: a deleted group, or a
// group with its name (when it changed) and the members added or removed
// (all of them in a first round, possibly over several items).
func (t groupTree) apply(raw []byte) error {
	var item struct {
		ID          string          `json:"id"`
		DisplayName *string         `json:"displayName"`
		Removed     json.RawMessage `json:"@removed"`
		Members     []struct {
			Type    string          `json:"@odata.type"`
			ID      string          `json:"id"`
			Removed json.RawMessage `json:"@removed"`
		} `json:"members@delta"`
	}
	if err := json.Unmarshal(raw, &item); err != nil || item.ID == "" {
		return errors.New("Microsoft Graph groups delta: an item without an id")
	}
	id := strings.ToLower(item.ID)
	if item.Removed != nil {
		delete(t, id)
		return nil
	}
	grp := t[id]
	if grp == nil {
		grp = newTracked("")
		t[id] = grp
	}
	if item.DisplayName != nil {
		grp.name = *item.DisplayName
	}
	for _, m := range item.Members {
		mid := strings.ToLower(m.ID)
		var set map[string]bool
		switch m.Type {
		case "#microsoft.graph.device":
			set = grp.devices
		case "#microsoft.graph.group":
			set = grp.groups
		default:
			continue // users and other objects are not Patchboard's
		}
		if m.Removed != nil {
			delete(set, mid)
		} else {
			set[mid] = true
		}
	}
	return nil
}

// treeGroups lists the tree as the store takes it: the registration group,
// the groups nested in it, and the groups nested in those (named from
// deeper, or read when new).
func (g *Connector) treeGroups(ctx context.Context, tree groupTree, deeper map[string]string) ([]store.DirectoryGroup, error) {
	reg := g.cfg.RegistrationGroup
	var out []store.DirectoryGroup
	seen := make(map[string]bool)
	var third []string
	for i, id := range tree.wanted(reg) {
		t := tree[id]
		if t == nil {
			continue
		}
		seen[id] = true
		dg := store.DirectoryGroup{ObjectID: id, Name: t.name, Depth: min(i, 1), Devices: sortedKeys(t.devices), Groups: sortedKeys(t.groups)}
		out = append(out, dg)
		if i > 0 {
			third = append(third, dg.Groups...)
		}
	}
	sort.Strings(third)
	for _, id := range third {
		if seen[id] {
			continue
		}
		seen[id] = true
		name, ok := deeper[id]
		if !ok {
			var err error
			if name, err = g.groupName(ctx, id); err != nil {
				return nil, err
			}
		}
		out = append(out, store.DirectoryGroup{ObjectID: id, Name: name, Depth: 2})
	}
	return out, nil
}

// groupName reads a group's display name.
func (g *Connector) groupName(ctx context.Context, id string) (string, error) {
	var grp struct {
		DisplayName string `json:"displayName"`
	}
	err := g.client.do(ctx, request{method: http.MethodGet, permission: groupPermission,
		path: "v1.0/groups/" + url.PathEscape(id) + "?$select=id,displayName"}, &grp)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return "", nil // deleted meanwhile: the next read drops it
	}
	return grp.DisplayName, err
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deviceMembers reads the object IDs of a group's direct device members.
func (g *Connector) deviceMembers(ctx context.Context, id string) ([]string, error) {
	var devices []string
	q := url.Values{"$select": {"id"}, "$top": {fmt.Sprint(pageSize)}}
	_, err := g.client.pages(ctx, request{method: http.MethodGet, permission: groupPermission,
		path: "v1.0/groups/" + url.PathEscape(id) + "/members?" + q.Encode()},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				var m struct {
					Type string `json:"@odata.type"`
					ID   string `json:"id"`
				}
				if err := json.Unmarshal(raw, &m); err != nil {
					return fmt.Errorf("Microsoft Graph group member: %w", err)
				}
				if m.Type == "#microsoft.graph.device" {
					devices = append(devices, strings.ToLower(m.ID))
				}
			}
			return nil
		})
	return devices, err
}

// registrationOwners reads the registration group's owners (users and
// service principals; GroupMember.Read.All). Without User.ReadBasic.All
// Graph returns a user's id alone, which is enough to match an account
// that signed in with Entra ID.
func (g *Connector) registrationOwners(ctx context.Context) ([]store.DirectoryOwner, error) {
	var owners []store.DirectoryOwner
	q := url.Values{"$select": {"id,displayName,userPrincipalName"}}
	_, err := g.client.pages(ctx, request{method: http.MethodGet, permission: groupPermission,
		path: "v1.0/groups/" + url.PathEscape(g.cfg.RegistrationGroup) + "/owners?" + q.Encode()},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				var o struct {
					ID                string  `json:"id"`
					DisplayName       *string `json:"displayName"`
					UserPrincipalName *string `json:"userPrincipalName"`
				}
				if err := json.Unmarshal(raw, &o); err != nil || o.ID == "" {
					return errors.New("Microsoft Graph group owners: an owner without an id")
				}
				owner := store.DirectoryOwner{ObjectID: strings.ToLower(o.ID)}
				if o.DisplayName != nil {
					owner.DisplayName = *o.DisplayName
				}
				if o.UserPrincipalName != nil {
					owner.UserPrincipalName = *o.UserPrincipalName
				}
				owners = append(owners, owner)
			}
			return nil
		})
	return owners, err
}
