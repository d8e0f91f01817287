package views

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"patchboard/store"
)

// GroupURL is the page of a group.
func GroupURL(id int64) string { return fmt.Sprintf("/groups/%d", id) }

// GroupsView is the model of the groups list.
type GroupsView struct {
	Groups []store.Group
	// Counts are the member counts by group ID (store.MemberCounts).
	Counts map[int64]int
	Create GroupForm
	// Deleted names a group that was just deleted.
	Deleted string
}

// GroupForm is the state of the create form.
type GroupForm struct {
	Name  string
	Kind  string // "assigned" or "dynamic"
	Rule  string
	Error string
	// Preview is the rule's check when the form comes back refused.
	Preview RuleView
}

// Dynamic reports whether the form is set to create a dynamic group.
func (f GroupForm) Dynamic() bool { return f.Kind == string(store.GroupDynamic) }

// RuleView is the rule editor's verdict on a rule: where it fails to parse,
// or what it matches now.
type RuleView struct {
	Source string
	// ErrPos (1-based, in characters) and ErrMsg are the parser's; ErrPos is
	// 0 when the rule parsed or was not checked.
	ErrPos int
	ErrMsg string
	// Checked means the rule parsed and Preview holds what it matches.
	Checked bool
	Preview store.RulePreview
}

// Empty reports whether there is no rule to check yet.
func (r RuleView) Empty() bool { return strings.TrimSpace(r.Source) == "" && r.ErrPos == 0 }

// snippetRadius is how many characters the error excerpt shows around the
// position.
const snippetRadius = 40

// Snippet cuts the rule around the error position: the text before it, the
// character at it (a space past the end) and the text after, shortened to a
// window with "…" where text was left out.
func (r RuleView) Snippet() (before, at, after string) {
	runes := []rune(r.Source)
	i := r.ErrPos - 1
	if i < 0 {
		i = 0
	}
	if i > len(runes) {
		i = len(runes)
	}
	from, to := max(0, i-snippetRadius), min(len(runes), i+1+snippetRadius)
	before = string(runes[from:i])
	if from > 0 {
		before = "…" + before
	}
	at = " "
	if i < len(runes) {
		at = string(runes[i])
		after = string(runes[i+1 : to])
	}
	if to < len(runes) {
		after += "…"
	}
	return before, at, after
}

// Length is the rule's length in characters, as the 3,072 limit counts.
func (r RuleView) Length() int { return utf8.RuneCountInString(r.Source) }

// GroupView is the model of a group's page.
type GroupView struct {
	Group store.Group
	// MemberCount is the direct members (devices and groups) of an assigned
	// group, the devices a dynamic group's rule matches.
	MemberCount int
	Members     MembersView
	Owners      []store.User
	// DirectoryOwners are a synced registration group's owners in Entra ID.
	DirectoryOwners []store.DirectoryOwnerAccount
	// Accounts are who may be made an owner (for Global Administrators).
	Accounts []store.Account
	// Nestable are the groups the picker offers for nesting here.
	Nestable []store.Group
	Rule     RuleView
	// CanEdit: rename, delete, edit the rule (PermEditGroups; never the
	// Device Registration group's name or existence).
	CanEdit bool
	// CanEditMembers is Role.CanEditGroup with ownership; MembersDenied
	// says why not.
	CanEditMembers  bool
	MembersDenied   string
	CanManageOwners bool
	RuleSaved       bool
}

// MembersView is one page of a group's members.
type MembersView struct {
	Group   store.Group
	Search  string
	After   string
	Page    store.MemberPage
	CanEdit bool
}

// URL is the members fragment of the page after cursor (or the first page).
func (v MembersView) URL(after string) string {
	q := url.Values{}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if after != "" {
		q.Set("after", after)
	}
	u := GroupURL(v.Group.ID) + "/members"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// PageURL is the whole group page at the page after cursor.
func (v MembersView) PageURL(after string) string {
	return GroupURL(v.Group.ID) + strings.TrimPrefix(v.URL(after), GroupURL(v.Group.ID)+"/members")
}

// DeviceSearchView is the model of the add-devices search results.
type DeviceSearchView struct {
	Group   store.Group
	Query   string
	Matches []store.DirectoryMatch
	Limited bool // more devices may match than are shown
	CanAdd  bool
}

// Kind is a group's type as the UI names it.
func Kind(g store.Group) string {
	if g.Kind == store.GroupDynamic {
		return "Dynamic"
	}
	return "Assigned"
}

// DepthWarning is what the UI says of a group nested too deep for discovery,
// or "" when discovery follows it (or it is not under the Device
// Registration group at all).
func DepthWarning(g store.Group) string {
	if g.Depth < 2 {
		return ""
	}
	return fmt.Sprintf("Nested %d levels under the %s group: its devices are not discovered. Only direct members and groups nested one level are followed.",
		g.Depth, store.RegistrationGroupName)
}

// Placement says where a group sits relative to the Device Registration
// group.
func Placement(g store.Group) string {
	switch {
	case g.Builtin:
		return "Its direct members, and the members of groups nested one level inside it, are discovered."
	case g.Depth == 1:
		return fmt.Sprintf("Nested in the %s group: its devices are discovered.", store.RegistrationGroupName)
	case g.Depth >= 2:
		return DepthWarning(g)
	}
	return fmt.Sprintf("Not in the %s group: its devices are not discovered.", store.RegistrationGroupName)
}

func statusLabel(s store.Status) string {
	if s == "" {
		return "Not a candidate"
	}
	return s.Label()
}

func idString(id int64) string { return fmt.Sprint(id) }
