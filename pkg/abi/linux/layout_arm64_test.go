package linux

// x/sys names the alignment padding of arm64's unpacked epoll_event.
var epollTheirsPadding = []string{"padfd"}
