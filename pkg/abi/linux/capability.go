package linux

// Capability is a capability number (capabilities(7)).
type Capability int

// Capabilities, in kernel numbering.
const (
	CAP_CHOWN              Capability = 0
	CAP_DAC_OVERRIDE       Capability = 1
	CAP_DAC_READ_SEARCH    Capability = 2
	CAP_FOWNER             Capability = 3
	CAP_FSETID             Capability = 4
	CAP_KILL               Capability = 5
	CAP_SETGID             Capability = 6
	CAP_SETUID             Capability = 7
	CAP_SETPCAP            Capability = 8
	CAP_LINUX_IMMUTABLE    Capability = 9
	CAP_NET_BIND_SERVICE   Capability = 10
	CAP_NET_BROADCAST      Capability = 11
	CAP_NET_ADMIN          Capability = 12
	CAP_NET_RAW            Capability = 13
	CAP_IPC_LOCK           Capability = 14
	CAP_IPC_OWNER          Capability = 15
	CAP_SYS_MODULE         Capability = 16
	CAP_SYS_RAWIO          Capability = 17
	CAP_SYS_CHROOT         Capability = 18
	CAP_SYS_PTRACE         Capability = 19
	CAP_SYS_PACCT          Capability = 20
	CAP_SYS_ADMIN          Capability = 21
	CAP_SYS_BOOT           Capability = 22
	CAP_SYS_NICE           Capability = 23
	CAP_SYS_RESOURCE       Capability = 24
	CAP_SYS_TIME           Capability = 25
	CAP_SYS_TTY_CONFIG     Capability = 26
	CAP_MKNOD              Capability = 27
	CAP_LEASE              Capability = 28
	CAP_AUDIT_WRITE        Capability = 29
	CAP_AUDIT_CONTROL      Capability = 30
	CAP_SETFCAP            Capability = 31
	CAP_MAC_OVERRIDE       Capability = 32
	CAP_MAC_ADMIN          Capability = 33
	CAP_SYSLOG             Capability = 34
	CAP_WAKE_ALARM         Capability = 35
	CAP_BLOCK_SUSPEND      Capability = 36
	CAP_AUDIT_READ         Capability = 37
	CAP_PERFMON            Capability = 38
	CAP_BPF                Capability = 39
	CAP_CHECKPOINT_RESTORE Capability = 40

	CAP_LAST_CAP = CAP_CHECKPOINT_RESTORE
)

var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Ok reports whether c is a capability this ABI knows.
func (c Capability) Ok() bool { return c >= 0 && c <= CAP_LAST_CAP }

// String returns the capability's name, as in OCI specs ("CAP_SYS_ADMIN").
func (c Capability) String() string {
	if c.Ok() {
		return capabilityNames[c]
	}
	return "CAP_UNKNOWN"
}

// CapabilityFromName returns the capability named n ("CAP_KILL").
func CapabilityFromName(n string) (Capability, bool) {
	for i, name := range capabilityNames {
		if name == n {
			return Capability(i), true
		}
	}
	return 0, false
}

// Versions of the capget(2)/capset(2) header. Version 1 moves 32 bits per
// set, versions 2 and 3 move 64 bits as two CapUserData structs.
const (
	LINUX_CAPABILITY_VERSION_1 = 0x19980330
	LINUX_CAPABILITY_U32S_1    = 1
	LINUX_CAPABILITY_VERSION_2 = 0x20071026
	LINUX_CAPABILITY_U32S_2    = 2
	LINUX_CAPABILITY_VERSION_3 = 0x20080522
	LINUX_CAPABILITY_U32S_3    = 2
)

// File capability xattr (security.capability) layout constants.
const (
	VFS_CAP_REVISION_MASK   = 0xFF000000
	VFS_CAP_REVISION_SHIFT  = 24
	VFS_CAP_FLAGS_EFFECTIVE = 0x000001
	VFS_CAP_REVISION_1      = 0x01000000
	VFS_CAP_U32_1           = 1
	VFS_CAP_REVISION_2      = 0x02000000
	VFS_CAP_U32_2           = 2
	VFS_CAP_REVISION_3      = 0x03000000
	VFS_CAP_U32_3           = 2
)

// CapUserHeader is struct __user_cap_header_struct.
type CapUserHeader struct {
	Version uint32
	PID     int32
}

// SizeBytes implements marshal.Marshallable.
func (*CapUserHeader) SizeBytes() int { return 8 }

// MarshalBytes implements marshal.Marshallable.
func (h *CapUserHeader) MarshalBytes(dst []byte) []byte {
	_ = dst[7]
	le.PutUint32(dst[0:], h.Version)
	le.PutUint32(dst[4:], uint32(h.PID))
	return dst[8:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (h *CapUserHeader) UnmarshalBytes(src []byte) []byte {
	_ = src[7]
	h.Version = le.Uint32(src[0:])
	h.PID = int32(le.Uint32(src[4:]))
	return src[8:]
}

// CapUserData is struct __user_cap_data_struct: 32 bits of each set.
type CapUserData struct {
	Effective   uint32
	Permitted   uint32
	Inheritable uint32
}

// SizeBytes implements marshal.Marshallable.
func (*CapUserData) SizeBytes() int { return 12 }

// MarshalBytes implements marshal.Marshallable.
func (d *CapUserData) MarshalBytes(dst []byte) []byte {
	_ = dst[11]
	le.PutUint32(dst[0:], d.Effective)
	le.PutUint32(dst[4:], d.Permitted)
	le.PutUint32(dst[8:], d.Inheritable)
	return dst[12:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (d *CapUserData) UnmarshalBytes(src []byte) []byte {
	_ = src[11]
	d.Effective = le.Uint32(src[0:])
	d.Permitted = le.Uint32(src[4:])
	d.Inheritable = le.Uint32(src[8:])
	return src[12:]
}
