package ollamatest

import "syscall"

// sysProcAttr puts the server in its own process group (its runners join it)
// and has the kernel send it SIGTERM if the thread that started it, and so
// normally the test binary, dies without running the test's cleanups (e.g.
// killed, or a -timeout panic). SIGTERM rather than SIGKILL: on SIGTERM the
// server stops its runners before exiting; killed, it would leave them behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// signalGroup sends sig to every process in the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}

// groupAlive reports whether any process, zombies included, is left in the
// process group led by pid.
func groupAlive(pid int) bool {
	return syscall.Kill(-pid, 0) != syscall.ESRCH
}
