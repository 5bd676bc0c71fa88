package table

import (
	"slices"
	"strings"

	"github.com/gslb/gslb/plugin/model"
	"github.com/miekg/dns"
)

// state is what the Builder keeps between tables to apply a change to the
// names it touches: each name's inputs (records and their health), how many
// names with data lie below each name (to keep empty non-terminals), the
// warnings per name and the counts behind the gauges. Only the builder's
// goroutine uses it.
type state struct {
	cfg    *Config
	glue   map[string][]model.Record // in-zone name server addresses
	gcfg   *Config                   // what glue compiles with
	static map[string]bool           // empty non-terminals between nested zones
	// zones are compiled once; each table gets copies with its own SOA
	// (the serial), sharing the NS, glue and counters.
	zones []*ZoneData

	inputs map[string]*input
	// below counts, per name, the names with data strictly below it in
	// its zone: a name without data exists while its count is above 0.
	below    map[string]int32
	warnings map[string][]string
	warned   bool // warnings changed since the last table

	downNames []int            // per zone: names answering their down response
	services  []int            // per zone: names with records
	members   []map[string]int // per zone: records by site
	records   int              // all records, in a zone or not

	// onHealth, when set, hears of every record of a name whose health
	// verdict flipped (Builder.OnMemberHealth).
	onHealth func(name string, r model.Record, up bool)
}

// input is what one name compiles from.
type input struct {
	recs []model.Record
	up   []bool // nil: all up
}

func newState(cfg *Config) (*state, *Table) {
	s := &state{
		cfg:      cfg,
		glue:     glueRecords(cfg),
		gcfg:     glueConfig(cfg),
		static:   map[string]bool{},
		inputs:   map[string]*input{},
		below:    map[string]int32{},
		warnings: map[string][]string{},
	}
	s.zones = compileZones(cfg, 0)
	s.downNames = make([]int, len(s.zones))
	s.services = make([]int, len(s.zones))
	s.members = make([]map[string]int, len(s.zones))
	for i := range s.members {
		s.members[i] = map[string]int{}
	}
	t := &Table{zones: s.zones, cfg: cfg, gcfg: s.gcfg}
	names := newNameEdit(nil)
	for i, z := range s.zones {
		names.set(z.Name, &node{zone: uint16(i), apex: true})
	}
	for _, name := range nestedParents(s.zones) {
		s.static[name] = true
		if names.get(name) == nil {
			names.set(name, &node{zone: uint16(zoneIndex(s.zones, name))})
		}
	}
	t.names = names.done()
	return s, t
}

// update is one batch of changes for apply: names whose records may have
// changed (recs holds their records now) and names whose health may have.
type update struct {
	recs    map[string][]model.Record
	recheck []string
}

// apply applies u to prev and returns the next table, or nil when no
// name's inputs actually changed. health may be nil (all up).
func (s *state) apply(prev *Table, u update, health Health, serial uint32) *Table {
	var names *nameEdit
	edit := func() *nameEdit {
		if names == nil {
			names = newNameEdit(prev.names)
		}
		return names
	}
	for name, recs := range u.recs {
		old := s.inputs[name]
		var oldRecs []model.Record
		if old != nil {
			oldRecs = old.recs
		}
		changed := !slices.Equal(oldRecs, recs)
		if changed && health != nil {
			health.Track(name, oldRecs, recs)
		}
		up := upOf(health, recs)
		if !changed && old != nil && slices.Equal(old.up, up) {
			continue
		}
		if !changed && old == nil {
			continue // never had records, still has none
		}
		s.setInput(edit(), name, old, recs, up)
	}
	for _, name := range u.recheck {
		if _, done := u.recs[name]; done {
			continue
		}
		old := s.inputs[name]
		if old == nil {
			continue
		}
		up := upOf(health, old.recs)
		if slices.Equal(old.up, up) {
			continue
		}
		s.setInput(edit(), name, old, old.recs, up)
	}
	if names == nil {
		return nil
	}
	return s.table(names.done(), serial)
}

// initial applies the glue, which comes from the Config, not the store.
func (s *state) initial(prev *Table, serial uint32) *Table {
	names := newNameEdit(prev.names)
	for name := range s.glue {
		s.refresh(names, name, false)
	}
	return s.table(names.done(), serial)
}

func upOf(health Health, recs []model.Record) []bool {
	if health == nil || len(recs) == 0 {
		return nil
	}
	up := make([]bool, len(recs))
	all := true
	for i, r := range recs {
		up[i] = health.Up(r)
		all = all && up[i]
	}
	if all {
		return nil // the common case costs no memory
	}
	return up
}

// setInput records name's new inputs and recompiles it.
func (s *state) setInput(names *nameEdit, name string, old *input, recs []model.Record, up []bool) {
	zi := zoneIndex(s.zones, name)
	wasData := s.hasData(name, zi)
	if old != nil {
		s.count(old.recs, zi, -1)
	}
	if len(recs) == 0 {
		delete(s.inputs, name)
	} else {
		s.inputs[name] = &input{recs: recs, up: up}
		s.count(recs, zi, 1)
	}
	if s.onHealth != nil && old != nil && (old.up != nil || up != nil) {
		s.healthFlips(name, old, recs, up)
	}
	s.refresh(names, name, wasData)
}

// healthFlips tells onHealth about the members of name (site and address)
// whose verdict differs between old and the new inputs. A record that
// changed otherwise (its source's own verdict, SourceDown) is the same
// member; members that come or go are not flips.
func (s *state) healthFlips(name string, old *input, recs []model.Record, up []bool) {
	was := make(map[model.Member]bool, len(old.recs))
	for i, r := range old.recs {
		was[r.Member] = old.up == nil || old.up[i]
	}
	for i, r := range recs {
		isUp := up == nil || up[i]
		if prev, ok := was[r.Member]; ok && prev != isUp {
			s.onHealth(name, r, isUp)
			delete(was, r.Member) // once per member
		}
	}
}

// count adds sign times recs to the gauge counts.
func (s *state) count(recs []model.Record, zi int, sign int) {
	s.records += sign * len(recs)
	if zi < 0 || len(recs) == 0 {
		return
	}
	s.services[zi] += sign
	for _, r := range recs {
		if s.members[zi][r.Member.Site] += sign; s.members[zi][r.Member.Site] == 0 {
			delete(s.members[zi], r.Member.Site)
		}
	}
}

// hasData tells whether name has data of its own: records of a service, or
// name server glue (unless a service holds the name, or it is an apex).
func (s *state) hasData(name string, zi int) bool {
	if zi < 0 {
		return false
	}
	if s.inputs[name] != nil {
		return true
	}
	return s.glue[name] != nil && s.zones[zi].Name != name
}

// refresh recompiles name from its inputs and, when it gained or lost its
// data, keeps the empty non-terminals above it in step.
func (s *state) refresh(names *nameEdit, name string, wasData bool) {
	zi := zoneIndex(s.zones, name)
	if zi < 0 {
		return
	}
	n := s.compile(name, zi)
	s.setNode(names, name, n)
	isData := s.hasData(name, zi)
	if isData == wasData {
		return
	}
	delta := int32(1)
	if !isData {
		delta = -1
	}
	for parent := range parents(name, s.zones[zi].Name) {
		c := s.below[parent] + delta
		if c == 0 {
			delete(s.below, parent)
		} else {
			s.below[parent] = c
		}
		if c > 1 || s.hasData(parent, zi) {
			continue // its existence did not change
		}
		s.setNode(names, parent, s.compile(parent, zi))
	}
}

// compile returns the node name should have now, or nil if it should not
// exist; the warnings of the name are kept up to date.
func (s *state) compile(name string, zi int) *node {
	apex := s.zones[zi].Name == name
	var (
		n        *node
		warnings []string
	)
	switch in := s.inputs[name]; {
	case in != nil:
		n, warnings = compileService(s.cfg, uint16(zi), apex, in)
	case s.glue[name] != nil && !apex:
		n, _ = compileService(s.gcfg, uint16(zi), false, &input{recs: s.glue[name]})
		n.glue = true
	case apex || s.static[name] || s.below[name] > 0:
		n = &node{zone: uint16(zi), apex: apex}
	}
	if old := s.warnings[name]; !slices.Equal(old, warnings) {
		s.warned = true
		if len(warnings) == 0 {
			delete(s.warnings, name)
		} else {
			s.warnings[name] = warnings
		}
	}
	return n
}

// setNode replaces name's node, keeping the down counts. An empty
// non-terminal that stays one keeps its node (nothing to share or change).
func (s *state) setNode(names *nameEdit, name string, n *node) {
	old := names.get(name)
	if old != nil && n != nil && isEmpty(old) && isEmpty(n) && old.apex == n.apex && old.zone == n.zone && old.downKind == n.downKind {
		return
	}
	if old != nil && old.down {
		s.downNames[old.zone]--
	}
	if n != nil && n.down {
		s.downNames[n.zone]++
	}
	names.set(name, n)
}

func isEmpty(n *node) bool {
	return !n.down && n.v4 == nil && n.v6 == nil && n.alias == nil && n.fixed == nil
}

// table wraps names into a table: fresh zone apexes carry the serial.
func (s *state) table(names *nameMap, serial uint32) *Table {
	t := &Table{Serial: serial, names: names, zones: make([]*ZoneData, len(s.zones)), cfg: s.cfg, gcfg: s.gcfg}
	for i, base := range s.zones {
		z := *base
		soa := *base.soa[0].(*dns.SOA)
		soa.Serial = serial
		z.soa = []dns.RR{&soa}[:1:1]
		z.downNames = s.downNames[i]
		t.zones[i] = &z
	}
	if len(s.warnings) > 0 {
		keys := make([]string, 0, len(s.warnings))
		for name := range s.warnings {
			keys = append(keys, name)
		}
		slices.SortFunc(keys, strings.Compare)
		for _, name := range keys {
			t.Warnings = append(t.Warnings, s.warnings[name]...)
		}
	}
	return t
}
