package vfs

// TryIncRef takes a reference unless the last one is already gone. Epoll
// uses it to watch files without keeping them open: a Linux epoll
// registration does not hold its file, and ends when the file's last
// descriptor is closed.
func (fd *FileDescription) TryIncRef() bool {
	for {
		n := fd.refs.Load()
		if n <= 0 {
			return false
		}
		if fd.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}
