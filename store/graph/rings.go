package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"patchboard/store"
)

// Ring write-back: each ring is an assigned security group in Entra ID,
// created when missing, whose device members Patchboard keeps equal to the
// ring. Each write-back reads the groups' members and changes only the
// difference, so it is idempotent and an interrupted one is finished by the
// next.
const (
	ringCreatePermission = "Group.Create"
	ringWritePermission  = "GroupMember.ReadWrite.All"

	// batchSize is the most requests one JSON $batch may hold.
	batchSize = 20
)

// WriteRings makes the ring groups' device members exactly want[ring]
// (device object IDs).
func (g *Connector) WriteRings(ctx context.Context, want map[store.Ring][]string) (store.RingWriteResult, error) {
	start := g.client.Requests()
	var res store.RingWriteResult
	var ops []memberOp
	for _, ring := range store.Rings {
		res.Wanted += len(want[ring])
		gid, err := g.ringGroup(ctx, ring)
		if err != nil {
			res.Requests = g.client.Requests() - start
			return res, err
		}
		have, err := g.deviceMembers(ctx, gid)
		if err != nil {
			res.Requests = g.client.Requests() - start
			return res, err
		}
		ops = append(ops, diffMembers(gid, have, want[ring])...)
	}
	err := g.applyMemberOps(ctx, ops, &res)
	res.Requests = g.client.Requests() - start
	return res, err
}

// memberOp adds a device to a group or removes it.
type memberOp struct {
	group, object string
	remove        bool
}

// diffMembers is the difference between a group's device members and want,
// in a stable order.
func diffMembers(group string, have, want []string) []memberOp {
	in := make(map[string]bool, len(have))
	for _, id := range have {
		in[strings.ToLower(id)] = true
	}
	var ops []memberOp
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		id = strings.ToLower(id)
		wanted[id] = true
		if !in[id] {
			ops = append(ops, memberOp{group: group, object: id})
		}
	}
	var drop []string
	for id := range in {
		if !wanted[id] {
			drop = append(drop, id)
		}
	}
	sort.Strings(drop)
	for _, id := range drop {
		ops = append(ops, memberOp{group: group, object: id, remove: true})
	}
	return ops
}

// ringGroup finds the ring's group by its display name, or creates it. A
// crash between creating and using it is harmless: the next write-back
// finds it by name.
func (g *Connector) ringGroup(ctx context.Context, ring store.Ring) (string, error) {
	name := g.cfg.RingGroupPrefix + ring.Label()
	id, err := g.findGroup(ctx, name)
	if err != nil || id != "" {
		return id, err
	}
	return g.createRingGroup(ctx, ring, name)
}

// findGroup returns the ID of the group with the display name, "" when
// there is none.
func (g *Connector) findGroup(ctx context.Context, name string) (string, error) {
	q := url.Values{
		"$filter": {"displayName eq '" + strings.ReplaceAll(name, "'", "''") + "'"},
		"$select": {"id,displayName"},
	}
	var found struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := g.client.do(ctx, request{method: http.MethodGet, path: "v1.0/groups?" + q.Encode(), permission: groupPermission}, &found); err != nil {
		return "", err
	}
	if len(found.Value) > 0 {
		return strings.ToLower(found.Value[0].ID), nil
	}
	return "", nil
}

func (g *Connector) createRingGroup(ctx context.Context, ring store.Ring, name string) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	body := map[string]any{
		"displayName":     name,
		"description":     "Devices in Patchboard's " + ring.Label() + " deployment ring. Managed by Patchboard: changes made here are undone.",
		"groupTypes":      []string{},
		"mailEnabled":     false,
		"mailNickname":    "patchboard-ring-" + string(ring),
		"securityEnabled": true,
	}
	if err := g.client.do(ctx, request{method: http.MethodPost, path: "v1.0/groups", body: body, permission: ringCreatePermission}, &created); err != nil {
		return "", err
	}
	if created.ID == "" {
		return "", errors.New("Microsoft Graph created the ring group " + name + " but returned no id")
	}
	return strings.ToLower(created.ID), nil
}

// batchRequest and batchResponse are JSON $batch's shapes.
type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// applyMemberOps sends the operations in $batch requests of up to 20. An
// operation throttled inside a batch is sent again in a later batch after
// the wait its Retry-After asks; one that fails otherwise is counted and
// the first such failure returned, after every other operation was tried.
func (g *Connector) applyMemberOps(ctx context.Context, ops []memberOp, res *store.RingWriteResult) error {
	var firstErr error
	failed := 0
	for attempt := 0; len(ops) > 0; attempt++ {
		var again []memberOp
		var wait time.Duration
		for i := 0; i < len(ops); i += batchSize {
			chunk := ops[i:min(i+batchSize, len(ops))]
			retry, advised, err := g.sendBatch(ctx, chunk, res)
			if err != nil {
				return err
			}
			for _, r := range retry {
				if r.err != nil {
					failed++
					if firstErr == nil {
						firstErr = r.err
					}
					continue
				}
				again = append(again, r.op)
			}
			wait = max(wait, advised)
		}
		if len(again) > 0 && attempt >= g.client.Retries {
			return fmt.Errorf("ring write-back: %d membership changes still throttled after %d retries; the next discovery sends them", len(again), attempt)
		}
		if len(again) > 0 {
			if wait == 0 {
				wait = retryAfter(nil, attempt, g.client.MaxWait)
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
		ops = again
	}
	if firstErr != nil {
		return fmt.Errorf("ring write-back: %d membership changes failed, the first: %w", failed, firstErr)
	}
	return nil
}

type opOutcome struct {
	op  memberOp
	err error // nil: throttled, try again
}

// sendBatch sends one $batch and sorts its per-request results: done
// (counted in res), to retry (throttled), or failed.
func (g *Connector) sendBatch(ctx context.Context, chunk []memberOp, res *store.RingWriteResult) ([]opOutcome, time.Duration, error) {
	reqs := make([]batchRequest, len(chunk))
	for i, op := range chunk {
		id := strconv.Itoa(i + 1)
		if op.remove {
			reqs[i] = batchRequest{ID: id, Method: http.MethodDelete,
				URL: "/groups/" + url.PathEscape(op.group) + "/members/" + url.PathEscape(op.object) + "/$ref"}
		} else {
			reqs[i] = batchRequest{ID: id, Method: http.MethodPost, URL: "/groups/" + url.PathEscape(op.group) + "/members/$ref",
				Headers: map[string]string{"Content-Type": "application/json"},
				Body:    map[string]string{"@odata.id": g.client.base.String() + "v1.0/directoryObjects/" + op.object}}
		}
	}
	var out struct {
		Responses []batchResponse `json:"responses"`
	}
	err := g.client.do(ctx, request{method: http.MethodPost, path: "v1.0/$batch", body: map[string]any{"requests": reqs},
		permission: ringWritePermission}, &out)
	if err != nil {
		return nil, 0, err
	}
	answered := make(map[string]batchResponse, len(out.Responses))
	for _, r := range out.Responses {
		answered[r.ID] = r
	}
	var rest []opOutcome
	var wait time.Duration
	for i, op := range chunk {
		r, ok := answered[reqs[i].ID]
		switch {
		case !ok:
			rest = append(rest, opOutcome{op: op}) // unanswered: send again
		case r.Status >= 200 && r.Status < 300:
			if op.remove {
				res.Removed++
			} else {
				res.Added++
			}
		case !op.remove && r.Status == http.StatusBadRequest && strings.Contains(string(r.Body), "already exist"):
			// Added by an earlier, interrupted write-back: done.
		case op.remove && r.Status == http.StatusNotFound:
			// Removed already: done.
		case r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout:
			h := http.Header{}
			for k, v := range r.Headers {
				h.Set(k, v)
			}
			if h.Get("Retry-After") != "" {
				wait = max(wait, retryAfter(h, 0, g.client.MaxWait))
			}
			rest = append(rest, opOutcome{op: op})
		case r.Status == http.StatusForbidden:
			rest = append(rest, opOutcome{op: op, err: &PermissionError{Err: graphErrorOf(r.Status, r.Body, reqs[i].Method, reqs[i].URL), Permission: ringWritePermission}})
		default:
			rest = append(rest, opOutcome{op: op, err: graphErrorOf(r.Status, r.Body, reqs[i].Method, reqs[i].URL)})
		}
	}
	return rest, wait, nil
}
