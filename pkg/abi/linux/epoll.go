package linux

// epoll_ctl(2) operations.
const (
	EPOLL_CTL_ADD = 1
	EPOLL_CTL_DEL = 2
	EPOLL_CTL_MOD = 3
)

// EPOLL_CLOEXEC is the only flag of epoll_create1(2).
const EPOLL_CLOEXEC = O_CLOEXEC

// Event bits for struct epoll_event. The low ones are the POLL* bits; the
// high ones are input-only flags that change how the interest behaves.
const (
	EPOLLIN        = 0x00000001
	EPOLLPRI       = 0x00000002
	EPOLLOUT       = 0x00000004
	EPOLLERR       = 0x00000008
	EPOLLHUP       = 0x00000010
	EPOLLNVAL      = 0x00000020
	EPOLLRDNORM    = 0x00000040
	EPOLLRDBAND    = 0x00000080
	EPOLLWRNORM    = 0x00000100
	EPOLLWRBAND    = 0x00000200
	EPOLLMSG       = 0x00000400
	EPOLLRDHUP     = 0x00002000
	EPOLLEXCLUSIVE = 1 << 28
	EPOLLWAKEUP    = 1 << 29
	EPOLLONESHOT   = 1 << 30
	EPOLLET        = 1 << 31
)

// UserData returns the 64-bit epoll_data_t.
func (e *EpollEvent) UserData() uint64 {
	return uint64(uint32(e.Data[0])) | uint64(uint32(e.Data[1]))<<32
}

// SetUserData sets the 64-bit epoll_data_t.
func (e *EpollEvent) SetUserData(v uint64) {
	e.Data[0] = int32(uint32(v))
	e.Data[1] = int32(uint32(v >> 32))
}
