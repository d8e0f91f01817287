package graphtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Intune's update policies as Microsoft documents them: device
// configurations (v1.0; the windowsUpdateForBusinessConfiguration kind is
// listed with $filter=isof('microsoft.graph.windowsUpdateForBusinessConfiguration')),
// and the /beta quality and feature update profiles. Each is kept as the
// JSON object Graph would return, with its assignments.

// policyCollections maps a collection path to the @odata.type its members
// must have ("" for deviceConfigurations: any kind).
var policyCollections = map[string]string{
	"/v1.0/deviceManagement/deviceConfigurations":         "",
	"/beta/deviceManagement/windowsQualityUpdateProfiles": "#microsoft.graph.windowsQualityUpdateProfile",
	"/beta/deviceManagement/windowsFeatureUpdateProfiles": "#microsoft.graph.windowsFeatureUpdateProfile",
}

// Policy is a stored policy or profile: its properties and the group IDs
// it is assigned to.
type Policy struct {
	Props  map[string]any
	Groups []string
}

type policyDoc struct {
	collection string
	props      map[string]any
	groups     []string
}

// Policies returns the policies of a collection ("deviceConfigurations",
// "windowsQualityUpdateProfiles", "windowsFeatureUpdateProfiles") by display name.
func (s *Server) Policies(collection string) map[string]Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Policy)
	for _, id := range s.policyOrder {
		d := s.policies[id]
		if strings.HasSuffix(d.collection, "/"+collection) {
			name, _ := d.props["displayName"].(string)
			out[name] = Policy{Props: clone(d.props), Groups: append([]string(nil), d.groups...)}
		}
	}
	return out
}

// EditPolicy changes a policy as an administrator would in Intune; it
// reports whether the policy was found.
func (s *Server) EditPolicy(name string, fn func(props map[string]any)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.policyOrder {
		if d := s.policies[id]; d.props["displayName"] == name {
			fn(d.props)
			d.props["lastModifiedDateTime"] = time.Now().UTC().Format(time.RFC3339Nano)
			return true
		}
	}
	return false
}

// AddPolicy creates a policy in a collection ("deviceConfigurations", …)
// assigned to groups, as an administrator would in Intune, and returns its
// ID.
func (s *Server) AddPolicy(collection string, props map[string]any, groups ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for coll := range policyCollections {
		if strings.HasSuffix(coll, "/"+collection) {
			id := s.newIDLocked()
			props = clone(props)
			props["id"] = id
			s.policies[id] = &policyDoc{collection: coll, props: props, groups: groups}
			s.policyOrder = append(s.policyOrder, id)
			return id
		}
	}
	panic("graphtest: no policy collection " + collection)
}

// DeletePolicy removes a policy as an administrator would in Intune.
func (s *Server) DeletePolicy(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range s.policyOrder {
		if s.policies[id].props["displayName"] == name {
			delete(s.policies, id)
			s.policyOrder = append(s.policyOrder[:i], s.policyOrder[i+1:]...)
			return
		}
	}
}

// deletePolicyByID answers DELETE of a policy or profile: 204, or 404 when
// it does not exist.
func (s *Server) deletePolicyByID(w http.ResponseWriter, coll, id string) {
	s.count("policy-delete")
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.policies[id]; !ok || d.collection != coll {
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The policy was not found.")
		return
	}
	delete(s.policies, id)
	for i, pid := range s.policyOrder {
		if pid == id {
			s.policyOrder = append(s.policyOrder[:i], s.policyOrder[i+1:]...)
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// servePolicies answers the policy endpoints; false: not one of them.
func (s *Server) servePolicies(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	if _, ok := policyCollections[path]; ok {
		switch r.Method {
		case http.MethodGet:
			s.listPolicies(w, r, path)
		case http.MethodPost:
			s.createPolicy(w, r, path)
		default:
			return false
		}
		return true
	}
	for coll := range policyCollections {
		rest, ok := strings.CutPrefix(path, coll+"/")
		if !ok {
			continue
		}
		id, action, _ := strings.Cut(rest, "/")
		switch {
		case r.Method == http.MethodPatch && action == "":
			s.updatePolicy(w, r, coll, id)
		case r.Method == http.MethodPost && action == "assign":
			s.assignPolicy(w, r, coll, id)
		case r.Method == http.MethodGet && action == "assignments":
			s.listAssignments(w, coll, id)
		case r.Method == http.MethodDelete && action == "":
			s.deletePolicyByID(w, coll, id)
		default:
			return false
		}
		return true
	}
	return false
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, coll string) {
	s.count("policies")
	kind := ""
	if f := r.URL.Query().Get("$filter"); f != "" {
		k, ok := strings.CutPrefix(f, "isof('microsoft.graph.")
		if !ok || !strings.HasSuffix(k, "')") {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause.")
			return
		}
		kind = "#microsoft.graph." + strings.TrimSuffix(k, "')")
	}
	s.mu.Lock()
	value := []any{}
	for _, id := range s.policyOrder {
		d := s.policies[id]
		if d.collection == coll && (kind == "" || d.props["@odata.type"] == kind) {
			value = append(value, clone(d.props))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + coll + "/$metadata", "value": value})
}

func decodeProps(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var props map[string]any
	if err := json.NewDecoder(r.Body).Decode(&props); err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "The request body is not valid JSON.")
		return nil, false
	}
	for _, ro := range []string{"id", "createdDateTime", "lastModifiedDateTime", "version", "qualityUpdatesPauseExpiryDateTime", "featureUpdatesPauseExpiryDateTime"} {
		if _, ok := props[ro]; ok {
			graphError(w, http.StatusBadRequest, "BadRequest", "The property '"+ro+"' is read-only.")
			return nil, false
		}
	}
	return props, true
}

// pauseExpiry sets the read-only pause expiry as Intune does: 35 days from
// the pause, cleared by a resume.
func pauseExpiry(props, before map[string]any, now time.Time) {
	for _, kind := range []string{"quality", "feature"} {
		paused, _ := props[kind+"UpdatesPaused"].(bool)
		was, _ := before[kind+"UpdatesPaused"].(bool)
		switch {
		case paused && !was:
			props[kind+"UpdatesPauseExpiryDateTime"] = now.Add(35 * 24 * time.Hour).Format(time.RFC3339)
		case !paused:
			props[kind+"UpdatesPauseExpiryDateTime"] = "0001-01-01T00:00:00Z"
		}
	}
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, coll string) {
	s.count("policy-create")
	props, ok := decodeProps(w, r)
	if !ok {
		return
	}
	typ, _ := props["@odata.type"].(string)
	name, _ := props["displayName"].(string)
	if want := policyCollections[coll]; typ == "" || (want != "" && typ != want) || name == "" {
		graphError(w, http.StatusBadRequest, "BadRequest", "A value is required for '@odata.type' and 'displayName', and the type must be the collection's.")
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	id := s.newIDLocked()
	props["id"] = id
	props["createdDateTime"] = now.Format(time.RFC3339Nano)
	props["lastModifiedDateTime"] = now.Format(time.RFC3339Nano)
	props["version"] = 1
	if typ == "#microsoft.graph.windowsUpdateForBusinessConfiguration" {
		pauseExpiry(props, nil, now)
	}
	s.policies[id] = &policyDoc{collection: coll, props: props}
	s.policyOrder = append(s.policyOrder, id)
	out := clone(props)
	s.mu.Unlock()
	out["@odata.context"] = s.URL + coll + "/$metadata#entity"
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request, coll, id string) {
	s.count("policy-update")
	props, ok := decodeProps(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	d := s.policies[id]
	if d == nil || d.collection != coll {
		s.mu.Unlock()
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The policy "+id+" was not found.")
		return
	}
	if typ, ok := props["@odata.type"]; ok && typ != d.props["@odata.type"] {
		s.mu.Unlock()
		graphError(w, http.StatusBadRequest, "BadRequest", "The '@odata.type' of a policy cannot change.")
		return
	}
	before := clone(d.props)
	for k, v := range props {
		d.props[k] = v
	}
	now := time.Now().UTC()
	if d.props["@odata.type"] == "#microsoft.graph.windowsUpdateForBusinessConfiguration" {
		pauseExpiry(d.props, before, now)
	}
	d.props["lastModifiedDateTime"] = now.Format(time.RFC3339Nano)
	v, _ := d.props["version"].(int)
	d.props["version"] = v + 1
	out := clone(d.props)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// listAssignments is GET …/{id}/assignments (List
// deviceConfigurationAssignments): the policy's group assignments.
func (s *Server) listAssignments(w http.ResponseWriter, coll, id string) {
	s.count("policy-assignments")
	s.mu.Lock()
	d := s.policies[id]
	if d == nil || d.collection != coll {
		s.mu.Unlock()
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The policy "+id+" was not found.")
		return
	}
	value := []any{}
	for _, g := range d.groups {
		value = append(value, map[string]any{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "id": id + "_" + g,
			"target": map[string]any{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g}})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + coll + "('" + id + "')/assignments/$metadata", "value": value})
}

// assignPolicy is POST …/{id}/assign: the assignments replace the
// policy's. deviceConfigurations answer 200 with the assignments, the
// /beta profiles 204.
func (s *Server) assignPolicy(w http.ResponseWriter, r *http.Request, coll, id string) {
	s.count("policy-assign")
	var body struct {
		Assignments []struct {
			Target struct {
				ODataType string `json:"@odata.type"`
				GroupID   string `json:"groupId"`
			} `json:"target"`
		} `json:"assignments"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Assignments == nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "A value is required for 'assignments'.")
		return
	}
	s.mu.Lock()
	d := s.policies[id]
	if d == nil || d.collection != coll {
		s.mu.Unlock()
		graphError(w, http.StatusNotFound, "ResourceNotFound", "The policy "+id+" was not found.")
		return
	}
	var groups []string
	value := []any{}
	for _, a := range body.Assignments {
		if a.Target.ODataType != "#microsoft.graph.groupAssignmentTarget" || s.groups[a.Target.GroupID] == nil {
			s.mu.Unlock()
			graphError(w, http.StatusBadRequest, "BadRequest", "Assignment target is not an existing group.")
			return
		}
		groups = append(groups, a.Target.GroupID)
		value = append(value, map[string]any{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "id": id + "_" + a.Target.GroupID,
			"target": map[string]any{"@odata.type": a.Target.ODataType, "groupId": a.Target.GroupID}})
	}
	d.groups = groups
	s.mu.Unlock()
	if strings.HasPrefix(coll, "/beta/") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}
