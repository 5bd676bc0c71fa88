package kube

import "strings"

// intersectHostname is the name a route hostname and a listener hostname
// have in common under the Gateway API's matching rules, if any. Both are
// lower case without a trailing dot; either may be a wildcard ("*.a.b",
// which matches names with one or more labels in front of ".a.b", never
// "a.b" itself). An empty listener hostname matches every route hostname;
// an empty route hostname (a route without hostnames) takes the
// listener's. The result is the more specific of the two: a wildcard route
// under an exact listener gives the listener's name, a wildcard listener
// over an exact route gives the route's.
func intersectHostname(listener, route string) (string, bool) {
	switch {
	case listener == "":
		return route, route != ""
	case route == "":
		return listener, true
	case listener == route:
		return route, true
	}
	lw, rw := strings.HasPrefix(listener, "*."), strings.HasPrefix(route, "*.")
	switch {
	case lw && !rw && wildcardMatches(listener, route):
		return route, true
	case rw && !lw && wildcardMatches(route, listener):
		return listener, true
	case lw && rw:
		// Both wildcards: the longer suffix is the more specific one.
		if wildcardMatches(listener, route) {
			return route, true
		}
		if wildcardMatches(route, listener) {
			return listener, true
		}
	}
	return "", false
}

// wildcardMatches tells whether name (exact or itself a wildcard) lies
// strictly under wildcard "*.suffix": ".suffix" ends it, and something is
// left in front.
func wildcardMatches(wildcard, name string) bool {
	suffix := wildcard[1:] // ".suffix"
	return len(name) > len(suffix) && strings.HasSuffix(name, suffix)
}

// normalHost is a hostname as the intersection compares them: trimmed,
// lower case, without a trailing dot.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}
