package cgroupfs

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Every task of the sandbox is in the container's cgroup. Linux lists a
// cgroup's members with IDs from the reader's PID namespace; those it
// cannot see there it lists as 0, which tells nothing, so here they are
// left out. Exited tasks are not members: a zombie process, whose
// threads have all exited, is not listed, as on Linux.

// readerPIDNamespace is the PID namespace of the task reading, or the
// root one for reads on no task's behalf.
func (fs *filesystem) readerPIDNamespace(ctx context.Context) *kernel.PIDNamespace {
	if t := kernel.TaskFromContext(ctx); t != nil {
		return t.ThreadGroup().PIDNamespace()
	}
	return fs.ft.Kernel.RootPIDNamespace()
}

// liveGroups calls f with the TGID in ns and the live thread IDs of
// every process visible in ns that has a live thread.
func (fs *filesystem) liveGroups(ns *kernel.PIDNamespace, f func(tgid kernel.ThreadID, tids []kernel.ThreadID)) {
	k := fs.ft.Kernel
	for _, tgid := range k.ProcThreadGroupIDs(ns) {
		tg := k.ProcThreadGroup(ns, tgid)
		if tg == nil {
			continue
		}
		tids := tg.ProcTaskIDs(ns)
		// ProcTaskIDs gives a zombie group its leader; a group whose
		// only ID is its leader's may be either.
		if len(tids) == 1 && tids[0] == tgid {
			if l := tg.ProcTask(ns, tgid); l == nil || l.ProcStatus(ns, nil).Threads == 0 {
				continue
			}
		}
		f(tgid, tids)
	}
}

// procs is cgroup.procs: the members' TGIDs, one a line, ascending.
func (fs *filesystem) procs(ctx context.Context) (string, error) {
	var ids []kernel.ThreadID
	fs.liveGroups(fs.readerPIDNamespace(ctx), func(tgid kernel.ThreadID, _ []kernel.ThreadID) {
		ids = append(ids, tgid)
	})
	return idLines(ids), nil
}

// threads is cgroup.threads: the members' TIDs, one a line, ascending.
func (fs *filesystem) threads(ctx context.Context) (string, error) {
	var ids []kernel.ThreadID
	fs.liveGroups(fs.readerPIDNamespace(ctx), func(_ kernel.ThreadID, tids []kernel.ThreadID) {
		ids = append(ids, tids...)
	})
	slices.Sort(ids)
	return idLines(ids), nil
}

func idLines(ids []kernel.ThreadID) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(int(id)))
		b.WriteByte('\n')
	}
	return b.String()
}
