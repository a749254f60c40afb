package devpts

// byteQueue is a FIFO of bytes: data is appended at the back and consumed
// from the front. Consumed space is reclaimed when it outweighs the data.
//
// +stateify savable
type byteQueue struct {
	buf  []byte
	head int
}

func (q *byteQueue) len() int { return len(q.buf) - q.head }

// data returns the queued bytes, valid until the next modification.
func (q *byteQueue) data() []byte { return q.buf[q.head:] }

func (q *byteQueue) push(b ...byte) { q.buf = append(q.buf, b...) }

// drop consumes the first n bytes.
func (q *byteQueue) drop(n int) {
	q.head += n
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > len(q.buf)/2 && q.head > 1024 {
		q.buf = append(q.buf[:0], q.buf[q.head:]...)
		q.head = 0
	}
}

// truncate drops the last n bytes.
func (q *byteQueue) truncate(n int) { q.buf = q.buf[:len(q.buf)-n] }

func (q *byteQueue) reset() { q.buf, q.head = nil, 0 }
