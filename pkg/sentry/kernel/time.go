package kernel

import "time"

// clockTick is the USER_HZ unit of times(2), clock_t fields and siginfo's
// utime/stime: 100 Hz on every Linux architecture.
const clockTick = 10 * time.Millisecond
