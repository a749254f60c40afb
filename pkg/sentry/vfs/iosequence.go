package vfs

import "context"

// IOSequence is the application side of a read or write: a run of bytes,
// possibly scattered over several ranges of application memory. The
// system call layer backs it with the task's address space (and iovecs);
// kernel-internal callers and tests use BytesIOSequence.
type IOSequence interface {
	// NumBytes returns how many bytes the sequence covers.
	NumBytes() int64
	// CopyOut copies src to the start of the sequence (kernel to
	// application), as much as fits, and returns the count. An error
	// (EFAULT) comes with the count copied before it.
	CopyOut(ctx context.Context, src []byte) (int, error)
	// CopyIn fills dst from the start of the sequence (application to
	// kernel), as much as the sequence holds, and returns the count.
	CopyIn(ctx context.Context, dst []byte) (int, error)
	// DropFirst returns the sequence without its first n bytes.
	DropFirst(n int64) IOSequence
}

// BytesIOSequence returns an IOSequence over b.
func BytesIOSequence(b []byte) IOSequence { return bytesSeq(b) }

type bytesSeq []byte

func (s bytesSeq) NumBytes() int64 { return int64(len(s)) }

func (s bytesSeq) CopyOut(_ context.Context, src []byte) (int, error) {
	return copy(s, src), nil
}

func (s bytesSeq) CopyIn(_ context.Context, dst []byte) (int, error) {
	return copy(dst, s), nil
}

func (s bytesSeq) DropFirst(n int64) IOSequence {
	if n >= int64(len(s)) {
		return bytesSeq(nil)
	}
	return s[n:]
}

// UserMemory gives ioctl handlers access to the caller's memory at the
// addresses an ioctl argument names.
type UserMemory interface {
	CopyOutBytes(ctx context.Context, addr uint64, src []byte) (int, error)
	CopyInBytes(ctx context.Context, addr uint64, dst []byte) (int, error)
}
