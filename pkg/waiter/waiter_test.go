package waiter

import (
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestBitsMatchPoll(t *testing.T) {
	if EventIn != 1 || EventOut != 4 || EventErr != 8 || EventHUp != 0x10 || EventRdHUp != 0x2000 {
		t.Fatal("event bits differ from poll(2)")
	}
	if EventRdHUp != linux.POLLRDHUP {
		t.Fatal("RDHUP")
	}
}

func TestNotifyMaskFiltering(t *testing.T) {
	var q Queue
	in, inCh := NewChannelEntry(EventIn)
	out, outCh := NewChannelEntry(EventOut)
	q.EventRegister(in)
	q.EventRegister(out)
	q.Notify(EventOut)
	select {
	case <-inCh:
		t.Error("EventIn waiter woken by EventOut")
	default:
	}
	select {
	case <-outCh:
	default:
		t.Error("EventOut waiter not woken")
	}
	// Hang-up reaches everyone, asked for or not.
	q.Notify(EventHUp)
	for _, c := range []<-chan struct{}{inCh, outCh} {
		select {
		case <-c:
		default:
			t.Error("EventHUp not delivered")
		}
	}
	if got := q.Events(); got != EventIn|EventOut {
		t.Errorf("Events() = %#x", got)
	}
	q.EventUnregister(in)
	q.EventUnregister(in) // no-op
	q.Notify(EventIn)
	select {
	case <-inCh:
		t.Error("unregistered entry notified")
	default:
	}
	q.EventUnregister(out)
	if !q.IsEmpty() {
		t.Error("queue not empty")
	}
}

func TestUnregisterMiddleKeepsOrder(t *testing.T) {
	var q Queue
	var got []int
	es := make([]*Entry, 3)
	for i := range es {
		es[i] = &Entry{}
		es[i].Init(FuncListener(func(EventMask) { got = append(got, i) }), EventIn)
		q.EventRegister(es[i])
	}
	q.EventUnregister(es[1])
	q.Notify(EventIn)
	if len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("notified %v", got)
	}
}

func TestConcurrentRegisterNotify(t *testing.T) {
	var q Queue
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				e, _ := NewChannelEntry(EventIn)
				q.EventRegister(e)
				q.Notify(EventIn)
				q.EventUnregister(e)
			}
		}()
	}
	wg.Wait()
	if !q.IsEmpty() {
		t.Error("entries left")
	}
}
