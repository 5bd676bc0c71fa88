package gslb

import (
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"
)

// notifyInterval is the least time between two rounds of NOTIFY to the
// secondaries: a burst of changes (a rollout, a site failing over) costs
// them one transfer at its start and one at its end, not one per change.
const notifyInterval = 5 * time.Second

// Transfer implements transfer.Transferer, so that the transfer plugin serves
// AXFR of our zones (and IXFR, by falling back to AXFR). The content comes
// from one table, so it is consistent with the SOA serial that frames it:
// every name with what a query without a client subnet would get, all
// members of the active pool (see table.Records).
func (g *GSLB) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	t := g.builder.Table()
	z := t.ZoneNamed(zone)
	if z == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	soa := z.SOA()
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		if serial != 0 && !serialBefore(serial, soa.Serial) {
			// IXFR from a serial as new as ours: nothing to send but
			// the SOA, which tells the secondary it is up to date.
			ch <- []dns.RR{soa}
			return
		}
		// The transfer plugin reads to the end even when the client
		// goes away, so this goroutine always finishes.
		for rrs := range t.Records(z) {
			ch <- rrs
		}
		ch <- []dns.RR{soa}
	}()
	return ch, nil
}

// serialBefore reports whether serial a is older than b in serial number
// arithmetic (RFC 1982), as secondaries compare them.
func serialBefore(a, b uint32) bool {
	return a != b && b-a < 1<<31
}

// requestNotify asks the notifier for a round of NOTIFY; it never blocks
// (the builder calls it after each publish).
func (g *GSLB) requestNotify() {
	select {
	case g.notifyCh <- struct{}{}:
	default:
	}
}

// notifyLoop calls notify (the transfer plugin's Notify: NOTIFY to its
// secondaries) for every zone when the table changed, at most once per
// every. Every new table has a new serial in all zones (one serial for the
// table), so every zone is notified.
func (g *GSLB) notifyLoop(notify func(zone string) error, every time.Duration) {
	// A secondary that is down would otherwise log a line per change.
	failing := map[string]bool{}
	for {
		select {
		case <-g.stopCh:
			return
		case <-g.notifyCh:
		}
		for _, z := range g.zones {
			err := notify(z)
			switch {
			case err != nil && !failing[z]:
				log.Warningf("Zone %s changed (serial %d) but a secondary did not take the NOTIFY: %v; check the transfer plugin's `to` addresses and that the secondary accepts NOTIFY from this server (logged again at debug level until it does)",
					z, g.builder.Table().Serial, err)
			case err != nil:
				log.Debugf("NOTIFY for zone %s still failing: %v", z, err)
			case failing[z]:
				log.Infof("NOTIFY for zone %s accepted by every secondary again", z)
			}
			failing[z] = err != nil
		}
		select {
		case <-g.stopCh:
			return
		case <-time.After(every):
		}
	}
}
