package hostinet

import (
	"context"
	"encoding/binary"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Interface and socket queue requests (linux/sockios.h).
const (
	siocATMark    = 0x8905
	siocGIfName   = 0x8910
	siocGIfConf   = 0x8912
	siocGIfFlags  = 0x8913
	siocGIfAddr   = 0x8915
	siocGIfDstAdr = 0x8917
	siocGIfBrdAdr = 0x8919
	siocGIfNetmsk = 0x891b
	siocGIfMetric = 0x891d
	siocGIfMTU    = 0x8921
	siocGIfHwAddr = 0x8927
	siocGIfIndex  = 0x8933
	siocGIfTxQLen = 0x8942
	// siocINQ and siocOUTQ are FIONREAD and TIOCOUTQ.
	siocINQ  = linux.FIONREAD
	siocOUTQ = linux.TIOCOUTQ

	sizeIfreq  = 40 // struct ifreq on 64-bit
	sizeIfconf = 16 // struct ifconf on 64-bit
	// maxIfconf bounds SIOCGIFCONF's buffer: 1638 interfaces with an
	// IPv4 address, more than a host has; a longer buffer gets as many
	// as fit in this, which is what SIOCGIFCONF promises anyway.
	maxIfconf = 64 << 10
)

// ifreqRequests are the read-only interface queries, each taking a
// struct ifreq in and out.
var ifreqRequests = []uint32{
	siocGIfName, siocGIfFlags, siocGIfAddr, siocGIfDstAdr, siocGIfBrdAdr,
	siocGIfNetmsk, siocGIfMetric, siocGIfMTU, siocGIfHwAddr, siocGIfIndex, siocGIfTxQLen,
}

// intRequests return an int.
var intRequests = []uint32{siocINQ, siocOUTQ, siocATMark}

// AllowedIoctls are the ioctl requests passed to host sockets, for the
// seccomp filter.
func AllowedIoctls() []uint32 {
	r := append(append([]uint32(nil), intRequests...), siocGIfConf)
	return append(r, ifreqRequests...)
}

func has(set []uint32, v uint32) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// Ioctl implements vfs.FileDescriptionImpl.
func (s *Socket) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	switch {
	case has(intRequests, cmd):
		var v int32
		if err := hostIoctl(s.fd, uint(cmd), unsafe.Pointer(&v)); err != nil {
			return 0, err
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		_, err := m.CopyOutBytes(ctx, arg, b[:])
		return 0, err
	case has(ifreqRequests, cmd):
		var req [sizeIfreq]byte
		if _, err := m.CopyInBytes(ctx, arg, req[:]); err != nil {
			return 0, err
		}
		if err := hostIoctl(s.fd, uint(cmd), unsafe.Pointer(&req[0])); err != nil {
			return 0, err
		}
		_, err := m.CopyOutBytes(ctx, arg, req[:])
		return 0, err
	case cmd == siocGIfConf:
		return 0, s.ifconf(ctx, m, arg)
	}
	return 0, linux.ENOTTY
}

// ifconf answers SIOCGIFCONF through a buffer of our own: the host
// writes at most ifc_len bytes of struct ifreq there, which are then
// copied to the application's ifc_buf.
func (s *Socket) ifconf(ctx context.Context, m vfs.UserMemory, arg uint64) error {
	var conf [sizeIfconf]byte
	if _, err := m.CopyInBytes(ctx, arg, conf[:]); err != nil {
		return err
	}
	le := binary.LittleEndian
	l := int32(le.Uint32(conf[0:]))
	ubuf := le.Uint64(conf[8:])
	type ifconf struct {
		len int32
		_   int32
		buf uintptr
	}
	var hc ifconf
	var buf []byte
	if ubuf != 0 {
		if l < 0 {
			// Linux treats a negative length as no room.
			l = 0
		}
		buf = make([]byte, min(int(l), maxIfconf))
		hc.len = int32(len(buf))
		if len(buf) > 0 {
			hc.buf = uintptr(unsafe.Pointer(&buf[0]))
		}
	}
	err := hostIoctl(s.fd, siocGIfConf, unsafe.Pointer(&hc))
	runtimeKeepAlive(buf)
	if err != nil {
		return err
	}
	if ubuf != 0 && hc.len > 0 {
		if _, err := m.CopyOutBytes(ctx, ubuf, buf[:hc.len]); err != nil {
			return err
		}
	}
	le.PutUint32(conf[0:], uint32(hc.len))
	_, err = m.CopyOutBytes(ctx, arg, conf[:4])
	return err
}

// atUrgentMark reports whether the host socket's next byte is TCP's
// urgent mark (SIOCATMARK).
func (s *Socket) atUrgentMark() bool {
	var v int32
	return hostIoctl(s.fd, siocATMark, unsafe.Pointer(&v)) == nil && v != 0
}
