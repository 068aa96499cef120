package notify

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// AllowSetting names the setting that lets pacer send to destinations on
// the clinic's own network; every refusal of a destination names it.
const AllowSetting = "notify.allow_private (PACER_NOTIFY_ALLOW_PRIVATE)"

// AllowList is the operator's list of private destinations that channels
// may reach (notify.allow_private): CIDRs (10.1.0.0/16), addresses
// (192.168.1.20, ::1) and host names (ntfy.clinic.lan). Everything else on a
// private, loopback, link-local, unique-local, CGNAT, multicast or metadata
// address is refused, and so is plain http:// except to the destinations
// listed. The zero AllowList allows nothing private.
type AllowList struct {
	prefixes []netip.Prefix
	hosts    map[string]bool
}

var hostName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// String is the list in a canonical form: its prefixes and host names, each
// sorted, separated by commas; two lists that allow the same are equal.
func (a AllowList) String() string {
	parts := make([]string, 0, len(a.prefixes)+len(a.hosts))
	for _, p := range a.prefixes {
		parts = append(parts, p.String())
	}
	slices.Sort(parts)
	hosts := make([]string, 0, len(a.hosts))
	for h := range a.hosts {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return strings.Join(append(parts, hosts...), ",")
}

// ParseAllowList reads notify.allow_private: entries separated by commas
// (or spaces). An entry that is none of a CIDR, an address or a host name is
// an error that says so.
func ParseAllowList(s string) (AllowList, error) {
	a := AllowList{hosts: map[string]bool{}}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			ip = ip.Unmap().WithZone("")
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(e, "."))
		if !HostName(h) {
			return AllowList{}, fmt.Errorf("%s: %q is not a CIDR (10.1.0.0/16), an IP address or a host name", AllowSetting, e)
		}
		a.hosts[h] = true
	}
	return a, nil
}

// HostName reports whether h is a DNS host name (lower case, as URLs and
// resolvers compare them) and not a number in disguise: a name whose last
// label is all digits or starts with 0x (2130706433, 127.1, 0x7f.1) is read
// as an address by some resolvers, so it is never taken as a name.
func HostName(h string) bool {
	if len(h) > 253 || !hostName.MatchString(h) {
		return false
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	return !strings.HasPrefix(last, "0x") && strings.Trim(last, "0123456789") != ""
}

// Name reports whether a host name is listed by name.
func (a AllowList) Name(host string) bool {
	return a.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// Addr reports whether an address lies in a listed CIDR or is listed.
func (a AllowList) Addr(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Host reports whether the host of a URL (a name, or an address literal) is
// listed: such a destination may be private and may use plain http.
func (a AllowList) Host(host string) bool {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.Addr(ip)
	}
	return a.Name(host)
}
