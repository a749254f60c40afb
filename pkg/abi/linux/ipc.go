package linux

// System V IPC (sysvipc(7)) and POSIX message queue (mq_overview(7))
// constants and structures, in the 64-bit kernel layout ("ipc64") that
// both amd64 and arm64 use. struct semid64_ds differs between the two and
// lives in ipc_amd64.go / ipc_arm64.go.

// Flags and commands shared by shmget/semget/msgget and the *ctl calls.
const (
	IPC_PRIVATE = 0

	IPC_CREAT  = 01000
	IPC_EXCL   = 02000
	IPC_NOWAIT = 04000

	IPC_RMID = 0
	IPC_SET  = 1
	IPC_STAT = 2
	IPC_INFO = 3

	// IPC_64 is or-ed into commands by old ABIs; 64-bit Linux does not
	// strip it, so it makes a command invalid here too.
	IPC_64 = 0x100
)

// Shared memory.
const (
	SHM_RDONLY = 010000
	SHM_RND    = 020000
	SHM_REMAP  = 040000
	SHM_EXEC   = 0100000

	SHM_LOCK     = 11
	SHM_UNLOCK   = 12
	SHM_STAT     = 13
	SHM_INFO     = 14
	SHM_STAT_ANY = 15

	// Bits of shm_perm.mode above the permission bits.
	SHM_DEST   = 01000
	SHM_LOCKED = 02000

	// Default limits (include/uapi/linux/shm.h).
	SHMMIN = 1
	SHMMNI = 4096
	SHMMAX = ^uint64(0) - 1<<24
	SHMALL = ^uint64(0) - 1<<24
	SHMSEG = SHMMNI
	// SHMLBA is the attach address alignment SHM_RND rounds to.
	SHMLBA = PageSize
)

// Semaphores.
const (
	SEM_UNDO = 0x1000

	GETPID       = 11
	GETVAL       = 12
	GETALL       = 13
	GETNCNT      = 14
	GETZCNT      = 15
	SETVAL       = 16
	SETALL       = 17
	SEM_STAT     = 18
	SEM_INFO     = 19
	SEM_STAT_ANY = 20

	// Default limits (include/uapi/linux/sem.h).
	SEMMNI = 32000
	SEMMSL = 32000
	SEMMNS = SEMMNI * SEMMSL
	SEMOPM = 500
	SEMVMX = 32767
	SEMAEM = SEMVMX
	SEMMAP = SEMMNS
	SEMMNU = SEMMNS
	SEMUME = SEMOPM
	SEMUSZ = 20
)

// Message queues.
const (
	MSG_STAT     = 11
	MSG_INFO     = 12
	MSG_STAT_ANY = 13

	MSG_NOERROR = 010000
	MSG_EXCEPT  = 020000
	MSG_COPY    = 040000

	// Default limits (include/uapi/linux/msg.h).
	MSGMNI  = 32000
	MSGMAX  = 8192
	MSGMNB  = 16384
	MSGPOOL = MSGMNI * MSGMNB / 1024
	MSGTQL  = MSGMNB
	MSGMAP  = MSGMNB
	MSGSSZ  = 16
	MSGSEG  = 0xffff
)

// POSIX message queue defaults and limits (ipc/mqueue.c, mq_overview(7)).
const (
	DFLT_QUEUESMAX  = 256
	DFLT_MSGMAX     = 10
	HARD_MSGMAX     = 65536
	DFLT_MSGSIZEMAX = 8192
	HARD_MSGSIZEMAX = 16 << 20
	MQ_PRIO_MAX     = 32768
	// NOTIFY_COOKIE_LEN is the size of SIGEV_THREAD's cookie.
	NOTIFY_COOKIE_LEN = 32
	// NOTIFY_NONE, NOTIFY_WOKENUP and NOTIFY_REMOVED are the cookie's
	// last byte for SIGEV_THREAD notifications over netlink.
	NOTIFY_NONE    = 0
	NOTIFY_WOKENUP = 1
	NOTIFY_REMOVED = 2
)

// PIDFD_NONBLOCK is O_NONBLOCK; PIDFD_THREAD is O_EXCL.
const (
	PIDFD_NONBLOCK = O_NONBLOCK
	PIDFD_THREAD   = 0x80
)

// IPCPerm is struct ipc64_perm.
type IPCPerm struct {
	Key  int32
	UID  uint32
	GID  uint32
	CUID uint32
	CGID uint32
	Mode uint32
	Seq  uint16
}

// SizeofIPCPerm is sizeof(struct ipc64_perm).
const SizeofIPCPerm = 48

// SizeBytes implements marshal.Marshallable.
func (*IPCPerm) SizeBytes() int { return SizeofIPCPerm }

// MarshalBytes implements marshal.Marshallable.
func (p *IPCPerm) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofIPCPerm-1]
	clear(dst[:SizeofIPCPerm])
	le.PutUint32(dst[0:], uint32(p.Key))
	le.PutUint32(dst[4:], p.UID)
	le.PutUint32(dst[8:], p.GID)
	le.PutUint32(dst[12:], p.CUID)
	le.PutUint32(dst[16:], p.CGID)
	le.PutUint32(dst[20:], p.Mode)
	le.PutUint16(dst[24:], p.Seq)
	return dst[SizeofIPCPerm:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (p *IPCPerm) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofIPCPerm-1]
	p.Key = int32(le.Uint32(src[0:]))
	p.UID = le.Uint32(src[4:])
	p.GID = le.Uint32(src[8:])
	p.CUID = le.Uint32(src[12:])
	p.CGID = le.Uint32(src[16:])
	p.Mode = le.Uint32(src[20:])
	p.Seq = le.Uint16(src[24:])
	return src[SizeofIPCPerm:]
}

// ShmidDS is struct shmid64_ds.
type ShmidDS struct {
	Perm   IPCPerm
	Segsz  uint64
	Atime  int64
	Dtime  int64
	Ctime  int64
	Cpid   int32
	Lpid   int32
	Nattch uint64
}

// SizeofShmidDS is sizeof(struct shmid64_ds).
const SizeofShmidDS = 112

// SizeBytes implements marshal.Marshallable.
func (*ShmidDS) SizeBytes() int { return SizeofShmidDS }

// MarshalBytes implements marshal.Marshallable.
func (s *ShmidDS) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofShmidDS-1]
	clear(dst[:SizeofShmidDS])
	s.Perm.MarshalBytes(dst)
	le.PutUint64(dst[48:], s.Segsz)
	le.PutUint64(dst[56:], uint64(s.Atime))
	le.PutUint64(dst[64:], uint64(s.Dtime))
	le.PutUint64(dst[72:], uint64(s.Ctime))
	le.PutUint32(dst[80:], uint32(s.Cpid))
	le.PutUint32(dst[84:], uint32(s.Lpid))
	le.PutUint64(dst[88:], s.Nattch)
	return dst[SizeofShmidDS:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *ShmidDS) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofShmidDS-1]
	s.Perm.UnmarshalBytes(src)
	s.Segsz = le.Uint64(src[48:])
	s.Atime = int64(le.Uint64(src[56:]))
	s.Dtime = int64(le.Uint64(src[64:]))
	s.Ctime = int64(le.Uint64(src[72:]))
	s.Cpid = int32(le.Uint32(src[80:]))
	s.Lpid = int32(le.Uint32(src[84:]))
	s.Nattch = le.Uint64(src[88:])
	return src[SizeofShmidDS:]
}

// ShmParams is struct shminfo64, what shmctl(IPC_INFO) returns.
type ShmParams struct {
	ShmMax, ShmMin, ShmMni, ShmSeg, ShmAll uint64
}

// SizeofShmParams is sizeof(struct shminfo64) (with four unused longs).
const SizeofShmParams = 72

// SizeBytes implements marshal.Marshallable.
func (*ShmParams) SizeBytes() int { return SizeofShmParams }

// MarshalBytes implements marshal.Marshallable.
func (s *ShmParams) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofShmParams-1]
	clear(dst[:SizeofShmParams])
	for i, v := range []uint64{s.ShmMax, s.ShmMin, s.ShmMni, s.ShmSeg, s.ShmAll} {
		le.PutUint64(dst[8*i:], v)
	}
	return dst[SizeofShmParams:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *ShmParams) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofShmParams-1]
	for i, p := range []*uint64{&s.ShmMax, &s.ShmMin, &s.ShmMni, &s.ShmSeg, &s.ShmAll} {
		*p = le.Uint64(src[8*i:])
	}
	return src[SizeofShmParams:]
}

// ShmInfo is struct shm_info, what shmctl(SHM_INFO) returns.
type ShmInfo struct {
	UsedIDs       int32
	ShmTot        uint64 // pages of all segments
	ShmRss        uint64 // resident pages
	ShmSwp        uint64
	SwapAttempts  uint64
	SwapSuccesses uint64
}

// SizeofShmInfo is sizeof(struct shm_info).
const SizeofShmInfo = 48

// SizeBytes implements marshal.Marshallable.
func (*ShmInfo) SizeBytes() int { return SizeofShmInfo }

// MarshalBytes implements marshal.Marshallable.
func (s *ShmInfo) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofShmInfo-1]
	clear(dst[:SizeofShmInfo])
	le.PutUint32(dst[0:], uint32(s.UsedIDs))
	for i, v := range []uint64{s.ShmTot, s.ShmRss, s.ShmSwp, s.SwapAttempts, s.SwapSuccesses} {
		le.PutUint64(dst[8+8*i:], v)
	}
	return dst[SizeofShmInfo:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *ShmInfo) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofShmInfo-1]
	s.UsedIDs = int32(le.Uint32(src[0:]))
	for i, p := range []*uint64{&s.ShmTot, &s.ShmRss, &s.ShmSwp, &s.SwapAttempts, &s.SwapSuccesses} {
		*p = le.Uint64(src[8+8*i:])
	}
	return src[SizeofShmInfo:]
}

// Sembuf is struct sembuf, one operation of semop(2).
type Sembuf struct {
	Num uint16
	Op  int16
	Flg int16
}

// SizeofSembuf is sizeof(struct sembuf).
const SizeofSembuf = 6

// SizeBytes implements marshal.Marshallable.
func (*Sembuf) SizeBytes() int { return SizeofSembuf }

// MarshalBytes implements marshal.Marshallable.
func (s *Sembuf) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofSembuf-1]
	le.PutUint16(dst[0:], s.Num)
	le.PutUint16(dst[2:], uint16(s.Op))
	le.PutUint16(dst[4:], uint16(s.Flg))
	return dst[SizeofSembuf:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Sembuf) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofSembuf-1]
	s.Num = le.Uint16(src[0:])
	s.Op = int16(le.Uint16(src[2:]))
	s.Flg = int16(le.Uint16(src[4:]))
	return src[SizeofSembuf:]
}

// Seminfo is struct seminfo, what semctl(IPC_INFO/SEM_INFO) returns.
type Seminfo struct {
	SemMap, SemMni, SemMns, SemMnu, SemMsl, SemOpm, SemUme, SemUsz, SemVmx, SemAem int32
}

// SizeofSeminfo is sizeof(struct seminfo).
const SizeofSeminfo = 40

// SizeBytes implements marshal.Marshallable.
func (*Seminfo) SizeBytes() int { return SizeofSeminfo }

func (s *Seminfo) fields() [10]*int32 {
	return [10]*int32{&s.SemMap, &s.SemMni, &s.SemMns, &s.SemMnu, &s.SemMsl, &s.SemOpm, &s.SemUme, &s.SemUsz, &s.SemVmx, &s.SemAem}
}

// MarshalBytes implements marshal.Marshallable.
func (s *Seminfo) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofSeminfo-1]
	for i, p := range s.fields() {
		le.PutUint32(dst[4*i:], uint32(*p))
	}
	return dst[SizeofSeminfo:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (s *Seminfo) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofSeminfo-1]
	for i, p := range s.fields() {
		*p = int32(le.Uint32(src[4*i:]))
	}
	return src[SizeofSeminfo:]
}

// MsqidDS is struct msqid64_ds.
type MsqidDS struct {
	Perm   IPCPerm
	Stime  int64
	Rtime  int64
	Ctime  int64
	Cbytes uint64
	Qnum   uint64
	Qbytes uint64
	Lspid  int32
	Lrpid  int32
}

// SizeofMsqidDS is sizeof(struct msqid64_ds).
const SizeofMsqidDS = 120

// SizeBytes implements marshal.Marshallable.
func (*MsqidDS) SizeBytes() int { return SizeofMsqidDS }

// MarshalBytes implements marshal.Marshallable.
func (m *MsqidDS) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofMsqidDS-1]
	clear(dst[:SizeofMsqidDS])
	m.Perm.MarshalBytes(dst)
	le.PutUint64(dst[48:], uint64(m.Stime))
	le.PutUint64(dst[56:], uint64(m.Rtime))
	le.PutUint64(dst[64:], uint64(m.Ctime))
	le.PutUint64(dst[72:], m.Cbytes)
	le.PutUint64(dst[80:], m.Qnum)
	le.PutUint64(dst[88:], m.Qbytes)
	le.PutUint32(dst[96:], uint32(m.Lspid))
	le.PutUint32(dst[100:], uint32(m.Lrpid))
	return dst[SizeofMsqidDS:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (m *MsqidDS) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofMsqidDS-1]
	m.Perm.UnmarshalBytes(src)
	m.Stime = int64(le.Uint64(src[48:]))
	m.Rtime = int64(le.Uint64(src[56:]))
	m.Ctime = int64(le.Uint64(src[64:]))
	m.Cbytes = le.Uint64(src[72:])
	m.Qnum = le.Uint64(src[80:])
	m.Qbytes = le.Uint64(src[88:])
	m.Lspid = int32(le.Uint32(src[96:]))
	m.Lrpid = int32(le.Uint32(src[100:]))
	return src[SizeofMsqidDS:]
}

// MsgInfo is struct msginfo, what msgctl(IPC_INFO/MSG_INFO) returns.
type MsgInfo struct {
	MsgPool, MsgMap, MsgMax, MsgMnb, MsgMni, MsgSsz, MsgTql int32
	MsgSeg                                                  uint16
}

// SizeofMsgInfo is sizeof(struct msginfo).
const SizeofMsgInfo = 32

// SizeBytes implements marshal.Marshallable.
func (*MsgInfo) SizeBytes() int { return SizeofMsgInfo }

func (m *MsgInfo) fields() [7]*int32 {
	return [7]*int32{&m.MsgPool, &m.MsgMap, &m.MsgMax, &m.MsgMnb, &m.MsgMni, &m.MsgSsz, &m.MsgTql}
}

// MarshalBytes implements marshal.Marshallable.
func (m *MsgInfo) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofMsgInfo-1]
	clear(dst[:SizeofMsgInfo])
	for i, p := range m.fields() {
		le.PutUint32(dst[4*i:], uint32(*p))
	}
	le.PutUint16(dst[28:], m.MsgSeg)
	return dst[SizeofMsgInfo:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (m *MsgInfo) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofMsgInfo-1]
	for i, p := range m.fields() {
		*p = int32(le.Uint32(src[4*i:]))
	}
	m.MsgSeg = le.Uint16(src[28:])
	return src[SizeofMsgInfo:]
}

// MqAttr is struct mq_attr.
type MqAttr struct {
	Flags   int64
	MaxMsg  int64
	MsgSize int64
	CurMsgs int64
}

// SizeofMqAttr is sizeof(struct mq_attr) (with four reserved longs).
const SizeofMqAttr = 64

// SizeBytes implements marshal.Marshallable.
func (*MqAttr) SizeBytes() int { return SizeofMqAttr }

// MarshalBytes implements marshal.Marshallable.
func (a *MqAttr) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofMqAttr-1]
	clear(dst[:SizeofMqAttr])
	le.PutUint64(dst[0:], uint64(a.Flags))
	le.PutUint64(dst[8:], uint64(a.MaxMsg))
	le.PutUint64(dst[16:], uint64(a.MsgSize))
	le.PutUint64(dst[24:], uint64(a.CurMsgs))
	return dst[SizeofMqAttr:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (a *MqAttr) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofMqAttr-1]
	a.Flags = int64(le.Uint64(src[0:]))
	a.MaxMsg = int64(le.Uint64(src[8:]))
	a.MsgSize = int64(le.Uint64(src[16:]))
	a.CurMsgs = int64(le.Uint64(src[24:]))
	return src[SizeofMqAttr:]
}
