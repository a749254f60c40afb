package vfs

import (
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// pathname builds vd's path as seen from root. reachable is false when
// the walk up from vd never met root (vd is outside a chroot, or on a
// detached mount); the path is then relative to the top reached.
func (vfs *VirtualFilesystem) pathname(root, vd VirtualDentry) (path string, reachable bool) {
	vfs.renameMu.RLock()
	defer vfs.renameMu.RUnlock()
	var parts []string
	for vd != root {
		if vd.dentry == vd.mount.root {
			vfs.mountMu.RLock()
			p, pt := vd.mount.parent, vd.mount.point
			vfs.mountMu.RUnlock()
			if p == nil {
				break
			}
			vd = VirtualDentry{p, pt}
			continue
		}
		if vd.dentry.parent == nil {
			if vd.dentry.disconnected {
				return vd.dentry.name, false
			}
			break
		}
		parts = append(parts, vd.dentry.name)
		vd.dentry = vd.dentry.parent
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String(), vd == root
}

// PathnameWithDeleted returns vd's path from root as /proc/self/fd links
// and /proc/self/maps show it: with " (deleted)" after an unlinked file,
// and the bare name of an anonymous file ("pipe:[12]").
func (vfs *VirtualFilesystem) PathnameWithDeleted(root, vd VirtualDentry) string {
	if vd.dentry.disconnected {
		return vd.dentry.name
	}
	p, _ := vfs.pathname(root, vd)
	if vd.dentry.IsDead() {
		p += " (deleted)"
	}
	return p
}

// PathnameForGetcwd returns vd's path for getcwd(2): ENOENT if vd was
// removed, and a path prefixed "(unreachable)" if it is outside root.
func (vfs *VirtualFilesystem) PathnameForGetcwd(root, vd VirtualDentry) (string, error) {
	if vd.dentry.IsDead() {
		return "", linux.ENOENT
	}
	p, ok := vfs.pathname(root, vd)
	if !ok {
		p = "(unreachable)" + p
	}
	return p, nil
}
