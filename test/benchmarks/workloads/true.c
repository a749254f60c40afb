/*
 * true: a static program that does nothing and exits 0. fork_exec_wait
 * execs it, and the harness times `runsc do` on it, so both measure
 * process creation and not the work of the program.
 */
int main(void) { return 0; }
