package linux

import (
	"context"
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// sendfileChunk bounds the kernel buffer one sendfile step copies
// through.
const sendfileChunk = 64 << 10

// Sendfile implements sendfile(2) as a read and write loop through a
// kernel buffer. Only the first read may block, so a call returns once
// the input has nothing more ready. When the output takes fewer bytes
// than were read, the input is rewound over the rest. Pipes and sockets
// are refused as inputs, as Linux refuses them.
func Sendfile(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	outFD, inFD, offAddr, count := args[0].Int(), args[1].Int(), args[2].Pointer(), args[3].SizeT()
	ctx := t.Context()
	in, err := getReadable(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(ctx)
	var pos int64
	if offAddr != 0 {
		if in.IsStream() {
			return 0, abilinux.ESPIPE
		}
		var b [8]byte
		if _, err := t.CopyIn(offAddr, b[:]); err != nil {
			return 0, err
		}
		pos = int64(binary.LittleEndian.Uint64(b[:]))
		if pos < 0 {
			return 0, abilinux.EINVAL
		}
	}
	out, err := getWritable(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(ctx)
	if out.StatusFlags()&abilinux.O_APPEND != 0 {
		return 0, abilinux.EINVAL
	}
	// Linux splices the input through an internal pipe, which pipes
	// and sockets cannot feed: EINVAL.
	if isPipeOrSocket(in) {
		return 0, abilinux.EINVAL
	}
	total := int64(min(uint64(count), abilinux.MAX_RW_COUNT))

	buf := make([]byte, min(total, sendfileChunk))
	var done int64
	for done < total {
		chunk := buf[:min(total-done, int64(len(buf)))]
		ropts := vfs.ReadOptions{Nonblocking: done > 0}
		var n int64
		var rerr error
		if offAddr != 0 {
			n, rerr = in.PRead(ctx, vfs.BytesIOSequence(chunk), pos, ropts)
		} else {
			n, rerr = in.Read(ctx, vfs.BytesIOSequence(chunk), ropts)
		}
		if n == 0 {
			if done == 0 && rerr != nil {
				err = rerr
			}
			break
		}
		w, werr := writeFully(ctx, out, chunk[:n])
		done += w
		pos += w
		if w < n {
			if offAddr == 0 && !in.IsStream() {
				in.Seek(ctx, w-n, abilinux.SEEK_CUR)
			}
			if werr == abilinux.EPIPE {
				sendSIGPIPE(t)
			}
			if done == 0 {
				err = werr
			}
			break
		}
		if rerr != nil {
			break
		}
	}
	if offAddr != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(pos))
		if _, cerr := t.CopyOut(offAddr, b[:]); cerr != nil {
			return 0, cerr
		}
	}
	if done > 0 {
		return uintptr(done), nil
	}
	return 0, err
}

// writeFully writes b, retrying short writes, until it is all written or
// the file reports an error.
func writeFully(ctx context.Context, f *vfs.FileDescription, b []byte) (int64, error) {
	var done int64
	for done < int64(len(b)) {
		n, err := f.Write(ctx, vfs.BytesIOSequence(b[done:]), vfs.WriteOptions{})
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, abilinux.EIO
		}
	}
	return done, nil
}
