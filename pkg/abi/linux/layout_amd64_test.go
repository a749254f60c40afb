package linux

// amd64's packed epoll_event has no padding.
var epollTheirsPadding []string
