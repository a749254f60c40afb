package proc

import (
	"bytes"
	"context"
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// addIPCSysctls adds the System V IPC limits of /proc/sys/kernel
// (shmmax, shmall, shmmni, sem, msgmax, msgmnb, msgmni). Each shows the
// limits of the reading task's IPC namespace; they are read-only.
func (fs *filesystem) addIPCSysctls(kern *staticContents) {
	ns := func(ctx context.Context) *kernel.IPCNamespace {
		if t := readerTask(ctx); t != nil {
			return t.IPCNamespace()
		}
		return fs.k.RootIPCNamespace()
	}
	add := func(name string, f func(*kernel.IPCNamespace) string) {
		kern.add(name, fs.newFile(fs.staticIno(), 0444, nil, generatorFunc(func(ctx context.Context, b *bytes.Buffer) error {
			b.WriteString(f(ns(ctx)))
			b.WriteByte('\n')
			return nil
		})))
	}
	add("shmmax", func(n *kernel.IPCNamespace) string { m, _, _ := n.Shm.Limits(); return fmt.Sprint(m) })
	add("shmall", func(n *kernel.IPCNamespace) string { _, a, _ := n.Shm.Limits(); return fmt.Sprint(a) })
	add("shmmni", func(n *kernel.IPCNamespace) string { _, _, m := n.Shm.Limits(); return fmt.Sprint(m) })
	add("sem", func(n *kernel.IPCNamespace) string {
		l := n.Sem.Limits()
		return fmt.Sprintf("%d\t%d\t%d\t%d", l[0], l[1], l[2], l[3])
	})
	add("msgmax", func(n *kernel.IPCNamespace) string { m, _, _ := n.Msg.Limits(); return fmt.Sprint(m) })
	add("msgmnb", func(n *kernel.IPCNamespace) string { _, m, _ := n.Msg.Limits(); return fmt.Sprint(m) })
	add("msgmni", func(n *kernel.IPCNamespace) string { _, _, m := n.Msg.Limits(); return fmt.Sprint(m) })
}
