package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// sendmmsg(2) and recvmmsg(2): sendmsg and recvmsg over an array of
// struct mmsghdr, each a struct msghdr followed by the byte count of
// its message (msg_len).

const (
	sizeofMmsghdr = 64
	mmsgLenOffset = sizeofMsghdr
	msgWaitForOne = 0x10000
)

// mmsgArgs are the arguments of one sendmsg or recvmsg on element i.
func mmsgArgs(args arch.SyscallArguments, i int, flags int) arch.SyscallArguments {
	var a arch.SyscallArguments
	a[0] = args[0]
	a[1].Value = args[1].Value + uintptr(i*sizeofMmsghdr)
	a[2].Value = uintptr(uint32(flags))
	return a
}

// putMsgLen stores element i's msg_len.
func putMsgLen(t *kernel.Task, args arch.SyscallArguments, i int, n uintptr) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	_, err := t.CopyOut(args[1].Pointer()+uintptr(i*sizeofMmsghdr+mmsgLenOffset), b[:])
	return err
}

// Sendmmsg implements sendmmsg(2): up to vlen (capped at UIO_MAXIOV)
// messages, each as sendmsg sends it. An error ends the batch; it is
// returned only if no message was sent, as on Linux.
func Sendmmsg(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	vlen := int(min(args[2].Uint(), abilinux.UIO_MAXIOV))
	flags := int(args[3].Int())
	sent := 0
	for ; sent < vlen; sent++ {
		n, err := Sendmsg(t, 0, mmsgArgs(args, sent, flags))
		if err == nil {
			err = putMsgLen(t, args, sent, n)
		}
		if err != nil {
			if sent == 0 {
				return 0, err
			}
			break
		}
	}
	return uintptr(sent), nil
}

// Recvmmsg implements recvmmsg(2): up to vlen messages, each as recvmsg
// receives it. MSG_WAITFORONE makes every receive after the first
// non-blocking. The timeout, as on Linux, is checked only after each
// message (a receive that blocks is not cut short by it), and the time
// left is written back. An error after the first message ends the batch
// without being reported; Linux would keep it as the socket's pending
// error (SO_ERROR), which is not done here.
func Recvmmsg(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	vlen := int(min(args[2].Uint(), abilinux.UIO_MAXIOV))
	flags := int(args[3].Int())
	tsAddr := args[4].Pointer()
	var deadline int64
	if tsAddr != 0 {
		ts, err := copyInTimespec(t, tsAddr)
		if err != nil {
			return 0, err
		}
		now, err := t.ClockNow(abilinux.CLOCK_MONOTONIC)
		if err != nil {
			return 0, err
		}
		deadline = now + ts.ToNsec()
	}
	recvFlags := flags &^ msgWaitForOne
	got := 0
	var left int64 = -1
	for got < vlen {
		n, err := Recvmsg(t, 0, mmsgArgs(args, got, recvFlags))
		if err == nil {
			err = putMsgLen(t, args, got, n)
		}
		if err != nil {
			if got == 0 {
				return 0, err
			}
			break
		}
		got++
		if flags&msgWaitForOne != 0 {
			recvFlags |= socket.MSG_DONTWAIT
		}
		if tsAddr != 0 {
			now, err := t.ClockNow(abilinux.CLOCK_MONOTONIC)
			if err != nil {
				return 0, err
			}
			if left = max(deadline-now, 0); left == 0 {
				break
			}
		}
	}
	if tsAddr != 0 && left >= 0 {
		if err := copyOutTimespec(t, tsAddr, left); err != nil {
			return 0, err
		}
	}
	return uintptr(got), nil
}
