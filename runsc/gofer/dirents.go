package gofer

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// direntBufMax keeps a Getdents64 reply within one message: an entry's
// wire form is never longer than its linux_dirent64 record, so reading at
// most this many host bytes yields at most this many body bytes.
const direntBufMax = lisafs.MaxBodySize - 64

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufMax); return &b }}

// Getdents64 implements lisafs.Session.Getdents64. Cookies are the host's
// d_off values, which lseek on a directory accepts; they stay valid while
// entries come and go, so a listing resumes where it left off.
func (s *session) Getdents64(req *lisafs.Getdents64Req) (*lisafs.Getdents64Resp, error) {
	h, err := s.get(req.FD)
	if err != nil {
		return nil, err
	}
	defer s.put(h)
	if !h.isDir() {
		return nil, linux.ENOTDIR
	}
	if int64(req.Cookie) < 0 {
		return nil, linux.EINVAL
	}
	count := min(int(req.Count), direntBufMax)

	h.dirMu.Lock()
	defer h.dirMu.Unlock()
	if h.dirFD < 0 {
		fd, err := unix.Openat(h.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		h.dirFD = fd
	}
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := (*bp)[:count]

	resp := &lisafs.Getdents64Resp{}
	cookie := int64(req.Cookie)
	// A batch holding only "." and ".." is skipped so that an empty reply
	// always means the end.
	for len(resp.Dirents) == 0 {
		if _, err := unix.Seek(h.dirFD, cookie, unix.SEEK_SET); err != nil {
			return nil, err
		}
		n, err := unix.Getdents(h.dirFD, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64 { u64 ino; s64 off; u16 reclen;
			// u8 type; char name[]; }
			const nameOff = 19
			if len(b) < nameOff {
				return nil, linux.EIO
			}
			reclen := int(binary.LittleEndian.Uint16(b[16:]))
			if reclen < nameOff || reclen > len(b) {
				return nil, linux.EIO
			}
			de := lisafs.Dirent{
				Ino:  binary.LittleEndian.Uint64(b[0:]),
				Off:  binary.LittleEndian.Uint64(b[8:]),
				Type: b[18],
				Name: cString(b[nameOff:reclen]),
			}
			cookie = int64(de.Off)
			b = b[reclen:]
			if de.Name == "." || de.Name == ".." {
				continue
			}
			resp.Dirents = append(resp.Dirents, de)
		}
	}
	return resp, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
