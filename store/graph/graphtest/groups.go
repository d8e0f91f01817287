package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// memberEvent is one change of a group's membership, for groups delta.
type memberEvent struct {
	group, member string
	removed       bool
	seq           int64
}

// Owner is an owner of a group: a user (or, with no user principal name, a
// service principal).
type Owner struct {
	ID                string
	DisplayName       string
	UserPrincipalName string
}

// SetOwners sets a group's owners.
func (s *Server) SetOwners(group string, owners ...Owner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners[group] = append([]Owner(nil), owners...)
}

// memberChanged records a membership change at the current sequence number
// (the caller holds the lock and has advanced s.seq).
func (s *Server) memberChanged(group, member string, removed bool) {
	s.groupEvents = append(s.groupEvents, memberEvent{group: group, member: member, removed: removed, seq: s.seq})
}

// memberType is the @odata.type of a directory object.
func (s *Server) memberType(id string) string {
	if _, ok := s.devices[id]; ok {
		return "#microsoft.graph.device"
	}
	if _, ok := s.groups[id]; ok {
		return "#microsoft.graph.group"
	}
	for _, t := range s.tombs {
		if t.id == id {
			return "#microsoft.graph.device"
		}
	}
	for _, t := range s.groupTombs {
		if t.id == id {
			return "#microsoft.graph.group"
		}
	}
	return "#microsoft.graph.user"
}

// filterIDs reads a groups delta $filter: "id eq '…' or id eq '…'" (at most
// 50 IDs, as Graph documents).
func filterIDs(f string) ([]string, error) {
	if f == "" {
		return nil, nil
	}
	var ids []string
	for _, term := range strings.Split(f, " or ") {
		v, ok := strings.CutPrefix(strings.TrimSpace(term), "id eq '")
		if !ok || !strings.HasSuffix(v, "'") {
			return nil, fmt.Errorf("unsupported filter %q", term)
		}
		ids = append(ids, strings.TrimSuffix(v, "'"))
	}
	if len(ids) > 50 {
		return nil, fmt.Errorf("a filter names at most 50 IDs")
	}
	return ids, nil
}

type deltaMember struct {
	Type    string          `json:"@odata.type"`
	ID      string          `json:"id"`
	Removed json.RawMessage `json:"@removed,omitempty"`
}

// groupsDelta is GET /groups/delta?$select=id,displayName,members with an
// optional $filter by IDs: a round without a token returns each group with
// all its members in members@delta (a large group split over several
// items, as Graph does); a round with a $deltatoken returns only the groups
// that changed since, with only the members added or removed (these with
// @removed), and deleted groups with @removed. Other groups are not this
// stand-in's: without a filter it serves every group.
func (s *Server) groupsDelta(w http.ResponseWriter, r *http.Request) {
	s.count("groupdelta")
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *cursor
	if tok := q.Get("$skiptoken"); tok != "" {
		c = s.cursors[tok]
		if c == nil || c.kind != "groupdelta" {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "The skip token is invalid.")
			return
		}
		delete(s.cursors, tok)
	} else {
		// A delta token stands for the round's query and where it ended, as
		// Graph's do: the next round keeps the filter.
		filter, from := q.Get("$filter"), int64(0)
		if tok := q.Get("$deltatoken"); tok != "" {
			round := s.cursors[tok]
			if round == nil || round.kind != "groupround" || round.to < s.minToken {
				graphError(w, http.StatusGone, "syncStateNotFound", "The sync state of the delta token is gone; start a new round without a token.")
				return
			}
			filter, from = round.context, round.to
		} else if sel := q.Get("$select"); !strings.Contains(","+sel+",", ",members,") {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "This stand-in serves groups delta with $select including members.")
			return
		}
		ids, err := filterIDs(filter)
		if err != nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
			return
		}
		if ids == nil {
			ids = append(ids, s.groupOrder...)
		}
		size, _ := s.pageSize(r, 100, 999)
		c = &cursor{kind: "groupdelta", size: size, from: from, to: s.seq, context: filter}
		c.items = s.groupItems(ids, c.from, size)
	}
	var items []json.RawMessage
	if c.pos < len(c.items) {
		items = append(items, c.items[c.pos])
		c.pos++
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	body := map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#groups(id,displayName,members)", "value": items}
	if c.pos < len(c.items) {
		body["@odata.nextLink"] = s.link("/v1.0/groups/delta", url.Values{"$skiptoken": {s.newCursor(c)}})
	} else {
		tok := s.newCursor(&cursor{kind: "groupround", to: c.to, context: c.context})
		body["@odata.deltaLink"] = s.link("/v1.0/groups/delta", url.Values{"$deltatoken": {tok}})
	}
	writeJSON(w, http.StatusOK, body)
}

// groupItems builds a round's items: one page each, of at most size
// members.
func (s *Server) groupItems(ids []string, from int64, size int) []json.RawMessage {
	var items []json.RawMessage
	emit := func(id string, name *string, members []deltaMember) {
		for first := true; first || len(members) > 0; first = false {
			n := min(size, len(members))
			obj := map[string]any{"id": id, "members@delta": members[:n]}
			if name != nil && first {
				obj["displayName"] = *name
			}
			b, _ := json.Marshal(obj)
			items = append(items, b)
			members = members[n:]
		}
	}
	for _, id := range ids {
		g, live := s.groups[id]
		if from > 0 {
			for _, t := range s.groupTombs {
				if t.id == id && t.seq > from && !live {
					b, _ := json.Marshal(map[string]any{"id": id, "@removed": map[string]string{"reason": "changed"}})
					items = append(items, b)
				}
			}
		}
		if !live {
			continue
		}
		if from == 0 {
			members := make([]deltaMember, 0, len(g.Members))
			for _, m := range g.Members {
				members = append(members, deltaMember{Type: s.memberType(m), ID: m})
			}
			emit(id, &g.DisplayName, members)
			continue
		}
		// The net change of each member since from.
		last := make(map[string]bool) // member -> removed
		var order []string
		for _, e := range s.groupEvents {
			if e.group != id || e.seq <= from {
				continue
			}
			if _, ok := last[e.member]; !ok {
				order = append(order, e.member)
			}
			last[e.member] = e.removed
		}
		named := s.groupNamed[id] > from
		if len(order) == 0 && !named {
			continue
		}
		members := make([]deltaMember, 0, len(order))
		for _, m := range order {
			dm := deltaMember{Type: s.memberType(m), ID: m}
			if last[m] {
				dm.Removed = json.RawMessage(`{"reason":"deleted"}`)
			}
			members = append(members, dm)
		}
		var name *string
		if named {
			name = &g.DisplayName
		}
		emit(id, name, members)
	}
	return items
}

// groupOwners is GET /groups/{id}/owners: the owners as directory objects
// with their @odata.type.
func (s *Server) groupOwners(w http.ResponseWriter, r *http.Request, id string) {
	s.count("owners")
	s.mu.Lock()
	_, ok := s.groups[id]
	owners := s.owners[id]
	s.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	value := []any{}
	for _, o := range owners {
		obj := map[string]any{"@odata.type": "#microsoft.graph.user", "id": o.ID, "displayName": o.DisplayName, "userPrincipalName": o.UserPrincipalName}
		if o.UserPrincipalName == "" {
			obj = map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": o.ID, "displayName": o.DisplayName}
		}
		value = append(value, obj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#directoryObjects(id,displayName,userPrincipalName)", "value": value})
}
