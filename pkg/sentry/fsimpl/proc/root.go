package proc

import (
	"context"
	"strconv"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

const rootIno = 1

// rootContents is /proc: the system files, then one directory per
// thread group visible in the instance's PID namespace.
type rootContents struct {
	fs     *filesystem
	static *staticContents
}

func (fs *filesystem) newRoot() *dir {
	fs.nextStaticIno.Store(rootIno)
	s := newStaticContents()
	rc := &rootContents{fs: fs, static: s}
	root := fs.newDir(rootIno, rootIno, 0555, nil, rc)

	s.add("self", fs.newSymlink(fs.staticIno(), nil, linkFunc(fs.selfLink)))
	s.add("thread-self", fs.newSymlink(fs.staticIno(), nil, linkFunc(fs.threadSelfLink)))
	s.add("mounts", fs.newSymlink(fs.staticIno(), nil, linkFunc(func(context.Context) (string, error) { return "self/mounts", nil })))
	s.add("net", fs.newSymlink(fs.staticIno(), nil, linkFunc(func(context.Context) (string, error) { return "self/net", nil })))
	for _, f := range fs.systemFiles() {
		s.add(f.name, fs.newFile(fs.staticIno(), 0444, nil, f.gen))
	}
	s.add("sys", fs.newSysDir(rootIno))
	return root
}

// selfLink is /proc/self's target: the reader's TGID in this namespace.
// Kernel work and tasks outside the namespace get ENOENT, as on Linux.
func (fs *filesystem) selfLink(ctx context.Context) (string, error) {
	t := readerTask(ctx)
	if t == nil {
		return "", linux.ENOENT
	}
	id := t.ThreadGroup().ProcID(fs.ns)
	if id == 0 {
		return "", linux.ENOENT
	}
	return strconv.Itoa(int(id)), nil
}

// threadSelfLink is /proc/thread-self's target: "TGID/task/TID".
func (fs *filesystem) threadSelfLink(ctx context.Context) (string, error) {
	t := readerTask(ctx)
	if t == nil {
		return "", linux.ENOENT
	}
	tgid, tid := t.ThreadGroup().ProcID(fs.ns), t.ProcID(fs.ns)
	if tgid == 0 || tid == 0 {
		return "", linux.ENOENT
	}
	return strconv.Itoa(int(tgid)) + "/task/" + strconv.Itoa(int(tid)), nil
}

// pidOffsetBase puts the PID entries after the static ones: a PID's
// offset is the base plus the PID, so it survives other processes
// coming and going.
const pidOffsetBase = 1 << 10

func (rc *rootContents) list(ctx context.Context) []dirent {
	out := rc.static.list(ctx)
	for _, id := range rc.fs.k.ProcThreadGroupIDs(rc.fs.ns) {
		out = append(out, dirent{
			name: strconv.Itoa(int(id)),
			mode: linux.S_IFDIR,
			ino:  taskIno(inoSpacePID, id, 0),
			off:  pidOffsetBase + int64(id),
		})
	}
	return out
}

func (rc *rootContents) lookup(ctx context.Context, name string) (vfs.Inode, error) {
	if n, err := rc.static.lookup(ctx, name); err == nil {
		return n, nil
	}
	id, ok := parseID(name)
	if !ok {
		return nil, linux.ENOENT
	}
	tg := rc.fs.k.ProcThreadGroup(rc.fs.ns, id)
	if tg == nil {
		return nil, linux.ENOENT
	}
	return rc.fs.newProcessDir(tg, id), nil
}

// valid keeps a /proc/PID dentry while that PID still names the same
// thread group.
func (rc *rootContents) valid(ctx context.Context, name string, child vfs.Inode) bool {
	d, ok := child.(*dir)
	if !ok {
		return true
	}
	pc, ok := d.contents.(*taskContents)
	if !ok {
		return true
	}
	id, _ := parseID(name)
	return rc.fs.k.ProcThreadGroup(rc.fs.ns, id) == pc.tg
}

// parseID parses a PID or descriptor number in canonical decimal form
// ("1", not "01" or "+1").
func parseID(name string) (kernel.ThreadID, bool) {
	if name == "" || (len(name) > 1 && name[0] == '0') {
		return 0, false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name, 10, 32)
	if err != nil || n <= 0 && name != "0" {
		return 0, false
	}
	return kernel.ThreadID(n), true
}
