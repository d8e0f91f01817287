package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/store/rule"
	"patchboard/views"
)

// Groups serves the groups list and each group's page: members, nesting,
// owners and, for dynamic groups, the rule editor with its live preview.
type Groups struct{ Deps }

// Preview and page sizes of the group pages.
const (
	rulePreviewDevices = 20
	memberPageSize     = 50
	deviceSearchLimit  = 25
	maxSearchLength    = 200
)

// groupChanged tells the group page to refresh what shows membership.
const groupChanged = "group-changed"

func groupID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such group.")
	}
	return id, nil
}

func searchParam(c echo.Context, name string) string {
	s := strings.TrimSpace(c.FormValue(name))
	if len(s) > maxSearchLength {
		s = s[:maxSearchLength]
	}
	return s
}

// List shows every group with its type, member count, nesting and whether
// discovery follows it, and the create form.
func (h *Groups) List(c echo.Context) error {
	v, err := h.listView(c)
	if err != nil {
		return err
	}
	v.Deleted = strings.TrimSpace(c.QueryParam("deleted"))
	if len(v.Deleted) > 256 {
		v.Deleted = ""
	}
	return Render(c, http.StatusOK, views.GroupsPage(v))
}

func (h *Groups) listView(c echo.Context) (views.GroupsView, error) {
	ctx := c.Request().Context()
	groups, err := h.Store.Groups(ctx)
	if err != nil {
		return views.GroupsView{}, err
	}
	counts, err := h.Store.MemberCounts(ctx)
	if err != nil {
		return views.GroupsView{}, err
	}
	return views.GroupsView{Groups: groups, Counts: counts, Create: views.GroupForm{Kind: string(store.GroupAssigned)}}, nil
}

// ruleView previews src for the rule editor: what it matches, or where it
// does not parse. An empty rule is neither.
func (h *Groups) ruleView(c echo.Context, src string) (views.RuleView, error) {
	return previewRule(c, src, h.Store.PreviewRule)
}

// previewRule previews src with preview, the store's preview of a group
// rule or of a blade filter (which may read ring too).
func previewRule(c echo.Context, src string, preview func(context.Context, string, int) (store.RulePreview, error)) (views.RuleView, error) {
	v := views.RuleView{Source: src}
	if strings.TrimSpace(src) == "" {
		return v, nil
	}
	p, err := preview(c.Request().Context(), src, rulePreviewDevices)
	var se *rule.SyntaxError
	switch {
	case errors.As(err, &se):
		v.ErrPos, v.ErrMsg = se.Pos, se.Msg
	case err != nil:
		return v, err
	default:
		v.Preview, v.Checked = p, true
	}
	return v, nil
}

// RulePreview answers the rule editor as the admin types: the parser's
// position and message, or the match count and the first devices.
func (h *Groups) RulePreview(c echo.Context) error {
	src := c.FormValue("rule")
	v, err := h.ruleView(c, src)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.RulePreview(v))
}

// Create makes an assigned group, or a dynamic one with its rule. A refused
// name or rule comes back in the form (422) with nothing created.
func (h *Groups) Create(c echo.Context) error {
	f := views.GroupForm{Name: strings.TrimSpace(c.FormValue("name")), Kind: c.FormValue("kind"), Rule: c.FormValue("rule")}
	var g store.Group
	var err error
	switch store.GroupKind(f.Kind) {
	case store.GroupAssigned:
		g, err = h.Store.CreateGroup(c.Request().Context(), f.Name, "", Actor(c))
	case store.GroupDynamic:
		if strings.TrimSpace(f.Rule) == "" {
			// CreateGroup makes an assigned group of an empty rule; a
			// dynamic group needs one: the parser says "rule is empty".
			_, err = rule.Parse(f.Rule)
		} else {
			g, err = h.Store.CreateGroup(c.Request().Context(), f.Name, f.Rule, Actor(c))
		}
	default:
		f.Kind = string(store.GroupAssigned)
		f.Error = "Choose the membership type: assigned or dynamic."
		return h.createRefused(c, f)
	}
	var se *rule.SyntaxError
	switch {
	case errors.As(err, &se):
		f.Preview = views.RuleView{Source: f.Rule, ErrPos: se.Pos, ErrMsg: se.Msg}
		f.Error = "The rule does not parse; nothing was created."
		return h.createRefused(c, f)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrConflict):
		f.Error = store.Message(err)
		if f.Kind == string(store.GroupDynamic) {
			if f.Preview, err = h.ruleView(c, f.Rule); err != nil {
				return err
			}
		}
		return h.createRefused(c, f)
	case err != nil:
		return err
	}
	return redirect(c, views.GroupURL(g.ID))
}

func (h *Groups) createRefused(c echo.Context, f views.GroupForm) error {
	if IsFragment(c) {
		return Render(c, http.StatusUnprocessableEntity, views.GroupCreate(f))
	}
	v, err := h.listView(c)
	if err != nil {
		return err
	}
	v.Create = f
	return Render(c, http.StatusUnprocessableEntity, views.GroupsPage(v))
}

// redirect sends the browser to a page: HX-Redirect for htmx, 303 otherwise.
func redirect(c echo.Context, to string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// membersRight says whether the user may change g, and if not why. The
// Device Registration group and the groups nested in it need
// PermEditRegistrationGroup, or a Service Administrator who owns the
// registration group (SPEC §7): what they hold is what discovery registers.
func (h *Groups) membersRight(c echo.Context, g store.Group) (bool, string, error) {
	if g.Synced() {
		return false, "This group is synced from Microsoft Entra ID and is read-only here: change its members in the Entra admin center.", nil
	}
	u := CurrentUser(c)
	ok, err := h.Store.MayEditGroup(c.Request().Context(), g, u)
	if err != nil || ok {
		return ok, "", err
	}
	if !u.Role.Can(store.PermEditGroups) {
		return false, fmt.Sprintf("Your role (%s) can view groups but not change them.", u.Role.Label()), nil
	}
	if g.Builtin {
		return false, fmt.Sprintf("Only Global Administrators, Intune Service Administrators and owners of the %s group can change its members; you are a %s and not an owner.",
			store.RegistrationGroupName, u.Role.Label()), nil
	}
	return false, fmt.Sprintf("%s is nested in the %s group, so its devices are discovered and registered: only Global Administrators, Intune Service Administrators and owners of the %s group can change it; you are a %s and not an owner.",
		g.Name, store.RegistrationGroupName, store.RegistrationGroupName, u.Role.Label()), nil
}

// requireMembersRight refuses a change of g the user may not make: 403
// with the reason, and an audit entry.
func (h *Groups) requireMembersRight(c echo.Context, g store.Group) error {
	ok, why, err := h.membersRight(c, g)
	if err != nil || ok {
		return err
	}
	if g.Synced() { // nobody's role is at fault
		return echo.NewHTTPError(http.StatusUnprocessableEntity, why)
	}
	u := CurrentUser(c)
	req := c.Request()
	h.Audit(c, store.AuditEntry{Actor: u.Email, Action: "request.refused",
		Target: req.Method + " " + req.URL.Path, Outcome: store.OutcomeDenied,
		Detail: fmt.Sprintf("%s may not change %s (not an owner of the %s group)", u.Role.Label(), g.Name, store.RegistrationGroupName)})
	return echo.NewHTTPError(http.StatusForbidden, "Your role does not allow this. "+why)
}

// membersGroup reads the group of the URL whose members the request
// changes, refusing users who may not change them.
func (h *Groups) membersGroup(c echo.Context) (store.Group, error) {
	g, err := h.loadGroup(c)
	if err != nil {
		return store.Group{}, err
	}
	return g, h.requireMembersRight(c, g)
}

// loadGroup reads the group of the URL.
func (h *Groups) loadGroup(c echo.Context) (store.Group, error) {
	id, err := groupID(c)
	if err != nil {
		return store.Group{}, err
	}
	return h.Store.GroupByID(c.Request().Context(), id)
}

func memberQuery(c echo.Context) store.MemberQuery {
	return store.MemberQuery{Search: searchParam(c, "q"), After: c.FormValue("after"), Limit: memberPageSize}
}

// membersView loads a page of g's members.
func (h *Groups) membersView(c echo.Context, g store.Group, canEdit bool) (views.MembersView, error) {
	q := memberQuery(c)
	page, err := h.Store.GroupMembers(c.Request().Context(), g.ID, q)
	if err != nil {
		return views.MembersView{}, err
	}
	return views.MembersView{Group: g, Search: q.Search, After: q.After, Page: page, CanEdit: canEdit}, nil
}

// groupParts say which parts of a group's page to load: the whole page, or
// the one section an htmx refresh targets.
type groupParts struct{ members, rule, owners, nestable bool }

var wholeGroupPage = groupParts{members: true, rule: true, owners: true, nestable: true}

// groupView loads the parts of a group's page.
func (h *Groups) groupView(c echo.Context, g store.Group, parts groupParts) (views.GroupView, error) {
	ctx := c.Request().Context()
	u := CurrentUser(c)
	v := views.GroupView{Group: g, CanManageOwners: u.Role.Can(store.PermManage), MemberCount: g.Devices + g.Groups}
	var err error
	if v.CanEditMembers, v.MembersDenied, err = h.membersRight(c, g); err != nil {
		return v, err
	}
	v.CanEdit = v.CanEditMembers && !g.Builtin && !g.Synced()
	if parts.members {
		if v.Members, err = h.membersView(c, g, v.CanEditMembers); err != nil {
			return v, err
		}
	}
	if g.Kind == store.GroupDynamic && parts.rule {
		if v.Rule, err = h.ruleView(c, g.Rule); err != nil {
			return v, err
		}
		v.MemberCount = v.Rule.Preview.Matches
	}
	if parts.owners && g.Synced() {
		if v.DirectoryOwners, err = h.Store.DirectoryOwners(ctx, g.ID); err != nil {
			return v, err
		}
	} else if parts.owners {
		if v.Owners, err = h.Store.GroupOwners(ctx, g.ID); err != nil {
			return v, err
		}
		if v.CanManageOwners {
			if v.Accounts, err = h.Store.Accounts(ctx, h.Now()); err != nil {
				return v, err
			}
		}
	}
	if parts.nestable && g.Kind == store.GroupAssigned {
		groups, err := h.Store.Groups(ctx)
		if err != nil {
			return v, err
		}
		for _, o := range groups {
			if o.ID != g.ID && !o.Builtin && !slices.Contains(o.Parents, g.Name) {
				v.Nestable = append(v.Nestable, o)
			}
		}
	}
	return v, nil
}

// Detail is a group's page; htmx asks for the section it refreshes.
func (h *Groups) Detail(c echo.Context) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	if IsFragment(c) {
		var parts groupParts
		var render func(views.GroupView) templ.Component
		switch c.Request().Header.Get("HX-Target") {
		case "group-summary":
			parts, render = groupParts{rule: true}, views.GroupSummary
		case "nest-panel":
			parts, render = groupParts{nestable: true}, views.NestPanel
		case "group-owners":
			parts, render = groupParts{owners: true}, views.GroupOwners
		}
		if render != nil {
			v, err := h.groupView(c, g, parts)
			if err != nil {
				return err
			}
			return Render(c, http.StatusOK, render(v))
		}
	}
	v, err := h.groupView(c, g, wholeGroupPage)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.GroupPage(v))
}

// Members is a page of a group's members: search and paging swap it.
func (h *Groups) Members(c echo.Context) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	if !IsFragment(c) {
		to := views.GroupURL(g.ID)
		if qs := c.QueryString(); qs != "" {
			to += "?" + qs
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
	canEdit, _, err := h.membersRight(c, g)
	if err != nil {
		return err
	}
	v, err := h.membersView(c, g, canEdit)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.MemberTable(v))
}

// DeviceSearch finds directory devices to add to a group by name, serial
// number or device ID.
func (h *Groups) DeviceSearch(c echo.Context) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	v := views.DeviceSearchView{Group: g, Query: searchParam(c, "find")}
	if v.Query != "" {
		if v.Matches, err = h.Store.DirectoryMatches(c.Request().Context(), g.ID, v.Query, deviceSearchLimit); err != nil {
			return err
		}
		v.Limited = len(v.Matches) == deviceSearchLimit
	}
	if v.CanAdd, _, err = h.membersRight(c, g); err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.DeviceSearchResults(v))
}

// Rename gives a group a new name.
func (h *Groups) Rename(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	g, err = h.Store.RenameGroup(c.Request().Context(), g.ID, c.FormValue("name"), Actor(c))
	if err != nil {
		return err
	}
	return redirect(c, views.GroupURL(g.ID))
}

// Delete deletes a group; the Device Registration group is refused with a
// message.
func (h *Groups) Delete(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	g, err = h.Store.DeleteGroup(c.Request().Context(), g.ID, Actor(c))
	if err != nil {
		return err
	}
	return redirect(c, "/groups?deleted="+url.QueryEscape(g.Name))
}

// SaveRule replaces a dynamic group's rule. A rule that does not parse is
// refused (422) with the parser's position and message, and nothing changes.
func (h *Groups) SaveRule(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	src := c.FormValue("rule")
	saved, err := h.Store.SetGroupRule(c.Request().Context(), g.ID, src, Actor(c))
	var se *rule.SyntaxError
	if errors.As(err, &se) {
		v := views.GroupView{Group: g, CanEdit: true, Rule: views.RuleView{Source: src, ErrPos: se.Pos, ErrMsg: se.Msg}}
		if !IsFragment(c) {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
		}
		return Render(c, http.StatusUnprocessableEntity, views.RuleEditor(v))
	}
	if err != nil {
		return err
	}
	if !IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, views.GroupURL(g.ID))
	}
	v := views.GroupView{Group: saved, CanEdit: true, RuleSaved: true}
	if v.Rule, err = h.ruleView(c, saved.Rule); err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", groupChanged)
	return Render(c, http.StatusOK, views.RuleEditor(v))
}

// changed reports a membership change: a toast, and the page refreshes what
// shows membership.
func changed(c echo.Context, g store.Group, msg string) error {
	if !IsFragment(c) {
		return c.Redirect(http.StatusSeeOther, views.GroupURL(g.ID))
	}
	c.Response().Header().Set("HX-Trigger", groupChanged)
	return Render(c, http.StatusOK, views.ActionToast(msg))
}

// AddDevices adds the picked devices to an assigned group.
func (h *Groups) AddDevices(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	ids, err := selectedDevices(c)
	if err != nil {
		return err
	}
	res, err := h.Store.AddGroupDevices(c.Request().Context(), g.Name, ids, Actor(c))
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Added %d device(s) to %s", res.Added, g.Name)
	if res.Already > 0 {
		msg += fmt.Sprintf(" (%d already members)", res.Already)
	}
	return changed(c, g, msg+".")
}

// RemoveDevices removes the selected devices from a group. Leaving the
// Device Registration group does not deregister a device.
func (h *Groups) RemoveDevices(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	ids, err := selectedDevices(c)
	if err != nil {
		return err
	}
	n, err := h.Store.RemoveGroupDevices(c.Request().Context(), g.Name, ids, Actor(c))
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Removed %d device(s) from %s.", n, g.Name)
	if g.Builtin {
		msg += " Registered devices stay registered; deregister them from the device blades to exclude them."
	}
	return changed(c, g, msg)
}

// formGroupID reads the group_id of a form.
func formGroupID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.FormValue("group_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.Invalidf("choose a group")
	}
	return id, nil
}

// Nest makes the picked group a member of this one. Cycles and nesting into
// a dynamic group are refused with the store's message.
func (h *Groups) Nest(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	childID, err := formGroupID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	child, err := h.Store.GroupByID(ctx, childID)
	if err != nil {
		return err
	}
	if err := h.Store.NestGroup(ctx, g.Name, child.Name, Actor(c)); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s is now a member of %s.", child.Name, g.Name)
	if nested, err := h.Store.GroupByID(ctx, childID); err == nil && nested.Depth >= 2 {
		msg += fmt.Sprintf(" It sits %d levels under the %s group: its devices are not discovered.", nested.Depth, store.RegistrationGroupName)
	}
	return changed(c, g, msg)
}

// Unnest takes a member group out of this one.
func (h *Groups) Unnest(c echo.Context) error {
	g, err := h.membersGroup(c)
	if err != nil {
		return err
	}
	childID, err := formGroupID(c)
	if err != nil {
		return err
	}
	if err := h.Store.RemoveGroupMember(c.Request().Context(), g.ID, childID, Actor(c)); err != nil {
		return err
	}
	return changed(c, g, fmt.Sprintf("Removed the member group from %s. Devices it brought in stay registered.", g.Name))
}

// AddOwner makes a user an owner of the group (Global Administrators).
func (h *Groups) AddOwner(c echo.Context) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.FormValue("user_id"), 10, 64)
	if err != nil || uid <= 0 {
		return store.Invalidf("choose an account")
	}
	u, err := h.Store.AddGroupOwner(c.Request().Context(), g.ID, uid, Actor(c))
	if err != nil {
		return err
	}
	return changed(c, g, fmt.Sprintf("%s now owns %s.", u.Email, g.Name))
}

// RemoveOwner takes a user's ownership away (Global Administrators).
func (h *Groups) RemoveOwner(c echo.Context) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.FormValue("user_id"), 10, 64)
	if err != nil || uid <= 0 {
		return store.Invalidf("choose an owner")
	}
	if err := h.Store.RemoveGroupOwner(c.Request().Context(), g.ID, uid, Actor(c)); err != nil {
		return err
	}
	return changed(c, g, fmt.Sprintf("Removed an owner of %s.", g.Name))
}
