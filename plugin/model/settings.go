package model

import (
	"cmp"
	"fmt"
	"slices"
)

// setting is one field of Overrides, declared once: everything that layers,
// orders or resolves Overrides loops over settings instead of naming fields.
type setting struct {
	// what names the setting in a conflict report ("sites a and b set
	// different TTLs").
	what string
	// perSite settings (weight, priority) belong to each member's site;
	// the others to the whole GSLB service, which has one value of them.
	perSite bool
	isSet   func(o *Overrides) bool
	compare func(a, b *Overrides) int
	copy    func(dst, src *Overrides)
}

var settings = []setting{
	optSetting("weights", true, func(o *Overrides) *Opt { return &o.Weight }),
	optSetting("priorities", true, func(o *Overrides) *Opt { return &o.Priority }),
	algSetting("algorithms", func(o *Overrides) *Algorithm { return &o.Algorithm }),
	algSetting("fallback algorithms", func(o *Overrides) *Algorithm { return &o.Fallback }),
	optSetting("hash masks", false, func(o *Overrides) *Opt { return &o.HashMask4 }),
	optSetting("IPv6 hash masks", false, func(o *Overrides) *Opt { return &o.HashMask6 }),
	optSetting("TTLs", false, func(o *Overrides) *Opt { return &o.TTL }),
	optSetting("answer counts", false, func(o *Overrides) *Opt { return &o.Answers }),
	// A down response is one setting, never mixed field by field.
	{
		what:  "down responses",
		isSet: func(o *Overrides) bool { return o.Down.Kind != DownUnset },
		compare: func(a, b *Overrides) int {
			return cmp.Or(cmp.Compare(a.Down.Kind, b.Down.Kind), a.Down.V4.Compare(b.Down.V4),
				a.Down.V6.Compare(b.Down.V6), cmp.Compare(a.Down.Target, b.Down.Target))
		},
		copy: func(dst, src *Overrides) { dst.Down = src.Down },
	},
}

func optSetting(what string, perSite bool, field func(o *Overrides) *Opt) setting {
	return setting{
		what:    what,
		perSite: perSite,
		isSet:   func(o *Overrides) bool { return field(o).Set },
		compare: func(a, b *Overrides) int { return field(a).compare(*field(b)) },
		copy:    func(dst, src *Overrides) { *field(dst) = *field(src) },
	}
}

func algSetting(what string, field func(o *Overrides) *Algorithm) setting {
	return setting{
		what:    what,
		isSet:   func(o *Overrides) bool { return *field(o) != AlgorithmUnset },
		compare: func(a, b *Overrides) int { return cmp.Compare(*field(a), *field(b)) },
		copy:    func(dst, src *Overrides) { *field(dst) = *field(src) },
	}
}

func (o Opt) compare(p Opt) int {
	if o.Set != p.Set {
		if o.Set {
			return 1
		}
		return -1
	}
	return cmp.Compare(o.V, p.V)
}

func (o Overrides) compare(p Overrides) int {
	for i := range settings {
		if c := settings[i].compare(&o, &p); c != 0 {
			return c
		}
	}
	return 0
}

// Over layers o over base: every setting o sets wins, every setting o
// leaves unset falls through to base's. Layers stack from the lowest to the
// highest, e.g. annotations.Over(hostRule.Over(gdp)); the Corefile's
// defaults come last, through Resolve.
func (o Overrides) Over(base Overrides) Overrides {
	out := base
	for i := range settings {
		if settings[i].isSet(&o) {
			settings[i].copy(&out, &o)
		}
	}
	return out
}

// SiteOverrides is what one member of a GSLB service says, and its site.
type SiteOverrides struct {
	Site string
	Overrides
}

// Resolve gives a GSLB service its service-wide settings: each comes from
// the first member that sets it, else from defaults (the Corefile's). Sites
// may disagree: members come sorted by site, so the alphabetically first
// site wins, and every disagreement is reported (sorted, once each).
// Per-site settings (weight, priority) are left as defaults has them: each
// member applies its own.
func Resolve(defaults Overrides, members []SiteOverrides) (Overrides, []string) {
	out := defaults
	var conflicts []string
	for i := range settings {
		s := &settings[i]
		if s.perSite {
			continue
		}
		first := "" // the site whose value won
		for j := range members {
			m := &members[j]
			if !s.isSet(&m.Overrides) {
				continue
			}
			if first == "" {
				first = m.Site
				s.copy(&out, &m.Overrides)
				continue
			}
			if s.compare(&m.Overrides, &out) == 0 {
				continue
			}
			if first == m.Site {
				conflicts = append(conflicts, fmt.Sprintf("objects of site %s set different %s; the first one's wins", m.Site, s.what))
			} else {
				conflicts = append(conflicts, fmt.Sprintf("sites %s and %s set different %s; %s's wins", first, m.Site, s.what, first))
			}
		}
	}
	slices.Sort(conflicts)
	return out, slices.Compact(conflicts)
}
