/* The tether's console-relay mode (console-relay.c): `runc exec` with a terminal, for the host. */
#ifndef TETHER_CONSOLE_RELAY_H
#define TETHER_CONSOLE_RELAY_H

/* Listens on sock_path, runs argv (runc exec --detach … --console-socket sock_path --pid-file
 * pid_file), relays stdin and stdout with the pty master it is handed, resizes from fd 3;
 * returns the exec'd process's exit code. */
int console_relay(const char *sock_path, const char *pid_file, char **argv);

#endif
