package netstack

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Chunk sizes of stream queues: a big chunk for bulk transfers, a small
// one for writes that are small, so that idle connections holding a few
// bytes stay cheap.
const (
	bigChunk   = 64 << 10
	smallChunk = 4 << 10
)

var (
	bigChunks   = sync.Pool{New: func() any { return &chunk{buf: make([]byte, bigChunk)} }}
	smallChunks = sync.Pool{New: func() any { return &chunk{buf: make([]byte, smallChunk)} }}
)

// chunk is a piece of a stream queue. buf[r:w] are bytes written and not
// yet read; r and w are guarded by the owning connection's mu. The bytes
// themselves are copied without that lock: the one writer fills only
// buf[w:] and the one reader reads only buf[r:w].
type chunk struct {
	buf  []byte
	r, w int
}

func newChunk(want int) *chunk {
	if want <= smallChunk {
		return smallChunks.Get().(*chunk)
	}
	return bigChunks.Get().(*chunk)
}

func freeChunk(c *chunk) {
	c.r, c.w = 0, 0
	if len(c.buf) == smallChunk {
		smallChunks.Put(c)
	} else {
		bigChunks.Put(c)
	}
}

// streamQueue is the receive queue of one side of a TCP connection. Its
// fields are guarded by the connection's mu; one writer and one reader
// at a time (the sides' sendMu and recvMu) copy data in and out without
// it, so a sender and a receiver on two CPUs copy concurrently.
type streamQueue struct {
	chunks []*chunk
	// n is the number of readable bytes.
	n int
	// read is how many bytes were consumed since the connection began:
	// the stream position of the first readable byte (Linux's
	// copied_seq, counted from 0), which urgent data is placed by.
	read int64
	// writing is set while a writer fills the tail chunk, which the
	// reader must then not recycle.
	writing bool
	// reading is set while a reader copies out of the queue's chunks
	// without the lock: nothing else may consume bytes then.
	reading bool
}

// fill is a write in progress: the part of the tail chunk the writer
// owns and the new chunks it has filled.
type fill struct {
	tail  *chunk
	tailW int // tail.w when the write began
	tailN int // bytes written into tail
	extra []*chunk
	total int
}

// beginWrite starts a write. Called with the connection's mu held.
func (q *streamQueue) beginWrite() fill {
	q.writing = true
	var f fill
	if l := len(q.chunks); l > 0 {
		if t := q.chunks[l-1]; t.w < len(t.buf) {
			f.tail, f.tailW = t, t.w
		}
	}
	return f
}

// copyIn fills up to max bytes from src, without the connection's mu.
// It returns what it copied and the error that stopped it short.
func (f *fill) copyIn(ctx context.Context, src vfs.IOSequence, max int) error {
	if f.tail != nil {
		room := f.tail.buf[f.tailW:]
		room = room[:min(len(room), max)]
		n, err := src.CopyIn(ctx, room)
		f.tailN, f.total = n, n
		if err != nil || n < len(room) {
			return copyErr(err)
		}
		src = src.DropFirst(int64(n))
	}
	for f.total < max {
		c := newChunk(max - f.total)
		want := min(len(c.buf), max-f.total)
		n, err := src.CopyIn(ctx, c.buf[:want])
		if n > 0 {
			c.w = n
			f.extra = append(f.extra, c)
			f.total += n
		} else {
			freeChunk(c)
		}
		if err != nil || n < want {
			return copyErr(err)
		}
		src = src.DropFirst(int64(n))
	}
	return nil
}

// copyErr is the error of a copy that stopped short.
func copyErr(err error) error {
	if err == nil {
		return linux.EFAULT
	}
	return err
}

// commit makes a fill's bytes readable. Called with the connection's mu
// held.
func (q *streamQueue) commit(f *fill) {
	if f.tail != nil {
		f.tail.w += f.tailN
	}
	q.chunks = append(q.chunks, f.extra...)
	q.n += f.total
	q.writing = false
}

// maxSegs bounds how many chunks one read round copies.
const maxSegs = 16

// peekSegments returns up to max readable bytes as slices of the queue's
// chunks, starting skip bytes in. Called with the connection's mu held;
// the slices stay valid until the reader consumes them.
func (q *streamQueue) peekSegments(skip, max int, segs [][]byte) [][]byte {
	for _, c := range q.chunks {
		if max == 0 || len(segs) == cap(segs) {
			break
		}
		b := c.buf[c.r:c.w]
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		b = b[skip:]
		skip = 0
		b = b[:min(len(b), max)]
		segs = append(segs, b)
		max -= len(b)
	}
	return segs
}

// consume drops the first n readable bytes and recycles the chunks that
// are used up. Called with the connection's mu held.
func (q *streamQueue) consume(n int) {
	q.n -= n
	q.read += int64(n)
	i := 0
	for i < len(q.chunks) {
		c := q.chunks[i]
		take := min(n, c.w-c.r)
		c.r += take
		n -= take
		if c.r < c.w {
			break
		}
		if i == len(q.chunks)-1 && q.writing {
			// The writer may be filling the rest of this chunk.
			break
		}
		freeChunk(c)
		q.chunks[i] = nil
		i++
	}
	q.chunks = q.chunks[i:]
	if len(q.chunks) == 0 {
		q.chunks = nil
	}
}

// drain frees every chunk (the socket is gone). Called with the
// connection's mu held and no reader or writer copying.
func (q *streamQueue) drain() {
	if q.writing {
		// The writer's fill refers to the tail; leave the queue to
		// it, it will find the connection closed.
		return
	}
	for _, c := range q.chunks {
		freeChunk(c)
	}
	q.read += int64(q.n)
	q.chunks, q.n = nil, 0
}

// byteAt returns the readable byte off bytes in (off < n). Called with
// the connection's mu held.
func (q *streamQueue) byteAt(off int) byte {
	var seg [1][]byte
	return q.peekSegments(off, 1, seg[:0])[0][0]
}
