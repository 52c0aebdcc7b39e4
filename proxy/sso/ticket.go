package sso

import (
	"errors"
	"sync"
)

// An SDK ticket is single use: sealed, bound to its caller and valid for
// auth.SSOTokenLifetime, it is remembered from its exchange until it
// expires, and a second exchange is refused. Binding already keeps a
// ticket to its owner; single use also stops the owner's own ticket, read
// from a log or a browser extension, from opening a second Metabase
// session. The memory is per replica: a replay on another replica is
// stopped by the binding alone.

// ticketCacheMax bounds the remembered tickets: a ticket costs a signed-in
// caller and a Metabase exchange, so this is about 1,000 exchanges a
// second per replica for the ticket's 60 s.
const ticketCacheMax = 65536

var (
	errTicketReused = errors.New("ticket already exchanged: a ticket is single use")
	errTicketsFull  = errors.New("too many tickets in flight: try again shortly")
)

// ticketCache is the set of tickets exchanged and not yet expired.
type ticketCache struct {
	mu   sync.Mutex
	used map[string]int64 // ticket id → its expiry, Unix seconds
	max  int
}

func newTicketCache(max int) *ticketCache {
	return &ticketCache{used: map[string]int64{}, max: max}
}

// use records the ticket id (expiring at exp) as exchanged at now, or
// fails if it was already, or if the cache is full of live tickets (fail
// closed: forgetting one would let it be replayed).
func (c *ticketCache) use(id string, exp, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.used[id]; ok && e > now {
		return errTicketReused
	}
	if len(c.used) >= c.max {
		for k, e := range c.used {
			if e <= now {
				delete(c.used, k)
			}
		}
		if len(c.used) >= c.max {
			return errTicketsFull
		}
	}
	c.used[id] = exp
	return nil
}
