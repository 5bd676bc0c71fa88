package status

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// fakeProvider serves fixed services in one zone.
type fakeProvider struct {
	zone     string
	services []Service
}

func (f *fakeProvider) Services() []Service          { return f.services }
func (f *fakeProvider) Detail(s []Service) []Service { return s }
func (f *fakeProvider) Zones() []Zone                { return []Zone{{Name: f.zone}} }
func (f *fakeProvider) Sources() []Source            { return nil }
func (f *fakeProvider) Explain(name string, _ uint16, _ netip.Prefix) (*Explanation, error) {
	if len(name) < len(f.zone) || name[len(name)-len(f.zone):] != f.zone {
		return nil, ErrNotServed
	}
	return &Explanation{Zone: f.zone}, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func page(t *testing.T, addr string) (*Page, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/status.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var p Page
	return &p, json.NewDecoder(resp.Body).Decode(&p)
}

// TestAttachDetach: stanzas with one address share one listener; a
// reload's new instance attaches before the old detaches, so the page
// stays up and shows the new one; the last detach closes the listener and
// a later attach opens it again.
func TestAttachDetach(t *testing.T) {
	addr := freeAddr(t)
	a := &fakeProvider{zone: "a.example.", services: []Service{{Name: "x.a.example.", Zone: "a.example.", State: StateUp}}}
	b := &fakeProvider{zone: "b.example.", services: []Service{{Name: "y.b.example.", Zone: "b.example.", State: StateDown}}}
	if err := Attach(addr, a); err != nil {
		t.Fatal(err)
	}
	if err := Attach(addr, b); err != nil {
		t.Fatalf("a second stanza on the same address: %v", err)
	}
	p, err := page(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 2 || p.Services[0].Name != "y.b.example." || len(p.Zones) != 2 || p.Counts.Down != 1 {
		t.Fatalf("shared page: %+v", p)
	}
	// The reload: a new instance of a, then the old one goes.
	a2 := &fakeProvider{zone: "a.example.", services: []Service{{Name: "z.a.example.", Zone: "a.example.", State: StateUp}}}
	if err := Attach(addr, a2); err != nil {
		t.Fatal(err)
	}
	Detach(addr, a)
	if p, err = page(t, addr); err != nil || len(p.Services) != 2 || p.Services[1].Name != "z.a.example." {
		t.Fatalf("after the reload: %+v %v", p, err)
	}
	Detach(addr, b)
	Detach(addr, a2)
	if _, err := page(t, addr); err == nil {
		t.Fatal("the listener still answers after every stanza detached")
	}
	if err := Attach(addr, a); err != nil {
		t.Fatalf("attaching again: %v", err)
	}
	defer Detach(addr, a)
	if p, err = page(t, addr); err != nil || len(p.Services) != 1 {
		t.Fatalf("reopened: %+v %v", p, err)
	}
}

// TestAttachAddressInUse: an address held by something else is an error
// that names it.
func TestAttachAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Attach(ln.Addr().String(), &fakeProvider{zone: "a."}); err == nil {
		t.Fatal("attached to an address in use")
	}
}
