// Package header parses and builds the wire headers the packet stack
// handles: Ethernet II, ARP, IPv4, IPv6 (with its extension headers),
// ICMPv4, ICMPv6 (including neighbor discovery) and UDP.
//
// Each header is a named byte slice whose accessors read the fields in
// place, so the receive path parses without allocating. Accessors
// assume the slice is at least as long as the header's fixed part;
// callers check that with the type's IsValid or a length constant
// first. Encode functions write a header into a caller-provided
// buffer.
package header
