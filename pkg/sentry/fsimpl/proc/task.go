package proc

import (
	"context"
	"strconv"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// taskContents is /proc/PID (a process, described through its leader)
// or /proc/PID/task/TID (one thread).
type taskContents struct {
	fs *filesystem
	tg *kernel.ThreadGroup
	// t is the task the files describe.
	t *kernel.Task
	// id is the TGID or TID in the instance's namespace.
	id kernel.ThreadID
	// process is set for /proc/PID, clear for /proc/PID/task/TID.
	process bool
	static  *staticContents
}

func (fs *filesystem) newProcessDir(tg *kernel.ThreadGroup, id kernel.ThreadID) *dir {
	return fs.newTaskDir(tg, tg.Leader(), id, inoSpacePID, rootIno, true)
}

func (fs *filesystem) newThreadDir(tg *kernel.ThreadGroup, t *kernel.Task, tid kernel.ThreadID, parentIno uint64) *dir {
	return fs.newTaskDir(tg, t, tid, inoSpaceTask, parentIno, false)
}

func (fs *filesystem) newTaskDir(tg *kernel.ThreadGroup, t *kernel.Task, id kernel.ThreadID, space, parentIno uint64, process bool) *dir {
	tc := &taskContents{fs: fs, tg: tg, t: t, id: id, process: process, static: newStaticContents()}
	self := taskIno(space, id, 0)
	d := fs.newDir(self, parentIno, 0555, t, tc)
	idx := uint64(0)
	ino := func() uint64 {
		idx++
		return taskIno(space, id, idx)
	}
	s := tc.static
	if process {
		s.add("task", fs.newDir(ino(), self, 0555, t, &threadsContents{fs: fs, tg: tg}))
	}
	fdDir := fs.newDir(ino(), self, 0500, t, &fdContents{fs: fs, t: t, id: id})
	fdDir.needsAccess = true
	s.add("fd", fdDir)
	fdinfoDir := fs.newDir(ino(), self, 0500, t, &fdContents{fs: fs, t: t, id: id, info: true})
	fdinfoDir.needsAccess = true
	s.add("fdinfo", fdinfoDir)
	private := func(name string, gen generator) {
		f := fs.newFile(ino(), 0400, t, gen)
		f.needsAccess = true
		s.add(name, f)
	}
	public := func(name string, gen generator) { s.add(name, fs.newFile(ino(), 0444, t, gen)) }
	private("environ", &environData{t: t})
	private("auxv", &auxvData{t: t})
	public("status", &statusData{fs: fs, t: t})
	public("comm", &commData{t: t})
	public("cmdline", &cmdlineData{t: t})
	public("stat", &statData{fs: fs, t: t, process: process})
	public("statm", &statmData{t: t})
	maps := fs.newFile(ino(), 0444, t, &mapsData{t: t})
	maps.needsAccess = true
	s.add("maps", maps)
	s.add("mem", fs.newMemFile(ino(), t))
	s.add("cwd", fs.newMagicLink(ino(), t, &fsContextLink{fs: fs, t: t, root: false}))
	s.add("root", fs.newMagicLink(ino(), t, &fsContextLink{fs: fs, t: t, root: true}))
	s.add("exe", fs.newMagicLink(ino(), t, &exeLink{fs: fs, t: t}))
	public("mounts", &mountsData{fs: fs, t: t})
	public("mountinfo", &mountsData{fs: fs, t: t, info: true})
	public("cgroup", generatorFunc(cgroupData))
	s.add("net", fs.newNetDir(ino, self, t)) // net.go
	return d
}

// ProcessDirThreadGroup returns the process that file, an open /proc/PID
// directory, names: the thread group PID stood for when the directory was
// looked up, so a PID reused since is not followed. It returns nil for any
// other file, including /proc/PID/task/TID, the other procfs files and
// O_PATH descriptors (which are not opens of the directory). Linux lets
// pidfd_send_signal(2) take such a directory as a pidfd.
func ProcessDirThreadGroup(file *vfs.FileDescription) *kernel.ThreadGroup {
	fd, ok := file.Impl().(*dirFD)
	if !ok {
		return nil
	}
	tc, ok := fd.dir.contents.(*taskContents)
	if !ok || !tc.process {
		return nil
	}
	return tc.tg
}

func (tc *taskContents) list(ctx context.Context) []dirent { return tc.static.list(ctx) }

func (tc *taskContents) lookup(ctx context.Context, name string) (vfs.Inode, error) {
	return tc.static.lookup(ctx, name)
}

func (tc *taskContents) valid(context.Context, string, vfs.Inode) bool { return true }

// threadsContents is /proc/PID/task: one directory per live thread.
type threadsContents struct {
	fs *filesystem
	tg *kernel.ThreadGroup
}

func (c *threadsContents) list(context.Context) []dirent {
	var out []dirent
	for _, tid := range c.tg.ProcTaskIDs(c.fs.ns) {
		out = append(out, dirent{name: strconv.Itoa(int(tid)), mode: linux.S_IFDIR, ino: taskIno(inoSpaceTask, tid, 0), off: 2 + int64(tid)})
	}
	return out
}

func (c *threadsContents) lookup(_ context.Context, name string) (vfs.Inode, error) {
	tid, ok := parseID(name)
	if !ok {
		return nil, linux.ENOENT
	}
	t := c.tg.ProcTask(c.fs.ns, tid)
	if t == nil {
		return nil, linux.ENOENT
	}
	parent := c.tg.ProcID(c.fs.ns)
	return c.fs.newThreadDir(c.tg, t, tid, taskIno(inoSpacePID, parent, 1)), nil
}

func (c *threadsContents) valid(_ context.Context, name string, child vfs.Inode) bool {
	d, ok := child.(*dir)
	if !ok {
		return false
	}
	tid, _ := parseID(name)
	return c.tg.ProcTask(c.fs.ns, tid) == d.task
}

// readerRoot returns, with a reference, the root that paths in /proc are
// shown relative to: the reader's root directory, or the target's when
// the kernel itself reads.
func readerRoot(ctx context.Context, target *kernel.Task) (vfs.VirtualDentry, bool) {
	for _, t := range []*kernel.Task{readerTask(ctx), target} {
		if t == nil {
			continue
		}
		if fsc := t.ProcFSContext(); fsc != nil {
			return fsc.RootDirectory(), true
		}
	}
	return vfs.VirtualDentry{}, false
}

// fsContextLink is /proc/PID/cwd or root.
type fsContextLink struct {
	fs   *filesystem
	t    *kernel.Task
	root bool
}

func (l *fsContextLink) getLink(context.Context) (vfs.VirtualDentry, error) {
	fsc := l.t.ProcFSContext()
	if fsc == nil {
		return vfs.VirtualDentry{}, linux.ENOENT
	}
	if l.root {
		return fsc.RootDirectory(), nil
	}
	return fsc.WorkingDirectory(), nil
}

func (l *fsContextLink) readlink(ctx context.Context) (string, error) {
	vd, err := l.getLink(ctx)
	if err != nil {
		return "", err
	}
	defer vd.DecRef()
	return pathFromReader(ctx, l.fs, l.t, vd)
}

// pathFromReader renders vd as the reader sees it.
func pathFromReader(ctx context.Context, fs *filesystem, target *kernel.Task, vd vfs.VirtualDentry) (string, error) {
	root, ok := readerRoot(ctx, target)
	if !ok {
		return "", linux.ENOENT
	}
	defer root.DecRef()
	return fs.vfs().PathnameWithDeleted(root, vd), nil
}

// exeLink is /proc/PID/exe: the file the program was loaded from.
type exeLink struct {
	fs *filesystem
	t  *kernel.Task
}

func (l *exeLink) getLink(context.Context) (vfs.VirtualDentry, error) {
	vd, ok := l.t.ProcExecutable()
	if !ok {
		return vfs.VirtualDentry{}, linux.ENOENT
	}
	vd.IncRef()
	return vd, nil
}

func (l *exeLink) readlink(ctx context.Context) (string, error) {
	vd, err := l.getLink(ctx)
	if err != nil {
		return "", err
	}
	defer vd.DecRef()
	return pathFromReader(ctx, l.fs, l.t, vd)
}
