package store

import (
	"math"
	"strings"
)

// PeerInput is one device of the population FindPeers looks across.
type PeerInput struct {
	Device     *Device
	Registered bool // holds a registration (status Active/Readiness failed/Inactive)
	Candidate  bool // member of the registration group (directly or one level nested), not registered, not excluded
}

// FindPeers returns the Peers of every candidate in in, keyed by Device.PK,
// for the hardware-identity and personal-or-non-windows checks (SPEC §3).
//
// Only candidates with at least one non-nil field are in the map: callers
// treat a missing key as zero Peers, and leaving out the common case keeps
// the map small for a large fleet.
//
// Rules:
//   - A device whose join type is entra-registered and that shares a
//     serial number or display name (trimmed, case-insensitive) with any
//     hybrid-joined device in in, candidate or not, is the stale half of a
//     dual-state device. It gets HybridTwin (a serial match is preferred over
//     a display-name match, then the lowest PK) and never holds a serial for
//     anyone else.
//   - A candidate's SerialHolder is the lowest-PK registered device with the
//     same normalised serial, else the lowest-PK other candidate with it.
//     Devices that are neither registered nor candidates never hold a serial.
//   - A stale record and its twins are never duplicates of each other: every
//     hybrid-joined device sharing the stale record's serial is its twin by
//     definition, so none of them is its SerialHolder.
//   - Empty serials and names never match anything.
//
// It runs in linear time over maps (no pairwise comparison), so that a
// discovery over a million devices stays cheap, and breaks every tie by PK so
// the result does not depend on the order of in.
func FindPeers(in []PeerInput) map[int64]Peers {
	if len(in) > math.MaxInt32 {
		// Holders are kept as int32 indices; no directory is this large.
		panic("store: FindPeers input too large")
	}
	joins := make([]uint8, len(in))
	serials := make([]string, len(in))

	// Pass 1: hybrid-joined devices by serial and by name, for dual state.
	hybridBySerial := make(map[string]*Device)
	hybridByName := make(map[string]*Device)
	for i, pi := range in {
		d := pi.Device
		if d == nil {
			continue
		}
		joins[i] = peerJoin(d.JoinType)
		serials[i] = peerKey(d.SerialNumber)
		if joins[i] != peerHybridJoined {
			continue
		}
		if serials[i] != "" {
			peerKeepLowest(hybridBySerial, serials[i], d)
		}
		if n := peerKey(d.DisplayName); n != "" {
			peerKeepLowest(hybridByName, n, d)
		}
	}

	// Pass 2: stale records, then serial holders among the rest. Each
	// serial keeps only its two lowest-PK holders of each kind: enough to
	// name one that is not the candidate itself, without holding whole
	// groups (a million devices sharing one bogus serial stays linear).
	// Holders are indices into in, so the million-entry table holds no
	// pointers for the garbage collector to scan.
	twins := make(map[int64]*Device)
	groupOf := make(map[string]int32, len(in))
	groups := make([]peerSerialHolders, 0, len(in)) // pointer-free, so cheap to hold
	group := make([]int32, len(in))                 // index+1 into groups; 0 = none
	for i, pi := range in {
		d := pi.Device
		if d == nil {
			continue
		}
		if joins[i] == peerEntraRegistered && (len(hybridBySerial) > 0 || len(hybridByName) > 0) {
			twin := hybridBySerial[serials[i]]
			if twin == nil {
				twin = hybridByName[peerKey(d.DisplayName)]
			}
			if twin != nil {
				twins[d.PK] = twin
				continue // a stale record never holds a serial
			}
		}
		if serials[i] == "" || !(pi.Registered || pi.Candidate) {
			continue
		}
		g, ok := groupOf[serials[i]]
		if !ok {
			g = int32(len(groups))
			groups = append(groups, peerSerialHolders{})
			groupOf[serials[i]] = g
		}
		group[i] = g + 1
		h := &groups[g]
		hybrid := joins[i] == peerHybridJoined
		if pi.Registered {
			h.registered.add(in, i)
			if !hybrid {
				h.registeredNonHybrid.add(in, i)
			}
		} else {
			h.candidate.add(in, i)
			if !hybrid {
				h.candidateNonHybrid.add(in, i)
			}
		}
	}

	// Pass 3: answer for each candidate.
	out := make(map[int64]Peers)
	for i, pi := range in {
		d := pi.Device
		if d == nil || !pi.Candidate {
			continue
		}
		var p Peers
		p.HybridTwin = twins[d.PK]
		g := group[i]
		if p.HybridTwin != nil && serials[i] != "" {
			// Stale records skipped pass 2, so look their serial up now.
			if x, ok := groupOf[serials[i]]; ok {
				g = x + 1
			}
		}
		if g > 0 {
			h := &groups[g-1]
			reg, cand := &h.registered, &h.candidate
			if p.HybridTwin != nil {
				reg, cand = &h.registeredNonHybrid, &h.candidateNonHybrid
			}
			if o := reg.other(in, d); o != nil {
				p.SerialHolder, p.SerialHolderRegistered = o, true
			} else if o := cand.other(in, d); o != nil {
				p.SerialHolder = o
			}
		}
		if p.SerialHolder != nil || p.HybridTwin != nil {
			out[d.PK] = p
		}
	}
	return out
}

// Join types as FindPeers needs them.
const (
	peerOtherJoin uint8 = iota
	peerHybridJoined
	peerEntraRegistered
)

func peerJoin(j string) uint8 {
	j = strings.TrimSpace(j)
	switch {
	case strings.EqualFold(j, JoinHybridJoined):
		return peerHybridJoined
	case strings.EqualFold(j, JoinEntraRegistered):
		return peerEntraRegistered
	}
	return peerOtherJoin
}

// peerKey normalises a serial number or display name for matching: trimmed
// and case-folded, as the directory compares them. It folds to upper case
// only because serials and device names are usually reported in upper case
// already, so the common case allocates nothing.
func peerKey(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func peerKeepLowest(m map[string]*Device, key string, d *Device) {
	if cur := m[key]; cur == nil || d.PK < cur.PK {
		m[key] = d
	}
}

// peerSerialHolders are the devices that may hold one serial number. The
// non-hybrid sets answer for stale records, whose hybrid-joined
// serial-sharers are all their twins.
type peerSerialHolders struct {
	registered, registeredNonHybrid peerLowestTwo
	candidate, candidateNonHybrid   peerLowestTwo
}

// peerLowestTwo keeps the two inputs with the lowest PKs added to it, as
// index+1 into the input (0 = empty).
type peerLowestTwo [2]int32

func (l *peerLowestTwo) add(in []PeerInput, i int) {
	pk := in[i].Device.PK
	switch {
	case l[0] == 0 || pk < in[l[0]-1].Device.PK:
		l[0], l[1] = int32(i+1), l[0]
	case pk == in[l[0]-1].Device.PK:
		// The same device listed twice (registered and candidate, or a
		// duplicate input row) must not become its own peer.
	case l[1] == 0 || pk < in[l[1]-1].Device.PK:
		l[1] = int32(i + 1)
	}
}

// other returns the lowest-PK device other than d, or nil.
func (l *peerLowestTwo) other(in []PeerInput, d *Device) *Device {
	for _, x := range l {
		if x != 0 && in[x-1].Device.PK != d.PK {
			return in[x-1].Device
		}
	}
	return nil
}
