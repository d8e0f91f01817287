package store

import (
	"cmp"
	"slices"
	"strings"
)

// peerIndex answers FindPeers' question for a whole directory without
// holding its devices: discovery walks the directory in batches, adds each
// device's keys here, and asks for a candidate's peers once every device
// has been added. It keeps a key and a PK per device that can be a peer
// (hybrid-joined devices, and registered devices and candidates with a
// serial number), in sorted slices without maps, so a million devices cost
// tens of megabytes instead of the gigabytes their rows would.
//
// The answers are FindPeers' (peers_test.go compares the two), given as PKs:
// the caller loads the few peer devices it names.
type peerIndex struct {
	hybridSerial, hybridName []peerKeyPK // hybrid-joined devices by serial and by name
	holders                  []peerHolder
	// staleHolders are entra-registered devices that could hold a serial;
	// finish drops those that turn out to be stale records (they have a
	// hybrid twin), which never hold a serial for anyone.
	staleHolders []peerMaybeStale
	// entraCandidates are the entra-registered candidates, which have a
	// peer when they have a hybrid twin.
	entraCandidates []peerMaybeStale
	// peered are the PKs of the candidates that may have peers, sorted:
	// every other candidate has none.
	peered []int64
}

type peerKeyPK struct {
	key string
	pk  int64
}

// peerHolder is a registered device or a candidate that holds a serial.
type peerHolder struct {
	key        string // peerKey of the serial number
	pk         int64
	registered bool
	hybrid     bool
}

type peerMaybeStale struct {
	holder peerHolder
	name   string // peerKey of the display name
}

// peerOf is one device as the index needs it. Keys are copied, so a
// device's strings (substrings of its scanned row) are not kept alive.
type peerOf struct {
	pk                    int64
	join                  uint8 // peerJoin
	serial, name          string
	registered, candidate bool
}

func newPeerOf(d *Device, registered, candidate bool) peerOf {
	return peerOf{pk: d.PK, join: peerJoin(d.JoinType), serial: peerKey(d.SerialNumber), name: peerKey(d.DisplayName),
		registered: registered, candidate: candidate}
}

// add records one device; every device of the directory must be added
// before finish.
func (x *peerIndex) add(p peerOf) {
	if p.join == peerHybridJoined {
		if p.serial != "" {
			x.hybridSerial = append(x.hybridSerial, peerKeyPK{strings.Clone(p.serial), p.pk})
		}
		if p.name != "" {
			x.hybridName = append(x.hybridName, peerKeyPK{strings.Clone(p.name), p.pk})
		}
	}
	if p.candidate && p.join == peerEntraRegistered {
		x.entraCandidates = append(x.entraCandidates, peerMaybeStale{holder: peerHolder{key: strings.Clone(p.serial), pk: p.pk}, name: strings.Clone(p.name)})
	}
	if p.serial == "" || !(p.registered || p.candidate) {
		return
	}
	h := peerHolder{key: strings.Clone(p.serial), pk: p.pk, registered: p.registered, hybrid: p.join == peerHybridJoined}
	if p.join == peerEntraRegistered {
		x.staleHolders = append(x.staleHolders, peerMaybeStale{holder: h, name: strings.Clone(p.name)})
		return
	}
	x.holders = append(x.holders, h)
}

// finish sorts the index; after it, peers answers.
func (x *peerIndex) finish() {
	byKeyPK := func(a, b peerKeyPK) int { return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.pk, b.pk)) }
	slices.SortFunc(x.hybridSerial, byKeyPK)
	slices.SortFunc(x.hybridName, byKeyPK)
	for _, s := range x.staleHolders {
		if x.twin(s.holder.key, s.name) == 0 {
			x.holders = append(x.holders, s.holder)
		}
	}
	x.staleHolders = nil
	slices.SortFunc(x.holders, func(a, b peerHolder) int {
		return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.pk, b.pk))
	})

	// A candidate may have peers when another holder shares its serial,
	// or when it has a twin.
	for i := 0; i < len(x.holders); {
		j := i + 1
		for j < len(x.holders) && x.holders[j].key == x.holders[i].key {
			j++
		}
		if j-i > 1 {
			for _, h := range x.holders[i:j] {
				if !h.registered {
					x.peered = append(x.peered, h.pk)
				}
			}
		}
		i = j
	}
	for _, c := range x.entraCandidates {
		if x.twin(c.holder.key, c.name) != 0 {
			x.peered = append(x.peered, c.holder.pk)
		}
	}
	x.entraCandidates = nil
	slices.Sort(x.peered)
	x.peered = slices.Compact(x.peered)
}

// mayHavePeers reports whether the candidate with this PK may have peers;
// when not, its Peers are zero.
func (x *peerIndex) mayHavePeers(pk int64) bool {
	_, found := slices.BinarySearch(x.peered, pk)
	return found
}

// lowest returns the lowest PK with key in a sorted list, or 0.
func lowest(list []peerKeyPK, key string) int64 {
	if key == "" {
		return 0
	}
	i, found := slices.BinarySearchFunc(list, key, func(e peerKeyPK, k string) int { return strings.Compare(e.key, k) })
	if !found {
		return 0
	}
	return list[i].pk
}

// twin is the hybrid twin of an entra-registered device with these keys: a
// serial match first, then a name match.
func (x *peerIndex) twin(serial, name string) int64 {
	if pk := lowest(x.hybridSerial, serial); pk != 0 {
		return pk
	}
	return lowest(x.hybridName, name)
}

// peerPKs are a candidate's Peers as PKs (0 = none).
type peerPKs struct {
	holder           int64
	holderRegistered bool
	twin             int64
}

func (p peerPKs) none() bool { return p.holder == 0 && p.twin == 0 }

// peers answers for a candidate as FindPeers does.
func (x *peerIndex) peers(p peerOf) peerPKs {
	var out peerPKs
	if p.join == peerEntraRegistered {
		out.twin = x.twin(p.serial, p.name)
	}
	if p.serial == "" {
		return out
	}
	i, _ := slices.BinarySearchFunc(x.holders, p.serial, func(e peerHolder, k string) int { return strings.Compare(e.key, k) })
	var cand int64
	for ; i < len(x.holders) && x.holders[i].key == p.serial; i++ {
		h := &x.holders[i]
		if h.pk == p.pk || (out.twin != 0 && h.hybrid) {
			// Never its own peer; a stale record's hybrid serial-sharers
			// are all its twins, not duplicates.
			continue
		}
		if h.registered {
			out.holder, out.holderRegistered = h.pk, true
			return out // the holders run in PK order: the first registered one is the lowest
		}
		if cand == 0 {
			cand = h.pk
		}
	}
	out.holder = cand
	return out
}
