package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// defaultCacheSize bounds each identity cache when the config leaves it 0.
const defaultCacheSize = 10000

// credentialKey is the SHA-256 of a credential set (introspection hashes
// every cookie and Authorization header it forwards): a fixed-size array key
// costs no allocation.
type credentialKey [sha256.Size]byte

// identityCache is a bounded LRU of identities whose entries each expire at
// their own time, read against an injected clock (the expirable LRU has one
// TTL for all entries and reads the wall clock, which tests cannot move).
// An expired entry is dropped when it is next read; until then it only takes
// a slot, which the LRU reclaims under pressure.
//
// K is credentialKey for introspection and the token string itself for
// session JWTs: a map lookup by string hashes it with the runtime's AES hash
// and compares the whole token on a hit, about 9,000 instructions fewer per
// request than SHA-256 over a 250-byte token, with no collision to reason
// about. The caller must store a copy (strings.Clone), never a substring of
// the request's header, which would keep the whole header alive.
type identityCache[K comparable] struct {
	lru *lru.Cache[K, identityEntry]
}

type identityEntry struct {
	id      *Identity
	expires time.Time
}

func newIdentityCache[K comparable](size int) (*identityCache[K], error) {
	if size <= 0 {
		size = defaultCacheSize
	}
	c, err := lru.New[K, identityEntry](size)
	if err != nil {
		return nil, err
	}
	return &identityCache[K]{lru: c}, nil
}

// get returns the identity cached under k if it is still valid at now.
func (c *identityCache[K]) get(k K, now time.Time) (*Identity, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		c.lru.Remove(k)
		return nil, false
	}
	return e.id, true
}

// add caches id under k until expires; an entry already expired at now is
// not added.
func (c *identityCache[K]) add(k K, id *Identity, expires, now time.Time) {
	if !now.Before(expires) {
		return
	}
	c.lru.Add(k, identityEntry{id: id, expires: expires})
}

// keyHasher hashes strings without converting them to []byte (which would
// copy a whole token onto the heap on every request): the string is copied
// through a fixed buffer into a pooled SHA-256 state.
type keyHasher struct {
	h   hash.Hash
	buf [512]byte
	sum [sha256.Size]byte
}

var keyHashers = sync.Pool{New: func() any { return &keyHasher{h: sha256.New()} }}

func (x *keyHasher) writeString(s string) {
	for len(s) > 0 {
		n := copy(x.buf[:], s)
		x.h.Write(x.buf[:n])
		s = s[n:]
	}
}

func (x *keyHasher) writeUint(n int) {
	binary.BigEndian.PutUint64(x.buf[:8], uint64(n))
	x.h.Write(x.buf[:8])
}

// hashGroups returns SHA-256 over groups of strings, each group prefixed by
// its length and each string by its byte length, so no two distinct inputs
// share an encoding whatever bytes the strings hold.
func hashGroups(groups ...[]string) credentialKey {
	x := keyHashers.Get().(*keyHasher)
	x.h.Reset()
	for _, g := range groups {
		x.writeUint(len(g))
		for _, s := range g {
			x.writeUint(len(s))
			x.writeString(s)
		}
	}
	x.h.Sum(x.sum[:0])
	k := credentialKey(x.sum)
	keyHashers.Put(x)
	return k
}
